package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/rs/zerolog"

	"github.com/botwarden/botwarden/bundle"
	"github.com/botwarden/botwarden/chatops"
	"github.com/botwarden/botwarden/docs/contracts"
	"github.com/botwarden/botwarden/internal/action"
	"github.com/botwarden/botwarden/internal/api"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/policy"
	"github.com/botwarden/botwarden/internal/source"
	"github.com/botwarden/botwarden/internal/token"
	"github.com/botwarden/botwarden/ledger"
)

// service is everything serve wires together.
type service struct {
	cfg     *Config
	log     zerolog.Logger
	reg     *prometheus.Registry
	ledger  *ledger.Log
	audit   *auditor
	engine  *core.Engine
	drivers *drivers
	slack   *chatops.Adapter // nil without Slack credentials
	play    *playgroundSvc   // the local playground: only without Slack credentials
	push    *source.Push     // nil without a push token
	watcher *source.Watcher  // nil without watched files
	kill    *source.KillSwitch
	secrets *secretSet
	tokens  *token.Store // operator API tokens
	api     *api.Server
	// policy is the policy in force; policyDigest its digest
	// (policy.Policy.Canonical), as every start records it and /healthz
	// shows it.
	policy       *policy.Policy
	policyDigest string
}

// build opens the ledger, replays it into the engine and builds every
// adapter the config asks for. Nothing listens yet.
func build(ctx context.Context, cfg *Config, env serveEnv) (*service, error) {
	secrets := &secretSet{}
	ring := bundle.NewRing(2000, 1<<20, secrets.scrub)
	svc := &service{cfg: cfg, reg: prometheus.NewRegistry(), secrets: secrets}
	svc.log = newLogger(env.logOut, ring, cfg.Environment, cfg.LogLevel)
	svc.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	pol, err := loadPolicy(cfg)
	if err != nil {
		return nil, err
	}
	svc.policy = pol
	_, svc.policyDigest = pol.Canonical()
	slackCfg := slackConfig(cfg, env.getenv)
	secrets.add(string(slackCfg.BotToken), string(slackCfg.AppToken), string(slackCfg.SigningSecret))
	pushToken := env.getenv(cfg.Safety.PushTokenEnv)
	secrets.add(pushToken)

	var slackRef atomic.Pointer[chatops.Adapter]
	l, err := ledger.Open(ctx, cfg.DataDir, ledger.Options{
		Logger:       svc.log.With().Str("component", "ledger").Logger(),
		Environment:  cfg.Environment,
		MinFreeBytes: uint64(cfg.LedgerReserveMB) << 20,
		OnCheckpoint: func(note []byte) {
			if a := slackRef.Load(); a != nil {
				a.PostCheckpoint(note)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("open ledger in %s: %w", cfg.DataDir, err)
	}
	svc.ledger = l
	svc.audit = newAuditor(l, svc.reg)

	svc.drivers, err = newDrivers(cfg, env.getenv, secrets)
	if err != nil {
		l.Close()
		return nil, err
	}
	bundler, err := svc.newBundler(ring)
	if err != nil {
		l.Close()
		return nil, err
	}
	actions, err := newActions(cfg, env.getenv, secrets)
	if err != nil {
		l.Close()
		return nil, err
	}
	svc.engine, err = core.New(ctx, core.Config{
		Environment:    cfg.Environment,
		Bots:           svc.drivers.bots,
		Policy:         pol,
		StopTimeout:    time.Duration(cfg.StopTimeout),
		RunbookBaseURL: cfg.Runbooks,
		Version:        buildVersion(),
		ConfigDigest:   cfg.digest,
		LedgerKey:      l.VerifierKey(),
	}, core.Deps{
		Auditor:    svc.audit,
		Actions:    actions,
		Bundler:    bundler,
		Logger:     svc.log.With().Str("component", "core").Logger(),
		Registerer: svc.reg,
		Scrubber:   newTypedText(secrets, svc.log),
		Spill:      newFileSpill(cfg.DataDir),
	})
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("start engine: %w", err)
	}
	if err := svc.buildAPI(); err != nil {
		l.Close()
		return nil, err
	}
	if err := svc.buildSources(pushToken); err != nil {
		l.Close()
		return nil, err
	}
	// The playground lets whoever reaches its loopback port act as any
	// actor of the policy, with no login: a stand-in for Slack on a
	// developer's machine, never for a shared host. Outside dev, a service
	// without Slack credentials has no Slack at all (the API remains).
	if slackCfg.SigningSecret == "" && slackCfg.AppToken == "" && cfg.Environment == "dev" {
		if svc.play, err = newPlayground(cfg, pol, &slackCfg, secrets, l); err != nil {
			l.Close()
			return nil, err
		}
	}
	if slackCfg.SigningSecret != "" || slackCfg.AppToken != "" {
		svc.slack, err = chatops.New(slackCfg, svc.engine, ledgerView{l}, svc.log.With().Str("component", "slack").Logger(), svc.reg)
		if err != nil {
			svc.closePlayground()
			l.Close()
			return nil, fmt.Errorf("slack adapter: %w", err)
		}
		slackRef.Store(svc.slack)
	}
	return svc, nil
}

// newActions builds the configured actions, or none: a nil core.Actions
// makes the core deny the ops that need one.
func newActions(cfg *Config, getenv func(string) string, secrets *secretSet) (core.Actions, error) {
	if len(cfg.Actions) == 0 {
		return nil, nil
	}
	ac, err := action.ConfigFromMap(cfg.Actions)
	if err != nil {
		return nil, fmt.Errorf("actions: %w", err)
	}
	for _, spec := range ac {
		switch {
		case spec.Exec != nil:
			secrets.addRefs(getenv, spec.Exec.SecretEnv, spec.Exec.SecretFiles)
		case spec.HTTP != nil:
			secrets.addRefs(getenv, map[string]string{"": spec.HTTP.SecretEnv}, map[string]string{"": spec.HTTP.SecretFile})
		}
	}
	a, err := action.New(ac, action.Options{Getenv: getenv})
	if err != nil {
		return nil, fmt.Errorf("actions: %w", err)
	}
	return a, nil
}

func loadPolicy(cfg *Config) (*policy.Policy, error) {
	if cfg.PolicyFile == "embedded:demo" {
		return policy.Demo(), nil
	}
	p, err := policy.Load(cfg.path(cfg.PolicyFile))
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return p, nil
}

// slackConfig reads the Slack settings; secrets come from the environment.
func slackConfig(cfg *Config, getenv func(string) string) chatops.Config {
	return chatops.Config{
		APIURL:           getenv("SLACK_API_URL"),
		BotToken:         chatops.Secret(getenv("SLACK_BOT_TOKEN")),
		AppToken:         chatops.Secret(getenv("SLACK_APP_TOKEN")),
		SigningSecret:    chatops.Secret(getenv("SLACK_SIGNING_SECRET")),
		Command:          cfg.Slack.Command,
		AuditChannel:     cfg.Slack.AuditChannel,
		ApproversChannel: cfg.Slack.ApproversChannel,
		RunbookBaseURL:   cfg.Runbooks,
	}
}

func (s *service) buildSources(pushToken string) error {
	v, err := contracts.NewValidator()
	if err != nil {
		return fmt.Errorf("contracts: %w", err)
	}
	log := s.log.With().Str("component", "source").Logger()
	if pushToken != "" {
		if s.push, err = source.NewPush(source.Secret(pushToken), s.engine, v, log); err != nil {
			return fmt.Errorf("safety push: %w", err)
		}
	}
	var files []source.File
	if p := s.cfg.Safety.SafetyFile; p != "" {
		files = append(files, source.File{Path: s.cfg.path(p), Kind: source.KindSafety})
	}
	if p := s.cfg.Safety.GatesFile; p != "" {
		files = append(files, source.File{Path: s.cfg.path(p), Kind: source.KindGates})
	}
	if len(files) > 0 {
		if s.watcher, err = source.NewWatcher(files, s.engine, v, log); err != nil {
			return fmt.Errorf("safety files: %w", err)
		}
	}
	s.kill = source.NewKillSwitch(killSwitchView{s.engine}, s.cfg.Environment, source.Secret(pushToken), nil)
	return nil
}

func (s *service) newBundler(ring *bundle.Ring) (*bundle.Builder, error) {
	return bundle.New(bundle.Options{
		Dir:         filepath.Join(s.cfg.DataDir, "bundles"),
		Environment: s.cfg.Environment,
		Version:     version,
		Keep:        s.cfg.Bundles.Keep,
		MaxAge:      time.Duration(s.cfg.Bundles.MaxAge),
	}, bundle.Sources{
		Snapshot:    func() core.Snapshot { return s.engine.Snapshot() },
		Ledger:      s.ledger,
		Diagnostics: s.drivers.diagnostics,
		Metrics:     s.reg,
		Config:      func() any { return s.cfg },
		Policy:      s.policy.Canonical,
		Secrets:     s.secrets.values,
		Logs:        ring,
	})
}

// runLoops starts the engine's tick, the Slack notifier and the file
// watcher; the returned channel closes when all have stopped.
func (s *service) runLoops(ctx context.Context) <-chan struct{} {
	var wg sync.WaitGroup
	run := func(f func()) { wg.Add(1); go func() { defer wg.Done(); f() }() }
	run(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			s.engine.Tick(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	if s.slack != nil {
		run(func() {
			if err := s.slack.Run(ctx); err != nil && ctx.Err() == nil {
				s.log.Error().Err(err).Msg("slack notifier stopped")
			}
		})
	}
	if s.slack != nil && s.slack.SocketMode() {
		run(func() {
			if err := s.slack.RunSocketMode(ctx); err != nil {
				s.log.Error().Err(err).Msg("slack socket mode stopped")
			}
		})
	}
	if s.watcher != nil {
		run(func() {
			t := time.NewTicker(2 * time.Second)
			defer t.Stop()
			s.watcher.Run(ctx, t.C)
		})
	}
	if s.cfg.Demo.SafetyFeed {
		// The first report is synchronous, so the demo is healthy by the
		// time the banner says it is running.
		feed := demoFeed{sink: s.engine, every: 10 * time.Second, log: s.log.With().Str("component", "demo-feed").Logger()}
		feed.publish(ctx)
		run(func() { feed.run(ctx) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done
}

func (s *service) close() {
	s.closePlayground()
	if s.slack != nil {
		s.slack.Close()
	}
	if err := s.ledger.Close(); err != nil {
		s.log.Error().Err(err).Msg("close ledger")
	}
}

// killSwitchView adapts the engine's snapshot for GET /v1/killswitch.
type killSwitchView struct{ e *core.Engine }

func (v killSwitchView) KillSwitch() map[string]core.Level { return v.e.Snapshot().KillSwitch }
