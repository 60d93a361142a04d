package core_test

import (
	"sync"
	"testing"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

func TestSubmit_ConcurrentDuplicates(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	cmd := h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})
	const n = 32
	outs := make([]core.Outcome, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i] = h.Submit(cmd)
		}()
	}
	wg.Wait()
	originals := 0
	for _, o := range outs {
		if o.Status != core.StatusApplied {
			t.Fatalf("outcome %+v", o)
		}
		if !o.Duplicate {
			originals++
		}
	}
	if originals != 1 {
		t.Fatalf("%d originals, want 1", originals)
	}
	if got := len(h.Driver.CallsTo("Start")); got != 1 {
		t.Fatalf("driver Start called %d times", got)
	}
	if got := len(h.EventsOf(core.EvDuplicate)); got != n-1 {
		t.Fatalf("%d duplicate_suppressed events, want %d", got, n-1)
	}
	h.ValidateEvents()
}

func TestSubmit_DuplicateAcrossRestart(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	start := h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})
	denied := h.Cmd(coretest.Viewer, "beta", core.OpStop, core.Params{})
	live := h.Cmd(coretest.Operator, "gamma", core.OpStart, core.Params{Mode: lifecycle.Live})
	o1, o2, o3 := h.Submit(start), h.Submit(denied), h.Submit(live)
	h2 := h.Restart()
	for _, tc := range []struct {
		cmd  core.Command
		want core.Outcome
	}{{start, o1}, {denied, o2}, {live, o3}} {
		got := h2.Submit(tc.cmd)
		if !got.Duplicate || got.Status != tc.want.Status || got.Reason != tc.want.Reason || got.Seq != tc.want.Seq {
			t.Fatalf("after restart: %+v, want %+v", got, tc.want)
		}
	}
	if got := len(h2.Driver.CallsTo("Start")); got != 1 {
		t.Fatalf("driver Start called %d times", got)
	}
	if len(h2.Engine.Snapshot().Challenges) != 1 {
		t.Fatal("duplicate live start issued a second challenge")
	}
	h2.ValidateEvents()
}

// A duplicate of a challenged command answers with where it is now.
func TestSubmit_DuplicateOfConfirmedChallenge(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	cmd := h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Live})
	o := h.Submit(cmd)
	h.Confirm(o.Challenge.ID, coretest.Approver)
	again := h.Submit(cmd)
	if !again.Duplicate || again.Status != core.StatusApplied {
		t.Fatalf("duplicate after confirm: %+v", again)
	}
	if len(h.Driver.CallsTo("Start")) != 1 {
		t.Fatal("second effect")
	}
}
