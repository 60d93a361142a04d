package ledger

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
)

func TestLog_AppendScan(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{})
	ctx := context.Background()
	var prev [32]byte
	for i := 1; i <= 5; i++ {
		r, err := l.Append(ctx, testEvent(i))
		if err != nil {
			t.Fatal(err)
		}
		if r.Seq != uint64(i) {
			t.Fatalf("seq = %d, want %d", r.Seq, i)
		}
		e, err := l.Get(ctx, r.Seq)
		if err != nil {
			t.Fatal(err)
		}
		if e.Prev != prev || e.Hash != r.Hash || ChainHash(e.Seq, e.Time.UnixNano(), e.Prev, e.Event) != r.Hash {
			t.Fatalf("entry %d: chain does not link or hash", i)
		}
		prev = r.Hash
	}
	var got []string
	err := l.Scan(ctx, 2, func(seq uint64, ev []byte) error {
		if !bytes.Equal(ev, testEvent(int(seq))) {
			t.Errorf("seq %d: event %s", seq, ev)
		}
		got = append(got, string(ev))
		return nil
	})
	if err != nil || len(got) != 4 {
		t.Fatalf("Scan: %v, %d entries", err, len(got))
	}
	if h := l.Head(); h.Size != 5 || h.Hash != prev {
		t.Fatalf("head = %+v", h)
	}
}

func TestLog_AppendRejectsInvalid(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{})
	for _, ev := range []string{``, `[]`, `"x"`, `{"a":1} `, `{ "a":1}`, "{\"a\":\n1}", `{"a":`, `{"a":1}{"b":2}`, `null`} {
		if _, err := l.Append(context.Background(), []byte(ev)); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("Append(%q) = %v, want ErrInvalidEvent", ev, err)
		}
	}
	if l.Head().Size != 0 {
		t.Fatal("an invalid event was recorded")
	}
}

func TestLog_ConcurrentAppendIsDense(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{})
	const writers, each = 16, 40
	seen := make([]bool, writers*each+1)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				r, err := l.Append(context.Background(), testEvent(w*each+i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[r.Seq] {
					t.Errorf("seq %d handed out twice", r.Seq)
				}
				seen[r.Seq] = true
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	for seq := 1; seq < len(seen); seq++ {
		if !seen[seq] {
			t.Fatalf("seq %d never acknowledged", seq)
		}
	}
	if _, err := l.Verify(context.Background(), 0, 0); err != nil {
		t.Fatal(err)
	}
}

func TestLog_ExportVerifiesOffline(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{})
	appendN(t, l, 1, 37)
	for _, rg := range [][2]uint64{{1, 37}, {1, 1}, {5, 20}, {17, 37}, {37, 37}, {33, 33}} {
		exp, cp := exportAll(t, l, rg[0], rg[1])
		rep, err := VerifyExport(context.Background(), bytes.NewReader(exp), cp, l.VerifierKey(), nil)
		if err != nil {
			t.Fatalf("range %v: %v", rg, err)
		}
		if rep.From != rg[0] || rep.To != rg[1] || rep.Entries != rg[1]-rg[0]+1 {
			t.Fatalf("range %v: report %+v", rg, rep)
		}
	}
}

func TestLog_ReopenKeepsHistory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 1, 10)
	h := l.Head()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(context.Background(), testEvent(1)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append after Close = %v, want ErrUnavailable", err)
	}
	l2 := openTest(t, dir, Options{})
	if l2.Head() != h {
		t.Fatalf("head after reopen = %+v, want %+v", l2.Head(), h)
	}
	if l2.LatestCheckpoint() == nil {
		t.Fatal("Close did not sign the head")
	}
	appendN(t, l2, 11, 3)
	if _, err := l2.Verify(context.Background(), 0, 0); err != nil {
		t.Fatal(err)
	}
}
