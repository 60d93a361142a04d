package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Entries get seqs in the order Queue calls return, so a caller that
// queues under its own lock knows the ledger's order before any sync.
func TestQueue_OrderIsCallOrder(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{CheckpointInterval: time.Hour})
	ctx := t.Context()
	var mu sync.Mutex
	var order []int // writer ids in the order their Queue returned
	seqs := make([][]Receipt, 32)
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			n := 1 + w%3
			evs := make([][]byte, n)
			for k := range evs {
				evs[k] = []byte(fmt.Sprintf(`{"w":%d,"k":%d}`, w, k))
			}
			mu.Lock()
			p, err := l.Queue(ctx, evs...)
			order = append(order, w)
			mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			rs, err := p.Wait(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			seqs[w] = rs
		})
	}
	wg.Wait()
	next := uint64(1)
	for _, w := range order {
		for k, r := range seqs[w] {
			if r.Seq != next {
				t.Fatalf("writer %d event %d: seq %d, want %d (queue order)", w, k, r.Seq, next)
			}
			next++
		}
	}
	if _, err := l.Verify(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
}

// Wait can be given up on and asked again; Queue refuses bad input whole
// and keeps no place in the bounded queue for it.
func TestQueue_WaitAgainAndRefusals(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{MaxBatch: 2, CheckpointInterval: time.Hour})
	first, err := l.Queue(t.Context(), []byte(`{"a":1}`), []byte(`{"a":2}`))
	if err != nil {
		t.Fatal(err)
	}
	second, err := l.Queue(t.Context(), []byte(`{"a":3}`))
	if err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := first.Wait(gone); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("wait with an ended context: %v", err)
	}
	rs, err := second.Wait(t.Context()) // out of order: fine
	if err != nil || rs[0].Seq != 3 {
		t.Fatalf("second: %+v, %v", rs, err)
	}
	rs, err = first.Wait(t.Context())
	if err != nil || len(rs) != 2 || rs[0].Seq != 1 || rs[1].Seq != 2 {
		t.Fatalf("first, asked again: %+v, %v", rs, err)
	}
	for range 4 * 2 * 3 { // more than the queue's 4*MaxBatch places, if refusals kept any
		if _, err := l.Queue(t.Context(), []byte(`{"a": 1}`)); !errors.Is(err, ErrInvalidEvent) {
			t.Fatalf("non-compact event: %v, want ErrInvalidEvent", err)
		}
	}
	if _, err := l.AppendAll(t.Context(), []byte(`{"a":4}`), []byte(`{"a":5}`)); err != nil {
		t.Fatalf("append after refusals: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Queue(context.Background(), []byte(`{"a":6}`)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("queue on a closed ledger: %v, want ErrUnavailable", err)
	}
}

// Any number of goroutines may wait on one Pending; Done reports it
// answered once Wait has returned.
func TestPending_ManyWaitersAndDone(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{CheckpointInterval: time.Hour})
	p, err := l.Queue(t.Context(), []byte(`{"a":1}`), []byte(`{"a":2}`))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if rs, err := p.Wait(t.Context()); err != nil || len(rs) != 2 || rs[1].Seq != 2 {
				t.Errorf("wait: %+v, %v", rs, err)
			}
		})
	}
	wg.Wait()
	if !p.Done() {
		t.Fatal("Done is false after Wait returned")
	}
}
