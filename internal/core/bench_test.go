package core_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
	"github.com/botwarden/botwarden/internal/policy"
)

// groupAuditor is a core.Auditor that commits appends in groups, like the
// ledger: appends that arrive while a group is being made durable wait
// for the next group, and every group costs delay (the fsync).
type groupAuditor struct {
	delay time.Duration

	mu      sync.Mutex
	events  [][]byte
	waiting []*groupReq
	busy    bool
}

type groupReq struct {
	events [][]byte // recorded consecutively
	seq    uint64   // of the first
	done   chan struct{}
}

var _ core.Auditor = (*groupAuditor)(nil)

// Queue places events in the next group; seqs follow queue order.
func (a *groupAuditor) Queue(ctx context.Context, events ...[]byte) (core.Pending, error) {
	r := &groupReq{events: events, done: make(chan struct{})}
	a.mu.Lock()
	a.waiting = append(a.waiting, r)
	if !a.busy {
		a.busy = true
		go a.commit()
	}
	a.mu.Unlock()
	return r, nil
}

// Done reports whether r's group is committed.
func (r *groupReq) Done() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// Wait returns once r's group is committed.
func (r *groupReq) Wait(ctx context.Context) ([]core.Receipt, error) {
	<-r.done
	rs := make([]core.Receipt, len(r.events))
	for i := range rs {
		rs[i].Seq = r.seq + uint64(i)
	}
	return rs, nil
}

func (a *groupAuditor) commit() {
	for {
		a.mu.Lock()
		group := a.waiting
		a.waiting = nil
		if len(group) == 0 {
			a.busy = false
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()
		time.Sleep(a.delay)
		a.mu.Lock()
		for _, r := range group {
			r.seq = uint64(len(a.events)) + 1
			a.events = append(a.events, r.events...)
		}
		a.mu.Unlock()
		for _, r := range group {
			close(r.done)
		}
	}
}

func (a *groupAuditor) Replay(ctx context.Context, fn func(uint64, []byte) error) error {
	a.mu.Lock()
	evs := slices.Clone(a.events)
	a.mu.Unlock()
	for i, ev := range evs {
		if err := fn(uint64(i+1), ev); err != nil {
			return err
		}
	}
	return nil
}

func (a *groupAuditor) Read(ctx context.Context, seq uint64) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if seq == 0 || seq > uint64(len(a.events)) {
		return nil, fmt.Errorf("read %d: %w", seq, core.ErrAuditUnavailable)
	}
	return a.events[seq-1], nil
}

// BenchmarkSubmit_Parallel runs the operator API's load: clients doing
// status and pause/resume, each on its own bot, against an auditor whose
// group commit costs 0.5 ms. Commands on different bots overlap, so their
// appends share commits: throughput grows with clients instead of being
// capped at one commit per append.
func BenchmarkSubmit_Parallel(b *testing.B) {
	for _, clients := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			benchSubmit(b, clients)
		})
	}
}

func benchSubmit(b *testing.B, clients int) {
	ctx := context.Background()
	clock := coretest.NewClock(coretest.Epoch)
	drv := coretest.NewDriver()
	cfg := core.Config{Environment: "dev", Policy: policy.Demo()}
	for i := range clients {
		cfg.Bots = append(cfg.Bots, core.BotConfig{ID: fmt.Sprintf("bot%03d", i), Group: "fleet", Driver: drv})
	}
	e, err := core.New(ctx, cfg, core.Deps{Auditor: &groupAuditor{delay: 500 * time.Microsecond}, Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.SetSafety(ctx, core.SafetyDoc{SchemaVersion: core.SchemaVersion, Mode: core.SafetyNormal,
		Source: "bench", UpdatedAt: clock.Now(), TTLSeconds: 3600}); err != nil {
		b.Fatal(err)
	}
	if err := e.SetGates(ctx, core.GatesDoc{SchemaVersion: core.SchemaVersion, Source: "bench", Results: []core.GateResult{
		{Gate: "risk", Scope: "global", Status: core.GatePass, EvaluatedAt: clock.Now(), TTLSeconds: 3600}}}); err != nil {
		b.Fatal(err)
	}
	var ids atomic.Uint64
	cmd := func(bot string, op core.Op, p core.Params) core.Command {
		n := ids.Add(1)
		return core.Command{SchemaVersion: core.SchemaVersion, CommandID: fmt.Sprintf("c%d", n), Actor: coretest.Operator,
			Target: bot, Op: op, RequestedTransition: string(op), Environment: "dev", TraceID: "t", RunID: "r", Params: p}
	}
	for _, bc := range cfg.Bots {
		if o, _ := e.Submit(ctx, cmd(bc.ID, core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status != core.StatusApplied {
			b.Fatalf("start %s: %+v", bc.ID, o)
		}
	}
	var (
		next    atomic.Int64
		mu      sync.Mutex
		latency []time.Duration
		failed  atomic.Int64
	)
	work := make(chan struct{}, b.N)
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bot := cfg.Bots[c].ID
			var mine []time.Duration
			for range work {
				var op core.Op
				var p core.Params
				switch next.Add(1) % 3 {
				case 0:
					op = core.OpStatus
				case 1:
					op = core.OpPause
				case 2:
					op, p = core.OpResume, core.Params{Mode: lifecycle.Paper}
				}
				start := time.Now()
				o, err := e.Submit(ctx, cmd(bot, op, p))
				mine = append(mine, time.Since(start))
				if err != nil || (o.Status != core.StatusApplied && o.Reason != core.ReasonTransition) {
					failed.Add(1)
				}
			}
			mu.Lock()
			latency = append(latency, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d commands failed", n)
	}
	slices.Sort(latency)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cmds/s")
	b.ReportMetric(float64(latency[len(latency)*99/100].Microseconds())/1000, "p99-ms")
}
