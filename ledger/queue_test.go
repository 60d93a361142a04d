package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
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

// A batch holds whole Queue calls: a call is never split across two
// commits, so it is recorded or refused as a whole.
func TestTake_WholeCallsOnly(t *testing.T) {
	req := func(size int, last bool) *appendReq {
		return &appendReq{value: make([]byte, size), last: last, done: make(chan struct{})}
	}
	cases := []struct {
		name     string
		maxBatch int
		queue    []*appendReq
		want     []int // batch sizes, in order
	}{
		{"calls of two, room for three", 3,
			[]*appendReq{req(10, false), req(10, true), req(10, false), req(10, true)}, []int{2, 2}},
		{"small calls fill a batch", 4,
			[]*appendReq{req(10, true), req(10, true), req(10, false), req(10, true), req(10, true)}, []int{4, 1}},
		{"a first call past the byte bound is taken whole", 8,
			[]*appendReq{req(maxBatchBytes, false), req(10, true), req(10, true)}, []int{2, 1}},
		{"a call after a full one waits", 8,
			[]*appendReq{req(maxBatchBytes-5, true), req(10, false), req(10, true)}, []int{1, 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := &Log{opts: Options{MaxBatch: tc.maxBatch}, queue: tc.queue}
			var got []int
			for len(l.queue) > 0 && len(got) < 10 {
				b, _ := l.take()
				if len(b) == 0 || !b[len(b)-1].last {
					t.Fatalf("batch %d of %d entries ends inside a call", len(got), len(b))
				}
				got = append(got, len(b))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("batches %v, want %v", got, tc.want)
			}
		})
	}
}

// A refused call's Wait returns only once every one of its entries is
// answered: Done is then true. The committer answers a call's entries one
// at a time; before, Wait returned at the first refused entry, and the
// core, which settles appends in order and counts on Done after Wait,
// could find its own append not Done and wait for good.
func TestPending_RefusedWaitIsDone(t *testing.T) {
	refused := fmt.Errorf("append: %w: injected", ErrUnavailable)
	p := &Pending{reqs: []*appendReq{{done: make(chan struct{})}, {done: make(chan struct{})}}}
	p.reqs[0].err = refused
	close(p.reqs[0].done) // the first entry is answered, the second not yet
	returned := make(chan error, 1)
	go func() {
		_, err := p.Wait(t.Context())
		returned <- err
	}()
	select {
	case err := <-returned:
		t.Fatalf("Wait returned (%v) with an entry unanswered: Done = %v", err, p.Done())
	case <-time.After(50 * time.Millisecond):
	}
	p.reqs[1].err = refused
	close(p.reqs[1].done)
	if err := <-returned; !errors.Is(err, ErrUnavailable) || !p.Done() {
		t.Fatalf("Wait: %v, Done %v; want ErrUnavailable and Done", err, p.Done())
	}
}

func TestQueue_RefusesAnAppendTooLargeForOneCommit(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{CheckpointInterval: time.Hour})
	big := append(append([]byte(`{"a":"`), bytes.Repeat([]byte("x"), MaxEventSize-10)...), `"}`...)
	if _, err := l.AppendAll(t.Context(), big, big); err != nil {
		t.Fatalf("two events of %d bytes: %v", len(big), err)
	}
	if _, err := l.AppendAll(t.Context(), big, big, big); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("three events of %d bytes: %v, want ErrInvalidEvent", len(big), err)
	}
	if h := l.Head(); h.Size != 2 {
		t.Fatalf("head %d after the refusal, want 2", h.Size)
	}
}
