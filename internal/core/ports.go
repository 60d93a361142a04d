package core

import (
	"context"
	"errors"
	"time"

	"github.com/botwarden/botwarden/internal/lifecycle"
)

// ErrAuditUnavailable is what an Auditor returns (wrapped) when it cannot
// record an event. The core refuses dangerous operations on it.
var ErrAuditUnavailable = errors.New("audit ledger unavailable")

// Receipt proves an event was durably recorded.
type Receipt struct {
	Seq  uint64
	Hash [32]byte
}

// Auditor durably records events before the core acts on them and lets the
// core rebuild its state from them on start. The ledger fits it (adapter in
// cmd/).
type Auditor interface {
	// Queue places one or more events, as consecutive entries (nothing
	// else between them), after everything queued before, and returns
	// without waiting for them to be durable: entries of calls that
	// return in some order are recorded in that order. It blocks only
	// while the auditor's queue is full. The core queues under a lock of
	// its own, so that it applies events in the auditor's order, and
	// waits outside it.
	Queue(ctx context.Context, events ...[]byte) (Pending, error)
	// Replay calls fn for every recorded event in order, from seq 1.
	Replay(ctx context.Context, fn func(seq uint64, event []byte) error) error
	// Read returns the event recorded at seq, exactly as queued. The core
	// reads old command outcomes back with it. A failure wraps
	// ErrAuditUnavailable.
	Read(ctx context.Context, seq uint64) ([]byte, error)
}

// Pending is an append Auditor.Queue placed in order. Any goroutine may
// call its methods, any number of times.
type Pending interface {
	// Wait returns the receipts once every event is durable. On failure
	// (here or from Queue) the error wraps ErrAuditUnavailable, comes
	// promptly, and none of the events may be assumed recorded. Unless
	// ctx ends first, Wait returns only once the append is answered, so
	// Done is true then: the core settles appends in order and relies on
	// it.
	Wait(ctx context.Context) ([]Receipt, error)
	// Done reports whether the append is answered (durable or refused):
	// Wait then returns at once.
	Done() bool
}

// BotMeta is what a driver is told about the command it executes.
type BotMeta struct {
	Bot       string
	CommandID string
	TraceID   string
	RunID     string
}

// Driver controls one kind of bot (sim, exec, http). Every call must be
// safe to retry with the same CommandID: the bot sees the same id.
type Driver interface {
	Start(ctx context.Context, m BotMeta, mode lifecycle.Mode) error
	Stop(ctx context.Context, m BotMeta) error
	Pause(ctx context.Context, m BotMeta) error
	Resume(ctx context.Context, m BotMeta, mode lifecycle.Mode) error
	Apply(ctx context.Context, m BotMeta, configRef string) error
	Status(ctx context.Context, bot string) (BotStatus, error)
}

// BotStatus is what a driver reports of a bot's process.
type BotStatus struct {
	Alive   bool // process/endpoint is up and running its strategy
	Stopped bool // fully stopped (ends STOPPING)
	Paused  bool // paused
	// PauseUnknown says the driver cannot tell whether the bot is paused
	// (an exec status with no output, a reply without "paused"): Paused
	// means nothing then, and reconciliation does not judge the pause, as
	// it does not judge a mode that is not reported.
	PauseUnknown bool
	Mode         lifecycle.Mode // mode it runs in, when alive
	Detail       string         // free text for diagnosis (already redacted)
}

// ActionRequest is a non-bot operation the core asks an outside system to
// carry out (kill-switch push, gate override, monitoring disable, secret
// rotation by reference, destructive data op).
type ActionRequest struct {
	Op        Op
	Target    string
	Params    Params
	CommandID string
	TraceID   string
	Actor     string
}

// Actions carries out non-bot operations. Run must be idempotent per
// CommandID.
type Actions interface {
	Run(ctx context.Context, req ActionRequest) error
	// Configured reports whether op has an action. Monitoring disable,
	// secret rotation and data ops without one are denied before any
	// challenge; kill-switch changes and gate overrides without one are
	// the core's alone (recorded and enforced, pushed nowhere).
	Configured(op Op) bool
}

// ErrBundleLeak is what a Bundler returns (wrapped, with the file and the
// rule that fired, never the secret) when its proof found a secret in a
// built bundle. Nothing is delivered; the core records a denial.
var ErrBundleLeak = errors.New("support bundle refused: a secret was found in it")

// Bundler builds a support bundle for a target and returns a reference
// (file name) and the SHA-256 of the bundle and of its manifest.
type Bundler interface {
	Build(ctx context.Context, req BundleRequest) (BundleResult, error)
}

// BundleRequest asks for a support bundle.
type BundleRequest struct {
	Target    string
	Actor     string
	Reason    string
	CommandID string
}

// BundleResult describes a built bundle.
type BundleResult struct {
	Path           string
	SHA256         string
	ManifestSHA256 string
}

// Clock is the core's source of time; tests use a fake.
type Clock interface {
	Now() time.Time
}

// Notice is a change the core announces to adapters (Slack, SSE) after it
// is recorded in the ledger.
type Notice struct {
	Seq       uint64 // ledger seq of the event
	EventType string // audit event type, e.g. "bot.state.transition"
	Op        Op     // the event's op, if it has one: lets a subscriber skip events without decoding them
	Event     []byte // the recorded event JSON
	// Dropped counts notices this subscriber lost (its buffer was full)
	// since the previous notice it received. Non-zero means: re-read state.
	Dropped uint64
}
