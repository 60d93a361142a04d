package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// scanLedger holds more entries than one read-ahead batch
// (scanBatchEntries), so Scan hands batches over several times.
const scanLedgerSize = 2*scanBatchEntries + 500

func TestLog_ScanReadsAheadInOrder(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{})
	buildLedger(t, l, scanLedgerSize)
	ctx := context.Background()
	for _, from := range []uint64{0, 1, scanBatchEntries, scanLedgerSize} {
		next := max(from, 1)
		err := l.Scan(ctx, from, func(seq uint64, ev []byte) error {
			e, gerr := l.Get(ctx, seq)
			if seq != next || gerr != nil || !bytes.Equal(ev, e.Event) || !json.Valid(ev) {
				t.Fatalf("from %d: got seq %d (want %d), event %q, stored %q, %v", from, seq, next, ev, e.Event, gerr)
			}
			next++
			return nil
		})
		if err != nil || next != scanLedgerSize+1 {
			t.Fatalf("from %d: Scan = %v, ended before seq %d", from, err, next)
		}
	}
	stop := errors.New("stop")
	seen := 0
	err := l.Scan(ctx, 0, func(seq uint64, _ []byte) error {
		seen++
		if seq == scanBatchEntries+7 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || seen != scanBatchEntries+7 {
		t.Fatalf("Scan stopped by fn = %v after %d entries", err, seen)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Scan(cctx, 0, func(uint64, []byte) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Scan with a canceled context = %v", err)
	}
}

func TestLog_ScanReportsGapAfterEntriesBefore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	buildLedger(t, l, scanLedgerSize)
	l.Close()
	const gap = scanBatchEntries + 300
	tamperDB(t, dir, func(txn *badger.Txn) error { return txn.Delete(key(prefixEntry, gap)) })
	l = openTest(t, dir, Options{})
	var last uint64
	err := l.Scan(context.Background(), 0, func(seq uint64, _ []byte) error {
		last = seq
		return nil
	})
	wantBadSeq(t, err, gap, "entry missing")
	if last != gap-1 {
		t.Fatalf("Scan visited up to seq %d before reporting the gap at %d", last, gap)
	}
}
