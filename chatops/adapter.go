package chatops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
)

// Adapter is the Slack adapter. Create it with New, serve Handler (HTTP
// mode) or RunSocketMode, run Run for notifications, and Close it to wait
// for in-flight work.
type Adapter struct {
	cfg    Config
	core   Core
	ledger Ledger
	log    zerolog.Logger
	api    *slack.Client
	verify *verifier
	m      *metrics
	runID  string

	msgs    *messages     // challenge id -> its message
	audit   *auditThreads // command id -> audit-channel thread
	bundles sync.Map      // command id -> requester (channel, user) of a bundle
	ckpt    *checkpoints
	cache   *challengeCache // open challenges seen, for clicks that must not wait for the core
	me      identity        // the bot's Slack identity, for reading its own messages back
	homes   *homeViewers    // users whose App Home is kept fresh

	ctx    context.Context // parent of all asynchronous work
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns an adapter for cfg calling core. ledger may be nil (then
// /warden audit answers that the ledger is not wired). reg may be nil.
func New(cfg Config, c Core, ledger Ledger, log zerolog.Logger, reg prometheus.Registerer) (*Adapter, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("%w: core is required", ErrConfig)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Adapter{
		cfg: cfg, core: c, ledger: ledger, log: log, m: m, runID: newRunID(),
		api:    slack.New(cfg.BotToken.Reveal(), slack.OptionAPIURL(cfg.APIURL), slack.OptionAppLevelToken(cfg.AppToken.Reveal())),
		verify: newVerifier(cfg.SigningSecret, cfg.ReplayWindow, cfg.Clock),
		msgs:   newMessages(), audit: newAuditThreads(), ckpt: &checkpoints{}, cache: newChallengeCache(), homes: newHomeViewers(),
		ctx: ctx, cancel: cancel,
	}
	return a, nil
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+)
	return "slack-" + hex.EncodeToString(b[:])
}

// Close cancels asynchronous work still waiting on Slack and waits for all
// of it to end. Work already handed to the core finishes first: the core
// decides, the adapter only reports.
func (a *Adapter) Close() {
	a.cancel()
	a.wg.Wait()
}

// async runs fn in the background, tracked by Close.
func (a *Adapter) async(fn func(ctx context.Context)) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		fn(a.ctx)
	}()
}

// coreCtx is the context for calls into the core: not cancelled by Close,
// so an operation the core accepted is always finished and recorded.
func (a *Adapter) coreCtx() context.Context { return context.WithoutCancel(a.ctx) }
