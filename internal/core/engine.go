package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/botwarden/botwarden/internal/policy"
)

// ErrConfig marks a Config or Deps the engine refuses to start with.
var ErrConfig = errors.New("invalid engine configuration")

// ErrUnknownChallenge is returned for a confirm or reject of a challenge
// id the engine has never issued.
var ErrUnknownChallenge = errors.New("unknown challenge")

// ErrInvalidCommand wraps every reason a command is malformed. Nothing is
// recorded for a malformed command; the caller must fix it.
var ErrInvalidCommand = errors.New("invalid command")

// DefaultRunbookBaseURL is where runbook links point when Config leaves
// RunbookBaseURL empty.
const DefaultRunbookBaseURL = "https://github.com/botwarden/botwarden/blob/main/docs/operations/runbooks/"

// BotConfig declares one bot the engine controls.
type BotConfig struct {
	ID            string
	Group         string
	Driver        Driver
	ConfigVersion string // initial config version, if known
}

// Config is what the engine serves: one environment, its bots, its policy.
type Config struct {
	Environment    string // dev, stage or prod
	Bots           []BotConfig
	Policy         *policy.Policy
	StopTimeout    time.Duration     // STOPPING longer than this is reported stuck (default 30s)
	DriverTimeout  time.Duration     // bound on each driver/action call (default 15s)
	RunbookBaseURL string            // default DefaultRunbookBaseURL
	Runbooks       map[string]string // reason code or condition -> URL, overrides the base
	// Version is the service's version, recorded at each start and stop
	// (default "unknown").
	Version string
	// ConfigDigest is "sha256:" and the hex SHA-256 of the service's
	// configuration file, recorded at each start and stop (optional).
	ConfigDigest string
	// LedgerKey is the verifier key of the key that signs the ledger's
	// checkpoints, recorded at each start (optional).
	LedgerKey string
	// RecentOutcomes is how many command outcomes are kept whole in
	// memory (default DefaultRecentOutcomes). Older ones are kept as the
	// ledger seq that recorded them and read back when asked for, so a
	// command_id still never runs twice.
	RecentOutcomes int
}

// Deps are the engine's collaborators. Auditor and Config.Policy are
// required; Actions and Bundler may be nil (their ops are then denied).
type Deps struct {
	Auditor    Auditor
	Actions    Actions
	Bundler    Bundler
	Clock      Clock                 // default: the system clock
	Logger     zerolog.Logger        // default: disabled
	Registerer prometheus.Registerer // default: metrics are not exported
	NewID      func() string         // challenge ids; default: 128 random bits
	// Scrubber keeps secrets people paste by mistake out of the ledger
	// (scrub); default: none.
	Scrubber Scrubber
	// Spill keeps effects applied while the ledger refused them across a
	// restart (late.go); default: none (a restart before the ledger takes
	// appends again forgets them).
	Spill Spill
}

// Scrubber finds secrets in what people type. The service's is built on
// the support bundles' redaction rules and its known secret values.
type Scrubber interface {
	// Redact returns text with every secret in it replaced by a marker.
	Redact(text string) string
	// IsSecret reports whether ref, given where a reference to a secret
	// or a config belongs, is itself a secret value (a token, a key).
	IsSecret(ref string) bool
}

// Engine is the control core. Safe for concurrent use.
//
// Reads take no lock: the state is immutable once published (copy on
// write, see state) and Snapshot, Challenge, Outcome, MayApprove, Allowed,
// Roles and Environment read the latest published one, so they answer at
// once even while a command waits on a slow driver, and what they show is
// always the state after some ledger prefix, never half of a change.
// (Outcome of a command older than Config.RecentOutcomes reads its event
// back from the ledger: no lock still, but one read.)
//
// Writes are concurrent across targets and serialised where they
// interact (locks in concurrency.go):
//   - A command, confirm or reject on one bot (or one group or "global"
//     for ops that change no fleet state) holds the fleet lock shared and
//     that target's lock from its check to its recorded result: commands
//     on different bots overlap, commands on one bot run one at a time.
//   - Fleet-wide changes — SetSafety, SetGates, kill-switch set/release,
//     gate overrides, monitoring disable, group and global fan-outs and
//     Tick's override expiry and staleness — hold the fleet
//     lock exclusively, so they wait for commands in flight and a safety
//     change can never slip between a check and the effect it guards.
//     Refreshes that change no effective status take no fleet lock.
//   - A command_id is reserved before any lock is taken; a concurrent
//     duplicate (whatever its target) waits for the original and gets its
//     outcome, so it has exactly one effect.
//   - Ledger appends are issued concurrently (so the ledger commits them in
//     groups); a sequencer applies and announces the recorded events in
//     ledger order, and record returns once its event is applied.
//
// Driver calls are bounded by DriverTimeout.
type Engine struct {
	cfg   Config
	deps  Deps
	log   zerolog.Logger
	m     *metrics
	valid *validator

	lk  *locks
	cur atomic.Pointer[state] // the published state; see state

	subMu sync.Mutex
	subs  map[int]*subscriber
	subID int

	start    startRecord   // this process's controlplane.started
	recovery recovery      // the previous run's unfinished work (recover)
	late     lateRecords   // unaudited effects' events, to record late
	evidence evidenceQueue // stuck bots' bundles, to build (evidence.go)
	dead     deadCounts    // not-alive readings in a row, per bot (tick.go)
}

