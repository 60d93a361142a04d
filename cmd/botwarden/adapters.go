package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/botwarden/botwarden/chatops"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/ledger"
	"github.com/prometheus/client_golang/prometheus"
)

// auditor makes the ledger a core.Auditor. It measures append latency and
// remembers whether the last append failed, for /readyz.
type auditor struct {
	log     *ledger.Log
	latency prometheus.Histogram
	failed  atomic.Bool
}

var (
	_ core.Auditor   = (*auditor)(nil)
	_ chatops.Ledger = ledgerView{}
)

func newAuditor(l *ledger.Log, reg prometheus.Registerer) *auditor {
	a := &auditor{
		log: l,
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "botwarden_ledger_append_seconds",
			Help:    "Time to durably append one audit event (including the group commit wait).",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14),
		}),
	}
	reg.MustRegister(a.latency, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "botwarden_ledger_size",
		Help: "Number of entries in the audit ledger.",
	}, func() float64 { return float64(l.Head().Size) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "botwarden_ledger_available",
			Help: "1 while the audit ledger can take appends (as /readyz reports), 0 otherwise.",
		}, func() float64 {
			if a.ready() != nil {
				return 0
			}
			return 1
		}))
	return a
}

// Queue queues events consecutively in the ledger; an ErrUnavailable from
// the ledger is reported as core.ErrAuditUnavailable so the core refuses
// dangerous operations.
func (a *auditor) Queue(ctx context.Context, events ...[]byte) (core.Pending, error) {
	start := time.Now()
	p, err := a.log.Queue(context.WithoutCancel(ctx), events...) // see Wait
	if err != nil {
		a.latency.Observe(time.Since(start).Seconds())
		return nil, a.failure(err)
	}
	return &pending{a: a, p: p, start: start}, nil
}

// pending is a queued append; its first answered Wait records the
// append's latency and outcome.
type pending struct {
	a     *auditor
	p     *ledger.Pending
	start time.Time
	once  sync.Once
}

// Done reports whether the append is answered.
func (p *pending) Done() bool { return p.p.Done() }

// Wait returns the receipts once the events are durable. An append, once
// asked for, is seen through: a caller that went away (a closed HTTP
// request) must not leave an event committed in the ledger that the core
// believes was never recorded. The ledger itself answers promptly when it
// cannot write.
func (p *pending) Wait(ctx context.Context) ([]core.Receipt, error) {
	rs, err := p.p.Wait(context.WithoutCancel(ctx))
	p.once.Do(func() {
		p.a.latency.Observe(time.Since(p.start).Seconds())
		if err == nil {
			p.a.failed.Store(false)
		}
	})
	if err != nil {
		return nil, p.a.failure(err)
	}
	out := make([]core.Receipt, len(rs))
	for i, r := range rs {
		out[i] = core.Receipt{Seq: r.Seq, Hash: r.Hash}
	}
	return out, nil
}

// failure remembers a refused append for /readyz and maps the ledger's
// ErrUnavailable to core.ErrAuditUnavailable.
func (a *auditor) failure(err error) error {
	if errors.Is(err, ledger.ErrUnavailable) {
		a.failed.Store(true)
		return fmt.Errorf("%w: %w", core.ErrAuditUnavailable, err)
	}
	return err
}

// Replay scans the whole ledger from seq 1.
func (a *auditor) Replay(ctx context.Context, fn func(seq uint64, event []byte) error) error {
	return a.log.Scan(ctx, 1, fn)
}

// Read returns the event recorded at seq.
func (a *auditor) Read(ctx context.Context, seq uint64) ([]byte, error) {
	e, err := a.log.Get(ctx, seq)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", core.ErrAuditUnavailable, err)
	}
	return e.Event, nil
}

// ready reports whether the ledger can take appends: it is open, healthy
// and has its free-space reserve, and the last append did not fail.
func (a *auditor) ready() error {
	if err := a.log.Ready(); err != nil {
		return err
	}
	if a.failed.Load() {
		return errors.New("audit ledger unavailable: last append failed")
	}
	return nil
}

// ledgerView adapts the ledger to what /warden audit needs.
type ledgerView struct{ log *ledger.Log }

// Head returns the current size and root with a freshly signed checkpoint.
func (v ledgerView) Head(ctx context.Context) (chatops.LedgerHead, error) {
	note, err := v.log.Checkpoint(ctx)
	if err != nil {
		return chatops.LedgerHead{}, err
	}
	cp, err := ledger.OpenCheckpoint(note, v.log.VerifierKey())
	if err != nil {
		return chatops.LedgerHead{}, err
	}
	return chatops.LedgerHead{Size: cp.Size, Root: hex.EncodeToString(cp.Root[:]), Note: note}, nil
}

// VerifyAgainst checks the signature of a checkpoint posted earlier (by
// any key the ledger had: one posted before a key rotation too) and that
// the current ledger still contains its history.
func (v ledgerView) VerifyAgainst(ctx context.Context, note []byte) error {
	old, err := ledger.OpenCheckpoint(note, strings.Join(v.log.VerifierKeys(), " "))
	if err != nil {
		return fmt.Errorf("checkpoint signature: %w", err)
	}
	head := v.log.Head()
	if head.Size < old.Size {
		return fmt.Errorf("ledger has %d entries, fewer than the %d the checkpoint covers: rolled back", head.Size, old.Size)
	}
	if head.Size == old.Size {
		if head.Root != old.Root {
			return fmt.Errorf("ledger root at size %d differs from the checkpoint: forked", old.Size)
		}
		return nil
	}
	proof, err := v.log.ProveConsistency(ctx, old.Size, head.Size)
	if err != nil {
		return fmt.Errorf("consistency proof %d..%d: %w", old.Size, head.Size, err)
	}
	return ledger.CheckConsistency(proof, head.Size, head.Root, old.Size, old.Root)
}

// Export writes [from, to] (to 0: the head) and returns its checkpoint.
func (v ledgerView) Export(ctx context.Context, w io.Writer, from, to uint64) ([]byte, error) {
	if to == 0 {
		to = v.log.Head().Size
	}
	if from == 0 {
		from = 1
	}
	return v.log.Export(ctx, w, from, to)
}
