package ledger

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestCompactRange_PushStoredMatchesTlog(t *testing.T) {
	t.Parallel()
	stored := map[int64]tlog.Hash{}
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	var c compactRange
	for n := int64(0); n < 300; n++ {
		chain := sha256Sum([]byte{byte(n), byte(n >> 8)})
		if leafHash(chain) != tlog.RecordHash(chain[:]) {
			t.Fatal("leafHash differs from tlog.RecordHash")
		}
		want, err := tlog.StoredHashesForRecordHash(n, tlog.RecordHash(chain[:]), reader)
		if err != nil {
			t.Fatal(err)
		}
		got := c.pushStored(nil, leafHash(chain))
		if len(got) != len(want) {
			t.Fatalf("leaf %d: %d stored hashes, tlog stores %d", n, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("leaf %d: stored hash %d differs from tlog's", n, i)
			}
			stored[tlog.StoredHashIndex(0, n)+int64(i)] = want[i]
		}
		root, _ := tlog.TreeHash(n+1, reader)
		if c.root() != root {
			t.Fatalf("size %d: root differs from tlog.TreeHash", n+1)
		}
	}
}

// chunkedLedger is a 40-entry ledger whose Verify works in chunks of 4
// entries, with checkpoints at several sizes, closed for tampering.
func chunkedLedger(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	l := openTest(t, dir, Options{CheckpointEvery: 1 << 30})
	appendN(t, l, 1, 40)
	for _, size := range []uint64{3, 8, 16, 17, 33, 40} {
		if _, err := l.CheckpointAt(context.Background(), size); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	return dir
}

func openChunked(t *testing.T, dir string) *Log {
	t.Helper()
	l := openTest(t, dir, Options{CheckpointEvery: 1 << 30})
	l.chunkLeaves = 4
	return l
}

func TestVerify_ChunkedRanges(t *testing.T) {
	t.Parallel()
	l := openChunked(t, chunkedLedger(t))
	cps := map[uint64]bool{3: true, 8: true, 16: true, 17: true, 33: true, 40: true}
	for _, rg := range [][2]uint64{{1, 40}, {1, 1}, {2, 9}, {5, 8}, {16, 17}, {17, 40}, {40, 40}, {13, 33}, {4, 4}} {
		rep, err := l.Verify(context.Background(), rg[0], rg[1])
		if err != nil {
			t.Fatalf("range %v: %v", rg, err)
		}
		want := 0
		for s := range cps {
			if s >= rg[0] && s <= rg[1] {
				want++
			}
		}
		if rep.Entries != rg[1]-rg[0]+1 || rep.Checkpoints != want || rep.Bytes == 0 {
			t.Fatalf("range %v: report %+v, want %d checkpoints", rg, rep, want)
		}
	}
}

func TestVerify_ChunkedReportsFirstFailure(t *testing.T) {
	t.Parallel()
	flip := func(seqs ...uint64) func(*testing.T) func(*badger.Txn) error {
		return func(t *testing.T) func(*badger.Txn) error {
			return func(txn *badger.Txn) error {
				for _, s := range seqs {
					if err := flipAt(t, s, func(v []byte) int { return len(v) - 3 })(txn); err != nil {
						return err
					}
				}
				return nil
			}
		}
	}
	setHash := func(level int, index int64) func(*testing.T) func(*badger.Txn) error {
		return func(t *testing.T) func(*badger.Txn) error {
			return func(txn *badger.Txn) error { // zero the node's hash where its last leaf's entry stores it
				seq := uint64(index+1) << level
				v := getValue(t, txn, seq)
				clear(v[entryHeaderSize+(level-1)*32:][:32])
				return txn.Set(key(prefixEntry, seq), v)
			}
		}
	}
	del := func(seq uint64) func(*testing.T) func(*badger.Txn) error {
		return func(*testing.T) func(*badger.Txn) error {
			return func(txn *badger.Txn) error { return txn.Delete(key(prefixEntry, seq)) }
		}
	}
	cases := []struct {
		name     string
		tamper   func(*testing.T) func(*badger.Txn) error
		from, to uint64
		seq      uint64
		problem  string
	}{
		{"first entry of a chunk", flip(9), 0, 0, 9, "hash mismatch"},
		{"last entry of a chunk", flip(12), 0, 0, 12, "hash mismatch"},
		{"two chunks: the earlier wins", flip(30, 6), 0, 0, 6, "hash mismatch"},
		{"subrange starting mid-chunk", flip(12, 3), 10, 0, 12, "hash mismatch"},
		{"Merkle hash at the chunk's root", setHash(2, 0), 0, 0, 4, "Merkle hash mismatch"},
		{"Merkle hash above the chunks", setHash(3, 0), 0, 0, 8, "Merkle hash mismatch"},
		{"Merkle hash above, checked from a later chunk", setHash(4, 0), 9, 0, 16, "Merkle hash mismatch"},
		{"deleted last entry of a chunk", del(8), 0, 0, 8, "entry missing"},
		{"deleted first entry of a chunk", del(9), 0, 0, 9, "entry missing"},
		{"deleted entry just before the range", del(12), 13, 0, 12, "entry missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := chunkedLedger(t)
			tamperDB(t, dir, tc.tamper(t))
			_, err := openChunked(t, dir).Verify(context.Background(), tc.from, tc.to)
			wantBadSeq(t, err, tc.seq, tc.problem)
		})
	}
}