// recovery is what recover could not record yet.
type recovery struct {
	pending     atomic.Bool     // something is left: Tick retries
	interrupted []pendingCmd    // commands left between intent and result, oldest first
	completed   map[string]bool // interrupted quarantines completed (completeQuarantine)
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "ch-" + hex.EncodeToString(b[:])
}

// New builds the engine and rebuilds its state by replaying every event
// through Auditor.Replay, then records controlplane.started (the version
// and the policy in force; see ServiceInfo) before anything else. If the
// ledger refuses it, New still succeeds, so that safety-increasing ops
// can run unaudited, and every later record first retries it. Challenges
// found expired are expired (and audited); commands whose result was
// never recorded are recorded as failed with reason interrupted; bots
// never seen are initialised (CREATED->IDLE, audited).
func New(ctx context.Context, cfg Config, deps Deps) (*Engine, error) {
	if err := checkConfig(&cfg, &deps); err != nil {
		return nil, err
	}
	v, err := newValidator()
	if err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, deps: deps, log: deps.Logger, valid: v, subs: map[int]*subscriber{}, lk: newLocks(cfg)}
	e.cur.Store(newState(cfg))
	if e.m, err = newMetrics(deps.Registerer, e.state); err != nil {
		return nil, err
	}
	for _, b := range cfg.Bots { // a series from 0, so its first increase alerts
		e.m.drifted.WithLabelValues(b.ID)
	}
	start := time.Now()
	if err := e.loadSpill(); err != nil {
		return nil, err
	}
	if err := e.replay(ctx); err != nil {
		return nil, err
	}
	e.unspill()
	whole, retired := e.state().idx.outcomes.sizes()
	e.log.Info().Uint64("seq", e.state().seq).Dur("took", time.Since(start)).
		Int("outcomes_whole", whole).Int("outcomes_retired", retired).Msg("state rebuilt from the ledger")
	e.start.ev = e.startEvent()
	e.start.pending.Store(true)
	e.m.started(e.start.ev.Service, e.now())
	if err := e.recordFirst(ctx); err != nil {
		// Not fatal: stop, pause, quarantine and kill-switch tightening
		// must still run. Nothing else is recorded (so nothing else runs)
		// before the start is (recordAll).
		e.log.Error().Err(err).Msg("controlplane.started not recorded; it is retried before anything else is recorded")
	}
	e.recover(ctx)
	return e, nil
}

func checkConfig(cfg *Config, deps *Deps) error {
	switch cfg.Environment {
	case "dev", "stage", "prod":
	default:
		return fmt.Errorf("%w: environment %q (want dev, stage or prod)", ErrConfig, cfg.Environment)
	}
	if cfg.Policy == nil || deps.Auditor == nil {
		return fmt.Errorf("%w: Policy and Auditor are required", ErrConfig)
	}
	seen := map[string]bool{}
	for _, b := range cfg.Bots {
		if !botIDPattern.MatchString(b.ID) || b.ID == "global" || seen[b.ID] || b.Driver == nil {
			return fmt.Errorf("%w: bot %q: ids must be unique, well-formed and have a driver", ErrConfig, b.ID)
		}
		if b.Group != "" && !botIDPattern.MatchString(b.Group) {
			return fmt.Errorf("%w: bot %q: bad group %q", ErrConfig, b.ID, b.Group)
		}
		seen[b.ID] = true
	}
	if cfg.Version == "" {
		cfg.Version = "unknown"
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = 30 * time.Second
	}
	if cfg.DriverTimeout <= 0 {
		cfg.DriverTimeout = 15 * time.Second
	}
	if cfg.RunbookBaseURL == "" {
		cfg.RunbookBaseURL = DefaultRunbookBaseURL
	}
	if deps.Clock == nil {
		deps.Clock = systemClock{}
	}
	if deps.NewID == nil {
		deps.NewID = randomID
	}
	return nil
}

