package main

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed demo/config.yaml
var demoConfig []byte

// Config is the service configuration (`botwarden serve --config FILE`).
// It never holds a secret value: secrets are named by environment
// variable (`*_env`) or file (`*_file`) and read at start.
type Config struct {
	Environment string       `yaml:"environment"`
	DataDir     string       `yaml:"data_dir"`
	Listen      ListenConfig `yaml:"listen"`
	PolicyFile  string       `yaml:"policy_file"`
	StopTimeout Duration     `yaml:"stop_timeout"`
	Runbooks    string       `yaml:"runbook_base_url"`
	// LogLevel is the least severe log line written: debug, info (default),
	// warn or error. Debug adds every signed checkpoint and Socket Mode's
	// chatter; warnings and errors are never dropped at info.
	LogLevel string `yaml:"log_level"`
	// LedgerReserveMB is the free space (MiB) the ledger keeps on its file
	// system: below it appends are refused (dangerous ops with them) and
	// /readyz turns false, before a full disk can corrupt anything.
	LedgerReserveMB int           `yaml:"ledger_reserve_mb"`
	Bots            []BotConfig   `yaml:"bots"`
	Slack           SlackConfig   `yaml:"slack"`
	Safety          SafetyConfig  `yaml:"safety"`
	Demo            DemoConfig    `yaml:"demo"`
	Bundles         BundlesConfig `yaml:"bundles"`
	API             APIConfig     `yaml:"api"`
	// Actions configures the outside systems non-bot operations run
	// through (kill-switch push, gate override, monitoring disable, secret
	// rotation, data ops): op name -> exec or http shape, see
	// docs/drivers.md. Without it those ops are denied, except kill-switch
	// changes, which Botwarden records, enforces and publishes itself.
	Actions map[string]any `yaml:"actions"`

	// dir is the folder relative paths in the file are resolved against.
	dir string
	// digest is "sha256:" and the hex SHA-256 of the file's bytes, which
	// every start records in the ledger.
	digest string
}

// APIConfig tunes the operator API's per-actor rate limit (429 with
// Retry-After past it).
type APIConfig struct {
	RatePerActor float64 `yaml:"rate_per_actor"` // sustained requests per second (default 20)
	Burst        int     `yaml:"burst"`          // requests allowed at once (default 40)
	MaxStreams   int     `yaml:"max_streams"`    // open /v1/events streams per actor (default 8)
}

// ListenConfig holds the listen addresses.
type ListenConfig struct {
	HTTP  string `yaml:"http"`  // /healthz, /readyz, /metrics, /slack/*, /v1/*
	Admin string `yaml:"admin"` // loopback-only admin endpoint for local CLI tools
	// Playground is the loopback-only local Slack stand-in, started only
	// in the dev environment when serve has no Slack credentials
	// (docs/playground.md).
	Playground string `yaml:"playground"`
	// TLSCert and TLSKey (PEM files) serve the main listener over TLS.
	// Required when listen.http is not a loopback address.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
}

// BotConfig declares one bot and the driver that controls it.
type BotConfig struct {
	ID     string         `yaml:"id"`
	Group  string         `yaml:"group"`
	Driver string         `yaml:"driver"` // sim, exec, http
	Sim    map[string]any `yaml:"sim"`
	Exec   map[string]any `yaml:"exec"`
	HTTP   map[string]any `yaml:"http"`
}

// SlackConfig configures the Slack adapter. Tokens come from the
// environment (SLACK_BOT_TOKEN, SLACK_APP_TOKEN, SLACK_SIGNING_SECRET).
type SlackConfig struct {
	Command          string `yaml:"command"`
	AuditChannel     string `yaml:"audit_channel"`
	ApproversChannel string `yaml:"approvers_channel"`
}

// SafetyConfig configures where safety state and gate results come from.
type SafetyConfig struct {
	PushTokenEnv string `yaml:"push_token_env"` // bearer token for PUT /v1/safety and /v1/gates
	SafetyFile   string `yaml:"safety_file"`    // watched JSON document
	GatesFile    string `yaml:"gates_file"`     // watched JSON document
}

// DemoConfig turns on the embedded demo's simulated safety feed.
type DemoConfig struct {
	SafetyFeed bool `yaml:"safety_feed"` // publish NORMAL + PASS gates with a short TTL
}

// BundlesConfig sets support-bundle retention.
type BundlesConfig struct {
	Keep   int      `yaml:"keep"`
	MaxAge Duration `yaml:"max_age"`
}

// Duration is a time.Duration written as "30s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (like 30s or 5m)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// errConfig marks a configuration the service refuses to start with.
var errConfig = errors.New("invalid configuration")

// loadConfig reads the config file, or the embedded demo when path is "".
func loadConfig(path string) (*Config, error) {
	data, dir := demoConfig, "."
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		data, dir = b, filepath.Dir(path)
	}
	cfg, err := parseConfig(data)
	if err != nil {
		if path == "" {
			path = "embedded demo config"
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sum := sha256.Sum256(data)
	cfg.dir, cfg.digest = dir, "sha256:"+hex.EncodeToString(sum[:])
	return cfg, nil
}

// parseConfig decodes and validates a config document. Unknown keys are
// errors, so a typo never silently falls back to a default.
func parseConfig(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("%w: %v", errConfig, err)
	}
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", errConfig, err)
	}
	return &cfg, nil
}

