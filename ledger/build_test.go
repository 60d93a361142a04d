package ledger

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

// buildLedger appends bench events 1..n (in about that order) to l from 2*MaxBatch writers, so
// that every group commit is full (about MaxBatch entries) and a 1M-entry
// ledger builds in about a minute, through the real append path.
func buildLedger(tb testing.TB, l *Log, n int) {
	tb.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 2 * l.opts.MaxBatch {
		wg.Go(func() {
			for i := int(next.Add(1)); i <= n; i = int(next.Add(1)) {
				if _, err := l.Append(context.Background(), benchEvent(i)); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