// Environment is the one environment this engine serves.
func (e *Engine) Environment() string { return e.cfg.Environment }

func (e *Engine) now() time.Time { return e.deps.Clock.Now() }

// Runbook returns the runbook link for a reason code or condition key
// (a page under docs/operations/runbooks), for adapters whose own
// refusals (a bad token, a rate limit) deserve one too.
func (e *Engine) Runbook(key string) string { return e.runbook(key) }

// runbook returns the link for a reason code or condition.
func (e *Engine) runbook(key string) string {
	if u, ok := e.cfg.Runbooks[key]; ok {
		return u
	}
	return e.cfg.RunbookBaseURL + key + ".md"
}

// record appends ev to the ledger and, only once it is durable, applies
// it to the in-memory state (the same apply the replay uses, so replaying
// the ledger reproduces the state) and announces it. Appends of concurrent
// callers run concurrently; the sequencer applies and announces them in
// ledger order, and record returns once ev is applied. Callers hold the
// locks (see lockFor) that keep the state ev depends on from changing.
func (e *Engine) record(ctx context.Context, ev *Event) (uint64, error) {
	seqs, err := e.recordAll(ctx, ev)
	if err != nil {
		return 0, err
	}
	return seqs[0], nil
}

// recordAll records evs as consecutive entries, in one append (usually
// one group commit), applies them to the state in order and returns
// their seqs.
func (e *Engine) recordAll(ctx context.Context, evs ...*Event) ([]uint64, error) {
	if err := e.recordFirst(ctx); err != nil {
		return nil, fmt.Errorf("record %s: %w", evs[len(evs)-1].Type, err)
	}
	return e.write(ctx, evs...)
}

// write is recordAll without this process's first records.
func (e *Engine) write(ctx context.Context, evs ...*Event) ([]uint64, error) {
	return e.writeLanded(ctx, false, evs...)
}

// writeLanded records evs; late says their effects are applied already
// (recordLate), so landing them does not apply them again.
func (e *Engine) writeLanded(ctx context.Context, late bool, evs ...*Event) ([]uint64, error) {
	raws := make([][]byte, len(evs))
	for i, ev := range evs {
		ev.SchemaVersion = SchemaVersion
		ev.Environment = e.cfg.Environment
		if ev.Time == "" {
			ev.Time = fmtTime(e.now())
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", ev.Type, err)
		}
		raws[i] = b
	}
	start := time.Now()
	e.lk.orderMu.Lock()
	p, err := e.deps.Auditor.Queue(ctx, raws...)
	var l *landing
	if err == nil {
		l = e.enlist(p, evs, raws, late)
	}
	e.lk.orderMu.Unlock()
	var seqs []uint64
	if err == nil {
		seqs, err = e.land(l)
	}
	e.m.appendSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, fmt.Errorf("record %s: %w", evs[len(evs)-1].Type, err)
	}
	return seqs, nil
}

// state returns the latest published state. Readers may keep and read it
// without any lock: it never changes.
func (e *Engine) state() *state { return e.cur.Load() }

// commit publishes n, the successor of the current state. Callers hold
// applyMu (or are New, before the engine is shared).
func (e *Engine) commit(n *state) {
	e.cur.Store(n)
}

// mutate publishes a successor of the current state edited by fn: changes
// that are not events (a refreshed safety or gate report).
func (e *Engine) mutate(fn func(n *state)) {
	e.lk.applyMu.Lock()
	defer e.lk.applyMu.Unlock()
	n := e.state().next()
	fn(n)
	e.commit(n)
}

// recordUnaudited applies a safety-increasing effect whose event could not
// be recorded: reality wins over the ledger, loudly.
func (e *Engine) recordUnaudited(ev *Event, cause error) {
	ev.SchemaVersion = SchemaVersion
	ev.Environment = e.cfg.Environment
	if ev.Time == "" {
		ev.Time = fmtTime(e.now())
	}
	b, _ := json.Marshal(ev)
	e.log.Error().Err(cause).RawJSON("event", b).Str("event_type", ev.Type).
		Msg("UNAUDITED: safety-increasing effect applied without a ledger record")
	e.m.unaudited.Inc()
	e.lk.applyMu.Lock()
	e.commit(e.state().apply(0, ev))
	e.lk.applyMu.Unlock()
	e.keepLate(ev)
}
