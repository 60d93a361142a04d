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

// A command_id reused for another op or target does nothing and says so
// (command_id_conflict), rather than answering the first command's
// outcome as if it were this one's: a script must not read "applied" for
// a stop that never ran. Also once the first outcome is retired from
// memory and read back from the ledger.
func TestSubmit_IDReusedForAnotherCommand(t *testing.T) {
	for _, recent := range []int{0, 1} {
		h := coretest.NewEngine(t, coretest.WithConfig(func(c *core.Config) { c.RecentOutcomes = recent }))
		h.Healthy()
		h.Submit(h.Cmd(coretest.Operator, "gamma", core.OpStart, core.Params{Mode: lifecycle.Paper}))
		first := h.Cmd(coretest.Operator, "alpha", core.OpStatus, core.Params{})
		if o := h.Submit(first); o.Status != core.StatusApplied {
			t.Fatalf("status: %+v", o)
		}
		for range 3 { // push the first outcome out of memory when recent is 1
			h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStatus, core.Params{}))
		}
		stop := h.Cmd(coretest.Operator, "gamma", core.OpStop, core.Params{})
		stop.CommandID = first.CommandID
		o := h.Submit(stop)
		if o.Status != core.StatusDenied || o.Reason != core.ReasonIDConflict || !o.Duplicate || o.Op != core.OpStop || o.Target != "gamma" {
			t.Fatalf("recent %d: stop under a status's id: %+v", recent, o)
		}
		if h.State("gamma") != lifecycle.RunningPaper || len(h.Driver.CallsTo("Stop")) != 0 {
			t.Fatalf("recent %d: the conflicting stop ran", recent)
		}
		if again := h.Submit(first); again.Status != core.StatusApplied || !again.Duplicate {
			t.Fatalf("recent %d: a true retry: %+v", recent, again)
		}
		dups := h.EventsOf(core.EvDuplicate)
		if len(dups) != 2 || dups[0].Reason != core.ReasonIDConflict || dups[0].Op != core.OpStop {
			t.Fatalf("recent %d: duplicates recorded %+v", recent, dups)
		}
		h.ValidateEvents()
	}
}
