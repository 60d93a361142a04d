package ledger

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestAppendAll_ConsecutiveUnderConcurrency(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{CheckpointInterval: time.Hour})
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 16 {
		wg.Go(func() {
			for i := range 20 {
				if w%2 == 0 { // single appends in between
					if _, err := l.Append(ctx, []byte(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i))); err != nil {
						errs <- err
					}
					continue
				}
				evs := [][]byte{[]byte(fmt.Sprintf(`{"w":%d,"i":%d,"k":0}`, w, i)), []byte(fmt.Sprintf(`{"w":%d,"i":%d,"k":1}`, w, i)),
					[]byte(fmt.Sprintf(`{"w":%d,"i":%d,"k":2}`, w, i))}
				rs, err := l.AppendAll(ctx, evs...)
				if err != nil {
					errs <- err
					continue
				}
				for k, r := range rs {
					if r.Seq != rs[0].Seq+uint64(k) {
						errs <- fmt.Errorf("receipts %d, %d, %d are not consecutive", rs[0].Seq, rs[1].Seq, rs[2].Seq)
						break
					}
					e, err := l.Get(ctx, r.Seq)
					if err != nil || string(e.Event) != string(evs[k]) {
						errs <- fmt.Errorf("entry %d = %s, %v; want %s", r.Seq, e.Event, err, evs[k])
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if h := l.Head(); h.Size != 8*20+8*20*3 {
		t.Fatalf("head = %d, want %d", h.Size, 8*20+8*20*3)
	}
	if _, err := l.Verify(ctx, 0, 0); err != nil {
		t.Fatal(err)
	}
}

func TestAppendAll_RefusesWholeCall(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{MaxBatch: 4})
	ctx := t.Context()
	good := []byte(`{"a":1}`)
	for _, tc := range []struct {
		name string
		evs  [][]byte
	}{
		{"no events", nil},
		{"more than MaxBatch", [][]byte{good, good, good, good, good}},
		{"one invalid event", [][]byte{good, []byte(`{"a": 1}`), good}},
	} {
		if _, err := l.AppendAll(ctx, tc.evs...); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s: %v, want ErrInvalidEvent", tc.name, err)
		}
	}
	if h := l.Head(); h.Size != 0 {
		t.Fatalf("refused calls recorded %d entries", h.Size)
	}
	rs, err := l.AppendAll(ctx, good, good, good, good)
	if err != nil || len(rs) != 4 || rs[3].Seq != 4 {
		t.Fatalf("AppendAll of MaxBatch events: %v, %v", rs, err)
	}
}
