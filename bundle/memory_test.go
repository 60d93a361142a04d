package bundle

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/ledger"
)

// TestBuild_MemoryStaysFlat proves a bundle is streamed: the peak live
// heap a fleet build adds does not grow with the exported ledger slice.
// The same ledger is bundled at 4,000 and at 40,000 entries of ~400
// bytes (about 2.4 MB and 24 MB of export); the larger build may not
// add more than a few times what the smaller one did, plus a fixed
// slack. A build that held the export in memory would add its 24 MB.
func TestBuild_MemoryStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("appends 40,000 ledger entries")
	}
	const small, large = 4_000, 40_000
	var tick atomic.Int64
	l, err := ledger.Open(context.Background(), t.TempDir(), ledger.Options{Environment: "dev",
		Now: func() time.Time { return t0.Add(time.Duration(tick.Add(1)) * time.Millisecond) }})
	if err != nil {
		t.Fatalf("ledger.Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	b := newTestBuilder(t, t.TempDir(), testSources(t, l))

	// A low GC target keeps dead objects from passing for live ones, so
	// the sampled heap is close to what the build holds at each moment.
	defer debug.SetGCPercent(debug.SetGCPercent(10))

	// A fleet bundle with no FleetWindow exports the whole log.
	appendEvents(t, l, 0, small)
	growSmall := buildGrowth(t, b, "small")
	appendEvents(t, l, small, large)
	growLarge := buildGrowth(t, b, "large")

	const slack = 12 << 20
	t.Logf("peak heap growth: %d entries %.1f MiB, %d entries %.1f MiB", small, mib(growSmall), large, mib(growLarge))
	if limit := 3*growSmall + slack; growLarge > limit {
		t.Errorf("bundling %d entries added %.1f MiB of heap, %d entries %.1f MiB: over the %.1f MiB allowed, so the build holds memory in proportion to the ledger slice",
			large, mib(growLarge), small, mib(growSmall), mib(limit))
	}
}

// appendEvents appends events from..to-1 of ~400 bytes each from many
// goroutines, so the ledger group-commits them.
func appendEvents(t *testing.T, l *ledger.Log, from, to int) {
	t.Helper()

	pad := strings.Repeat("tick ok ", 40) // 320 bytes
	err := appendConcurrently(l, from, to, 256, func(i int64) []byte {
		return fmt.Appendf(nil, `{"event_type":"bot.state.transition","target":"bot-%03d","n":%d,"note":%q}`, i%100, i, pad)
	})
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	if got := l.Head().Size; got != uint64(to) {
		t.Fatalf("ledger holds %d entries, want %d", got, to)
	}
}

// buildGrowth builds a fleet bundle and returns the peak live heap during
// the build above the collected heap before it.
func buildGrowth(t *testing.T, b *Builder, name string) uint64 {
	t.Helper()
	runtime.GC()
	base := heapObjects()
	peak := &peakHeap{}
	stop := peak.sample(time.Millisecond)
	_, err := b.Build(context.Background(), core.BundleRequest{Target: fleetTarget, Actor: "U1", CommandID: "mem-" + name})
	stop()
	if err != nil {
		t.Fatalf("Build %s: %v", name, err)
	}
	if m := peak.max.Load(); m > base {
		return m - base
	}
	return 0
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }
