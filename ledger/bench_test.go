package ledger

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// benchEntries is the ledger size for the export benchmarks and the
// smaller verify/scan run: BOTWARDEN_BENCH_ENTRIES, default 100,000.
func benchEntries(def int) int {
	if n, err := strconv.Atoi(os.Getenv("BOTWARDEN_BENCH_ENTRIES")); err == nil && n > 0 {
		return n
	}
	return def
}

// benchEvent is a ~400-byte compact JSON event.
func benchEvent(i int) []byte {
	return fmt.Appendf(nil, `{"schema_version":"1.0","type":"command.result","command_id":"cmd-%012d","actor":"U024BE7LH","target":"bot-alpha-7","op":"start","status":"applied","from":"IDLE","to":"RUNNING_PAPER","environment":"prod","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","run_id":"run-2026-01-02","detail":"started in paper mode after explicit confirmation by a second person","pad":"%s"}`, i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
}

func benchOpen(b *testing.B, dir string) *Log {
	b.Helper()
	l, err := Open(context.Background(), dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func BenchmarkAppend(b *testing.B) {
	b.Run("sequential", func(b *testing.B) {
		l := benchOpen(b, b.TempDir())
		defer l.Close()
		ev := benchEvent(1)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := l.Append(context.Background(), ev); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	for _, writers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			l := benchOpen(b, b.TempDir())
			defer l.Close()
			ev := benchEvent(1)
			var left atomic.Int64
			left.Store(int64(b.N))
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for left.Add(-1) >= 0 {
						if _, err := l.Append(context.Background(), ev); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(float64(b.N)/float64(l.commits.Load()), "entries/commit")
		})
	}
}

// BenchmarkBadgerBaseline is the raw cost this machine charges for
// durability: one synced Badger transaction per 400-byte value.
func BenchmarkBadgerBaseline(b *testing.B) {
	for _, writers := range []int{1, 64} {
		name := "sequential"
		if writers > 1 {
			name = fmt.Sprintf("writers=%d", writers)
		}
		b.Run(name, func(b *testing.B) {
			db, err := badger.Open(badger.DefaultOptions(b.TempDir()).WithSyncWrites(true).WithLogger(nil))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			val := bytes.Repeat([]byte("v"), 400)
			var seq atomic.Uint64
			var wg sync.WaitGroup
			var left atomic.Int64
			left.Store(int64(b.N))
			b.ResetTimer()
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for left.Add(-1) >= 0 {
						k := key('k', seq.Add(1))
						if err := db.Update(func(txn *badger.Txn) error { return txn.Set(k, val) }); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// sharedLedger builds (once per process) a ledger of n entries.
var shared struct {
	sync.Mutex
	dirs map[int]string
}

func sharedLedger(b *testing.B, n int) string {
	shared.Lock()
	defer shared.Unlock()
	if d, ok := shared.dirs[n]; ok {
		return d
	}
	if keep := os.Getenv("BOTWARDEN_BENCH_KEEP"); keep != "" { // reuse across runs (development)
		dir := filepath.Join(keep, fmt.Sprintf("ledger-%d", n))
		if l, err := Open(context.Background(), dir, Options{}); err == nil {
			size := l.Head().Size
			l.Close()
			if size == uint64(n) {
				return dir
			}
		}
		os.RemoveAll(dir)
		buildShared(b, dir, n)
		return dir
	}
	dir, err := os.MkdirTemp("", "ledger-bench-")
	if err != nil {
		b.Fatal(err)
	}
	buildShared(b, dir, n)
	if shared.dirs == nil {
		shared.dirs = map[int]string{}
	}
	shared.dirs[n] = dir
	return dir
}

// benchSizes are the ledger sizes of the verify and scan benchmarks: the
// issue's 100k (BOTWARDEN_BENCH_ENTRIES) and the 1M of the open benchmark
// (BOTWARDEN_BENCH_OPEN_ENTRIES).
func benchSizes() []int {
	if a, b := benchEntries(100_000), benchOpenEntries(); a != b {
		return []int{a, b}
	}
	return []int{benchEntries(100_000)}
}

// BenchmarkVerify verifies a whole stored ledger; the table pages are
// released after each run, as in the service, so each run maps them again.
// buildShared builds a ledger of n entries in dir, then lets Badger finish
// the compactions of the bulk load (Flatten), as a ledger that has been
// running for a while would have, so that the benchmarks after it do not
// compete with them for the two cores.
func buildShared(b *testing.B, dir string, n int) {
	l := benchOpen(b, dir)
	buildLedger(b, l, n)
	if err := l.db.Flatten(2); err != nil {
		b.Fatal(err)
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			l := benchOpen(b, sharedLedger(b, n))
			defer l.Close()
			b.ResetTimer()
			cpu := cpuTime()
			var bytesDone int64
			for i := 0; i < b.N; i++ {
				rep, err := l.Verify(context.Background(), 0, 0)
				if err != nil {
					b.Fatal(err)
				}
				bytesDone += rep.Bytes
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(float64(bytesDone)/1e6/b.Elapsed().Seconds(), "MB/s")
			reportCPU(b, cpu, n)
		})
	}
}

// BenchmarkScan replays the whole ledger, as the core does at start.
func BenchmarkScan(b *testing.B) {
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			l := benchOpen(b, sharedLedger(b, n))
			defer l.Close()
			b.ResetTimer()
			cpu := cpuTime()
			var size int64
			for i := 0; i < b.N; i++ {
				if err := l.Scan(context.Background(), 0, func(_ uint64, ev []byte) error {
					size += int64(len(ev))
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(float64(size)/1e6/b.Elapsed().Seconds(), "MB/s")
			reportCPU(b, cpu, n)
		})
	}
}

func BenchmarkExport(b *testing.B) {
	n := benchEntries(100_000)
	l := benchOpen(b, sharedLedger(b, n))
	defer l.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Export(context.Background(), io.Discard, 0, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
}

func BenchmarkVerifyExport(b *testing.B) {
	n := benchEntries(100_000)
	l := benchOpen(b, sharedLedger(b, n))
	path := filepath.Join(b.TempDir(), "export.jsonl")
	f, _ := os.Create(path)
	cp, err := l.Export(context.Background(), f, 0, 0)
	f.Close()
	key := l.VerifierKey()
	l.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var size int64
	for i := 0; i < b.N; i++ {
		f, _ := os.Open(path)
		rep, err := VerifyExport(context.Background(), f, cp, key, nil)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		size += rep.Bytes
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(size)/1e6/b.Elapsed().Seconds(), "MB/s")
}

// benchOpenEntries is the ledger size for the open and memory
// benchmarks: BOTWARDEN_BENCH_OPEN_ENTRIES, default 1,000,000.
func benchOpenEntries() int {
	if v, err := strconv.Atoi(os.Getenv("BOTWARDEN_BENCH_OPEN_ENTRIES")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// BenchmarkOpen measures Open (recovery and checks against the latest
// checkpoint) plus Close of a ledger of benchOpenEntries entries, built
// once per process.
func BenchmarkOpen(b *testing.B) {
	n := benchOpenEntries()
	dir := sharedLedger(b, n)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l := benchOpen(b, dir)
		if err := l.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/open")
	b.ReportMetric(float64(n), "entries")
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU seconds spent per million entries since
// start: unlike entries/s it does not depend on how loaded the machine
// is (on an idle machine, entries/s ≈ cores × 1e6 / this).
func reportCPU(b *testing.B, start time.Duration, n int) {
	b.ReportMetric((cpuTime()-start).Seconds()/float64(b.N)/float64(n)*1e6, "cpu-s/M")
}
