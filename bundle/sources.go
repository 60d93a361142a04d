package bundle

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/botwarden/botwarden/bundle/redact"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/ledger"
	"github.com/prometheus/client_golang/prometheus"
)

// Ledger is what a bundle reads from the audit ledger. *ledger.Log fits it.
type Ledger interface {
	// Export writes entries from..to as JSON Lines plus a trailer and
	// returns the signed checkpoint for size to (see ledger.Log.Export).
	Export(ctx context.Context, w io.Writer, from, to uint64) ([]byte, error)
	// Head returns the state after the last committed entry.
	Head() ledger.Head
	// Get returns entry seq; the bundle uses its Time to find the window.
	Get(ctx context.Context, seq uint64) (ledger.Entry, error)
	// VerifierKey returns the note verifier key of the ledger's signing key.
	VerifierKey() string
}

// ErrNoDiagnostics is what a DiagnosticsFunc returns (wrapped or not) for a
// bot whose driver offers no diagnostics; the bundle then skips the bot
// quietly.
var ErrNoDiagnostics = errors.New("driver offers no diagnostics")

// DiagnosticsFunc returns a JSON-marshalable diagnosis of one bot's process
// from its driver. The result is redacted like everything else.
type DiagnosticsFunc func(ctx context.Context, bot string) (any, error)

// Sources are what a bundle reads. Snapshot and Ledger are required; a nil
// optional source is listed in the manifest's notes as not collected.
type Sources struct {
	Snapshot    func() core.Snapshot // fleet, safety, gates, kill-switch, open challenges
	Ledger      Ledger
	Diagnostics DiagnosticsFunc     // optional
	Metrics     prometheus.Gatherer // optional
	Config      func() any          // optional: the effective configuration
	// Policy returns the policy in force as the ledger records it (its
	// canonical document) and its digest; optional.
	Policy  func() (doc []byte, digest string)
	Secrets func() []string     // optional: every secret value the process knows
	Logs    *Ring               // optional: recent service log lines
	Runtime func() RuntimeFacts // optional: default reads the Go runtime
}

// Options configure a Builder.
type Options struct {
	// Dir is where bundles are written (<datadir>/bundles). Required.
	Dir string
	// Environment is the service's environment (dev, stage, prod).
	Environment string
	// Version is the service's version string; build info is added from
	// runtime/debug.
	Version string
	// Now is the clock; the creation time is Now truncated to the second.
	Now func() time.Time
	// Window is how far back the ledger slice of a bot or group bundle
	// reaches. Default 24h.
	Window time.Duration
	// FleetWindow bounds the ledger slice of a fleet ("global") bundle;
	// 0 includes the whole ledger. Set it for very large ledgers.
	FleetWindow time.Duration
	// ExtraRules are configured redaction patterns run after the built-in
	// ones.
	ExtraRules []redact.Rule
	// Keep and MaxAge are the retention limits applied after each
	// successful build (0: no limit).
	Keep   int
	MaxAge time.Duration
}

// RuntimeFacts are the Go runtime facts a bundle records.
type RuntimeFacts struct {
	GoVersion    string `json:"go_version"`
	GOOS         string `json:"goos"`
	GOARCH       string `json:"goarch"`
	NumCPU       int    `json:"num_cpu"`
	GOMAXPROCS   int    `json:"gomaxprocs"`
	Goroutines   int    `json:"goroutines"`
	HeapAlloc    uint64 `json:"heap_alloc_bytes"`
	HeapInuse    uint64 `json:"heap_inuse_bytes"`
	Sys          uint64 `json:"sys_bytes"`
	NumGC        uint32 `json:"num_gc"`
	PauseTotalNs uint64 `json:"gc_pause_total_ns"`
}