func TestVerify_CheckpointRootInLaterChunk(t *testing.T) {
	t.Parallel()
	dir := chunkedLedger(t)
	// A checkpoint signed by the ledger's key for size 33 but over another
	// root: only the chunk holding seq 33 can tell.
	l := openChunked(t, dir)
	note, err := note.Sign(&note.Note{Text: Checkpoint{Origin: l.Origin(), Size: 33}.Body()}, l.keys.signer)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	tamperDB(t, dir, func(txn *badger.Txn) error { return txn.Set(key(prefixCheckpoint, 33), note) })
	_, err = openChunked(t, dir).Verify(context.Background(), 0, 0)
	wantBadSeq(t, err, 33, "Merkle root mismatch")
}

func TestVerify_Canceled(t *testing.T) {
	t.Parallel()
	l := openChunked(t, chunkedLedger(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Verify(ctx, 0, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify with a canceled context = %v", err)
	}
}

// Verify's feeder and workers read snapshots while appends go on, and a
// cancel in mid-walk stops them all (a hang here is a deadlock).
func TestVerify_WhileAppendingAndCanceledMidway(t *testing.T) {
	t.Parallel()
	l := openChunked(t, chunkedLedger(t))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 400 {
			if _, err := l.Append(context.Background(), testEvent(1000+i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for verified := 0; ; verified++ {
		size := l.Head().Size
		rep, err := l.Verify(context.Background(), 0, size)
		if err != nil || rep.Entries != size {
			t.Fatalf("verify 1..%d while appending: %+v, %v", size, rep, err)
		}
		select {
		case <-done:
			if verified == 0 {
				t.Fatal("no Verify overlapped the appends")
			}
			for i := range 20 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i)*100*time.Microsecond)
				_, err := l.Verify(ctx, 0, 0)
				cancel()
				if err != nil && !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Verify canceled midway: %v, want success or the deadline", err)
				}
			}
			return
		default:
		}
	}
}

func TestLog_AppendAfterRefusalKeepsChainDense(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{})
	appendN(t, l, 1, 5)
	l.opts.MinFreeBytes = 1 << 62 // every commit is refused
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 5 {
				if _, err := l.Append(context.Background(), testEvent(100+10*w+i)); !errors.Is(err, ErrUnavailable) {
					t.Errorf("Append while refused = %v, want ErrUnavailable", err)
				}
			}
		})
	}
	wg.Wait()
	l.opts.MinFreeBytes = 0
	for i := 6; i <= 10; i++ {
		r, err := l.Append(context.Background(), testEvent(i))
		if err != nil || r.Seq != uint64(i) {
			t.Fatalf("Append after the refusal = %+v, %v; want seq %d", r, err, i)
		}
	}
	if _, err := l.Verify(context.Background(), 0, 0); err != nil {
		t.Fatal(err)
	}
}
