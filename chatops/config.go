package chatops

import (
	"errors"
	"fmt"
	"github.com/botwarden/botwarden/internal/secret"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// DefaultAPIURL is Slack's own Web API base URL.
const DefaultAPIURL = "https://slack.com/api/"

// DefaultCommand is the slash command the adapter answers by default.
const DefaultCommand = "/warden"

// Secret is a credential; it prints, marshals and logs as [REDACTED]
// (see package secret).
type Secret = secret.Secret

// Clock is the adapter's source of time; tests pass a fake.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Config configures the adapter. Reading it from the environment
// (SLACK_API_URL, SLACK_BOT_TOKEN, SLACK_APP_TOKEN, SLACK_SIGNING_SECRET)
// is cmd/botwarden's job; see docs/slack.md.
type Config struct {
	APIURL        string // Slack Web API base URL, with trailing slash; DefaultAPIURL if empty
	BotToken      Secret // xoxb-…: Web API calls
	AppToken      Secret // xapp-…: Socket Mode; empty means HTTP mode
	SigningSecret Secret // verifies HTTP-mode requests

	Command          string   // slash command, DefaultCommand if empty
	AuditChannel     string   // channel id for notifications and checkpoints; empty disables them
	ApproversChannel string   // where second-person challenges go; empty: the requesting channel
	AllowedChannels  []string // if set, commands from other channels are refused before parsing
	RunbookBaseURL   string   // base for runbook links ("…/runbooks/"); reasons append "<reason>.md"

	// AckBudget is how long a handler waits for the core before it
	// acknowledges and finishes asynchronously. Default 2s: Slack gives 3.
	AckBudget time.Duration
	// CheckpointInterval batches ledger checkpoints posted to the audit
	// channel. Default 10 minutes.
	CheckpointInterval time.Duration
	// ReplayWindow is how old a signed request may be. Default 5 minutes.
	ReplayWindow time.Duration
	// HomeRefresh is the least time between two refreshes of the App Home
	// tabs after state changes. Default 2s.
	HomeRefresh time.Duration

	Clock Clock // default: the system clock
}

// ErrConfig is returned (wrapped) by New for an unusable configuration.
var ErrConfig = errors.New("chatops: invalid config")

func (c Config) withDefaults() (Config, error) {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if !strings.HasSuffix(c.APIURL, "/") {
		c.APIURL += "/"
	}
	if c.Command == "" {
		c.Command = DefaultCommand
	}
	if !strings.HasPrefix(c.Command, "/") {
		return c, fmt.Errorf("%w: command %q must start with /", ErrConfig, c.Command)
	}
	if c.AckBudget <= 0 {
		c.AckBudget = 2 * time.Second
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = 10 * time.Minute
	}
	if c.HomeRefresh <= 0 {
		c.HomeRefresh = 2 * time.Second
	}
	if c.ReplayWindow <= 0 {
		c.ReplayWindow = 5 * time.Minute
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.BotToken == "" {
		return c, fmt.Errorf("%w: bot token is required", ErrConfig)
	}
	if c.AppToken == "" && c.SigningSecret == "" {
		return c, fmt.Errorf("%w: need a signing secret (HTTP mode) or an app token (Socket Mode)", ErrConfig)
	}
	return c, nil
}

// SocketMode reports whether the configuration selects Socket Mode (an app
// token is set). Without one the adapter serves HTTP mode.
func (c Config) SocketMode() bool { return c.AppToken != "" }

// MarshalZerologObject logs the configuration without its secrets.
func (c Config) MarshalZerologObject(e *zerolog.Event) {
	e.Str("api_url", c.APIURL).Str("command", c.Command).
		Str("audit_channel", c.AuditChannel).Str("approvers_channel", c.ApproversChannel).
		Bool("bot_token_set", c.BotToken != "").Bool("app_token_set", c.AppToken != "").
		Bool("signing_secret_set", c.SigningSecret != "").Bool("socket_mode", c.SocketMode())
}