func (c *Config) defaults() {
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	if c.Listen.HTTP == "" {
		c.Listen.HTTP = "127.0.0.1:8080"
	}
	if c.Listen.Admin == "" {
		c.Listen.Admin = "127.0.0.1:0"
	}
	if c.Listen.Playground == "" {
		c.Listen.Playground = "127.0.0.1:8090"
	}
	if c.LedgerReserveMB == 0 {
		c.LedgerReserveMB = 64
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = Duration(30 * time.Second)
	}
	if c.Safety.PushTokenEnv == "" {
		c.Safety.PushTokenEnv = "BOTWARDEN_SAFETY_TOKEN"
	}
	if c.Slack.Command == "" {
		c.Slack.Command = "/warden"
	}
	if c.Bundles.Keep == 0 {
		c.Bundles.Keep = 20
	}
	if c.Bundles.MaxAge == 0 {
		c.Bundles.MaxAge = Duration(30 * 24 * time.Hour)
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
}

// checkLimits refuses numbers that would not mean what they say: a
// negative reserve wraps around to an impossible one, a negative bundle
// retention would prune every bundle, and a stop timeout under a second
// would report every stop as stuck.
func (c *Config) checkLimits() error {
	switch {
	case c.API.RatePerActor < 0 || c.API.Burst < 0 || c.API.MaxStreams < 0:
		return fmt.Errorf("api: rate_per_actor %v, burst %d and max_streams %d must not be negative", c.API.RatePerActor, c.API.Burst, c.API.MaxStreams)
	case c.LedgerReserveMB < 0:
		return fmt.Errorf("ledger_reserve_mb %d must not be negative", c.LedgerReserveMB)
	case time.Duration(c.StopTimeout) < time.Second:
		return fmt.Errorf("stop_timeout %s: want at least 1s", time.Duration(c.StopTimeout))
	case c.Bundles.Keep < 0 || c.Bundles.MaxAge < 0:
		return fmt.Errorf("bundles: keep %d and max_age %s must not be negative", c.Bundles.Keep, time.Duration(c.Bundles.MaxAge))
	}
	return nil
}

func (c *Config) validate() error {
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	switch c.Environment {
	case "dev", "stage", "prod":
	case "":
		return errors.New("environment is required (dev, stage or prod)")
	default:
		return fmt.Errorf("environment %q: want dev, stage or prod", c.Environment)
	}
	if c.PolicyFile == "" {
		return errors.New("policy_file is required")
	}
	if err := loopbackOnly("listen.admin", c.Listen.Admin); err != nil {
		return err
	}
	if err := c.Listen.checkTLS(); err != nil {
		return err
	}
	if err := loopbackOnly("listen.playground", c.Listen.Playground); err != nil {
		return err
	}
	if len(c.Bots) == 0 {
		return errors.New("bots: at least one bot is required")
	}
	seen := map[string]bool{}
	for i, b := range c.Bots {
		if b.ID == "" || strings.ContainsAny(b.ID, " :/\t") {
			return fmt.Errorf("bots[%d]: id %q must be non-empty with no spaces, ':' or '/'", i, b.ID)
		}
		if seen[b.ID] {
			return fmt.Errorf("bots[%d]: duplicate id %q", i, b.ID)
		}
		seen[b.ID] = true
		switch b.Driver {
		case "sim", "exec", "http":
		default:
			return fmt.Errorf("bots[%d] %s: driver %q: want sim, exec or http", i, b.ID, b.Driver)
		}
	}
	if err := c.checkLimits(); err != nil {
		return err
	}
	if c.Environment == "prod" && c.Demo.SafetyFeed {
		return errors.New("demo.safety_feed must not be enabled in prod: safety state comes from the safety system")
	}
	return nil
}

// path resolves p against the config file's folder.
func (c *Config) path(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "embedded:") {
		return p
	}
	return filepath.Join(c.dir, p)
}

// loopbackOnly refuses an address that is not on the loopback interface.
func loopbackOnly(name, addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: %v", name, addr, err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s %q: must be a loopback address (127.0.0.1 or [::1])", name, addr)
	}
	return nil
}

// checkTLS refuses a non-loopback main listener without TLS: the operator
// API and Slack endpoints carry bearer tokens and signed requests.
func (l ListenConfig) checkTLS() error {
	if (l.TLSCert == "") != (l.TLSKey == "") {
		return errors.New("listen.tls_cert and listen.tls_key go together: set both or neither")
	}
	if l.TLSCert == "" && loopbackOnly("listen.http", l.HTTP) != nil {
		return fmt.Errorf("listen.http %q is not a loopback address: binding it needs TLS (set listen.tls_cert and listen.tls_key) or bind 127.0.0.1", l.HTTP)
	}
	return nil
}
