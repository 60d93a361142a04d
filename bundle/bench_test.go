package bundle

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
	"github.com/botwarden/botwarden/ledger"
)

// benchLedger is the large ledger BenchmarkBuild shares across b.N and
// -count runs in one process: building it takes minutes.
var benchLedger struct {
	once sync.Once
	dir  string
	log  *ledger.Log
	err  error
}

// benchEntries is the ledger size: 1M unless BOTWARDEN_BENCH_ENTRIES says.
func benchEntries() int {
	if n, err := strconv.Atoi(os.Getenv("BOTWARDEN_BENCH_ENTRIES")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// benchStart is the first entry's time; entries are one second apart, so
// a 24h window holds the last 86,400 of them.
var benchStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func openBenchLedger(b *testing.B) *ledger.Log {
	benchLedger.once.Do(func() {
		benchLedger.dir, benchLedger.err = os.MkdirTemp("", "botwarden-bundle-bench-")
		if benchLedger.err != nil {
			return
		}
		benchLedger.log, benchLedger.err = fillLedger(benchLedger.dir, benchEntries())
	})
	if benchLedger.err != nil {
		b.Fatal(benchLedger.err)
	}
	return benchLedger.log
}

// appendConcurrently appends event(i) for i in [from, to) from workers
// goroutines, so the ledger group-commits them, and returns the first
// error.
func appendConcurrently(l *ledger.Log, from, to, workers int, event func(i int64) []byte) error {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(to); i = next.Add(1) - 1 {
				if _, err := l.Append(context.Background(), event(i)); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// fillLedger appends n events for 100 bots from many goroutines, so the
// ledger group-commits them.
func fillLedger(dir string, n int) (*ledger.Log, error) {
	var tick atomic.Int64
	now := func() time.Time { return benchStart.Add(time.Duration(tick.Add(1)) * time.Second) }
	l, err := ledger.Open(context.Background(), dir, ledger.Options{Environment: "bench", Now: now, CheckpointEvery: 100_000})
	if err != nil {
		return nil, err
	}
	if err := appendConcurrently(l, 0, n, 512, func(i int64) []byte {
		return fmt.Appendf(nil, `{"event_type":"bot.state.transition","target":"bot-%03d","from":"IDLE","to":"RUNNING_PAPER","n":%d}`, i%100, i+1)
	}); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func benchSnapshot() core.Snapshot {
	s := core.Snapshot{Environment: "bench", Safety: core.SafetyView{Mode: core.SafetyNormal}}
	for i := 0; i < 100; i++ {
		s.Bots = append(s.Bots, core.BotView{ID: fmt.Sprintf("bot-%03d", i), Group: fmt.Sprintf("g%d", i%5),
			State: lifecycle.RunningPaper, Mode: lifecycle.Paper, KillSwitch: core.LevelOff})
	}
	return s
}

// BenchmarkBuild builds a bundle for one bot of a 100-bot fleet whose
// ledger holds 1M entries; only the 24h window (86,400 entries) is
// exported. It reports the build time and the peak heap while building.
func BenchmarkBuild(b *testing.B) {
	l := openBenchLedger(b)
	ring := NewRing(10_000, 8<<20, nil)
	for i := 0; i < 10_000; i++ {
		fmt.Fprintf(ring, `{"level":"info","bot":"bot-%03d","i":%d,"message":"tick"}`+"\n", i%100, i)
	}
	dir := b.TempDir()
	end := benchStart.Add(time.Duration(benchEntries()) * time.Second)
	bld, err := New(Options{Dir: dir, Environment: "bench", Now: func() time.Time { return end }, Keep: 2},
		Sources{Snapshot: benchSnapshot, Ledger: l, Logs: ring,
			Secrets: func() []string { return []string{"xoxb-bench-secret-token", "bench-signing-secret"} },
			Config:  func() any { return map[string]any{"bots": 100} },
			Diagnostics: func(_ context.Context, bot string) (any, error) {
				return map[string]any{"bot": bot, "phase": "running"}, nil
			}})
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	base := heapObjects()
	peak := &peakHeap{}
	stop := peak.sample(5 * time.Millisecond)
	defer stop()
	b.ResetTimer()
	var exported uint64
	for i := 0; i < b.N; i++ {
		res, err := bld.Build(context.Background(), core.BundleRequest{Target: "bot-042", Actor: "bench", CommandID: fmt.Sprint("c", i)})
		if err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			rep, err := Inspect(context.Background(), res.Path, InspectOptions{VerifierKey: l.VerifierKey()})
			if err != nil {
				b.Fatal(err)
			}
			exported = rep.Ledger.Entries
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/bundle")
	b.ReportMetric(float64(peak.max.Load())/(1<<20), "peak-heap-MiB")
	b.ReportMetric((float64(peak.max.Load())-float64(base))/(1<<20), "heap-growth-MiB")
	b.ReportMetric(float64(exported), "entries-exported")
}

// peakHeap samples the live heap (runtime/metrics) and keeps the maximum.
type peakHeap struct{ max atomic.Uint64 }

func (p *peakHeap) sample(every time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if v := heapObjects(); v > p.max.Load() {
				p.max.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// heapObjects returns the bytes of live and not-yet-swept heap objects.
func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestMain removes the shared benchmark ledger after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchLedger.log != nil {
		benchLedger.log.Close()
	}
	if benchLedger.dir != "" {
		os.RemoveAll(benchLedger.dir)
	}
	os.Exit(code)
}
