package coretest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
)

func TestMemAuditor_FailureInjection(t *testing.T) {
	ctx := context.Background()
	a := NewMemAuditor()
	appendAll := func(ctx context.Context, evs ...[]byte) ([]core.Receipt, error) {
		p, err := a.Queue(ctx, evs...)
		if err != nil {
			return nil, err
		}
		return p.Wait(ctx)
	}
	if r, err := appendAll(ctx, []byte(`{"a":1}`)); err != nil || r[0].Seq != 1 {
		t.Fatalf("append: %+v %v", r, err)
	}
	a.FailAfter(1)
	if _, err := appendAll(ctx, []byte(`{}`), []byte(`{}`)); !errors.Is(err, core.ErrAuditUnavailable) || a.Len() != 1 {
		t.Fatalf("two events past the limit: %v, %d recorded; want a whole failure", err, a.Len())
	}
	a.SetFailing(false)
	a.FailAfter(1)
	if _, err := appendAll(ctx, []byte(`{}`)); err != nil {
		t.Fatalf("append before failing: %v", err)
	}
	if _, err := appendAll(ctx, []byte(`{}`)); !errors.Is(err, core.ErrAuditUnavailable) {
		t.Fatalf("want ErrAuditUnavailable, got %v", err)
	}
	a.SetFailing(false)
	if r, _ := appendAll(ctx, []byte(`{}`), []byte(`{}`)); len(r) != 2 || r[0].Seq != 3 || r[1].Seq != 4 {
		t.Fatalf("receipts after recovery %+v, want 3 and 4", r)
	}
	a.Truncate(1)
	var seen []uint64
	_ = a.Replay(ctx, func(seq uint64, ev []byte) error { seen = append(seen, seq); return nil })
	if len(seen) != 1 || a.Len() != 1 {
		t.Fatalf("replay after truncate: %v", seen)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := appendAll(cctx, []byte(`{}`)); !errors.Is(err, core.ErrAuditUnavailable) {
		t.Fatalf("cancelled append: %v", err)
	}
}

func TestDriver_RecordsAndInjects(t *testing.T) {
	ctx := context.Background()
	d := NewDriver()
	m := core.BotMeta{Bot: "a", CommandID: "c1"}
	if err := d.Start(ctx, m, "paper"); err != nil {
		t.Fatal(err)
	}
	if st, _ := d.Status(ctx, "a"); !st.Alive || st.Mode != "paper" {
		t.Fatalf("status after start: %+v", st)
	}
	d.FailNext("Stop", ErrInjected)
	if err := d.Stop(ctx, m); !errors.Is(err, ErrInjected) {
		t.Fatalf("injected: %v", err)
	}
	d.SetSlowStop(true)
	_ = d.Stop(ctx, m)
	if st, _ := d.Status(ctx, "a"); st.Stopped {
		t.Fatal("slow stop stopped at once")
	}
	d.SetDelay(time.Hour)
	tctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := d.Pause(tctx, m); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("delayed call: %v", err)
	}
	if n := len(d.Calls()); n != 4 {
		t.Fatalf("calls %d", n)
	}
}

func TestClock(t *testing.T) {
	c := NewClock(Epoch)
	c.Advance(time.Minute)
	if !c.Now().Equal(Epoch.Add(time.Minute)) {
		t.Fatal("advance")
	}
	c.Set(Epoch)
	if !c.Now().Equal(Epoch) {
		t.Fatal("set")
	}
}

func TestNewEngine_DemoReady(t *testing.T) {
	h := NewEngine(t)
	if h.Engine.Environment() != "dev" || len(h.Engine.Snapshot().Bots) != 3 || h.State("alpha") != "IDLE" {
		t.Fatalf("harness: %+v", h.Engine.Snapshot())
	}
	h.ValidateEvents()
}
