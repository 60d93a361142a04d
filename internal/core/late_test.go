package core_test

import (
	"testing"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// unauditedEffects runs, with the ledger refusing appends, a quarantine
// of gamma, a global kill-switch halt and a pause of alpha (all applied,
// unaudited) and a paper start of beta (refused), and returns the
// snapshot they leave and the ledger's length before them.
func unauditedEffects(t *testing.T, h *coretest.Harness) (core.Snapshot, int) {
	t.Helper()
	h.Healthy()
	for _, b := range []string{"alpha", "gamma"} {
		if o := h.Submit(h.Cmd(coretest.Operator, b, core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status != core.StatusApplied {
			t.Fatalf("start %s: %+v", b, o)
		}
	}
	n := h.Auditor.Len()
	h.Auditor.SetFailing(true)
	for _, c := range []core.Command{
		h.Cmd(coretest.Operator, "gamma", core.OpQuarantine, core.Params{}),
		h.Cmd(coretest.Admin, "global", core.OpKillSwitchSet, core.Params{Level: string(core.LevelHalt)}),
		h.Cmd(coretest.Operator, "alpha", core.OpPause, core.Params{}),
	} {
		if o := h.Submit(c); o.Status != core.StatusApplied {
			t.Fatalf("%s %s with the ledger down: %+v, want applied (unaudited)", c.Op, c.Target, o)
		}
	}
	if o := h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status != core.StatusDenied {
		t.Fatalf("start with the ledger down: %+v", o)
	}
	if h.State("gamma") != lifecycle.Quarantined || h.State("alpha") != lifecycle.Paused {
		t.Fatalf("gamma %s, alpha %s", h.State("gamma"), h.State("alpha"))
	}
	return h.Engine.Snapshot(), n
}

// checkLate checks that evs starts with the late records of the three
// effects, in the order they took place, and holds no other late record.
func checkLate(t *testing.T, evs []core.Event) {
	t.Helper()
	var late []core.Event
	for i, ev := range evs {
		if ev.RecordedLate {
			if len(late) != i {
				t.Fatalf("late record %d after a timely one: %+v", i, ev)
			}
			late = append(late, ev)
		}
	}
	var quarantined, halted, paused int
	for i, ev := range late {
		switch {
		case ev.Type == core.EvTransition && ev.To == lifecycle.Quarantined:
			quarantined = i + 1
		case ev.Type == core.EvKillSwitch && ev.KillSwitch != nil && ev.KillSwitch.Level == core.LevelHalt:
			halted = i + 1
		case ev.Type == core.EvTransition && ev.To == lifecycle.Paused:
			paused = i + 1
		}
	}
	if quarantined == 0 || halted <= quarantined || paused <= halted {
		t.Fatalf("late records (quarantine at %d, halt at %d, pause at %d) not all there in order: %+v", quarantined, halted, paused, late)
	}
}

// Effects applied while the ledger refused them are recorded, marked
// late, before anything else once it takes appends again, so the ledger
// says what happened and a restart reproduces it.
func TestLedgerDown_UnauditedEffectsRecordedLate(t *testing.T) {
	h := coretest.NewEngine(t)
	before, n := unauditedEffects(t, h)
	h.Auditor.SetFailing(false)
	if got := h.Auditor.Len(); got != n {
		t.Fatalf("%d events recorded while the ledger refused appends", got-n)
	}
	if o := h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStatus, core.Params{})); o.Status != core.StatusApplied {
		t.Fatalf("status once the ledger is back: %+v", o)
	}
	evs := h.Events()[n:]
	checkLate(t, evs)
	if last := evs[len(evs)-1]; last.Op != core.OpStatus || last.RecordedLate {
		t.Fatalf("the status is not recorded after the late records: %+v", last)
	}
	n = h.Auditor.Len()
	h.Engine.Tick(t.Context())
	for _, ev := range h.Events()[n:] {
		if ev.RecordedLate {
			t.Fatalf("recorded late twice: %+v", ev)
		}
	}
	assertSameSnapshot(t, before, h.Restart().Engine.Snapshot())
	h.ValidateEvents()
}

// With a spill, a restart before the ledger is back keeps the effects
// (a quarantined bot stays quarantined, the halt holds) and records them
// late right after the start.
func TestLedgerDown_SpilledEffectsSurviveRestart(t *testing.T) {
	spill := &coretest.MemSpill{}
	h := coretest.NewEngine(t, coretest.WithSpill(spill))
	before, n := unauditedEffects(t, h)
	if spill.Kept() == 0 {
		t.Fatal("nothing spilled")
	}
	h2 := h.Restart() // the ledger still refuses appends
	if h2.State("gamma") != lifecycle.Quarantined {
		t.Fatalf("gamma %s after the restart, want QUARANTINED", h2.State("gamma"))
	}
	if o := h2.Submit(h2.Cmd(coretest.Operator, "beta", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status == core.StatusApplied {
		t.Fatalf("start under the spilled halt: %+v", o)
	}
	h2.Auditor.SetFailing(false)
	h2.Engine.Tick(t.Context())
	evs := h2.Events()[n:]
	if len(evs) == 0 || evs[0].Type != core.EvStarted {
		t.Fatalf("first event once the ledger is back: %+v", evs)
	}
	checkLate(t, evs[1:])
	if spill.Kept() != 0 {
		t.Fatalf("%d events still spilled after their late record", spill.Kept())
	}
	assertSameSnapshot(t, before, h2.Restart().Engine.Snapshot())
	h2.ValidateEvents()
}

// A crash after the late records but before the spill was emptied does
// not record them twice.
func TestLedgerDown_SpillOutlivingItsRecordsNotRecordedTwice(t *testing.T) {
	spill := &coretest.MemSpill{}
	h := coretest.NewEngine(t, coretest.WithSpill(spill))
	unauditedEffects(t, h)
	kept, _ := spill.Load()
	h.Auditor.SetFailing(false)
	h.Engine.Tick(t.Context())               // recorded late; the spill is emptied
	if err := spill.Save(kept); err != nil { // as if the process died before emptying it
		t.Fatal(err)
	}
	h2 := h.Restart()
	h2.Engine.Tick(t.Context())
	late := 0
	for _, ev := range h2.Events() {
		if ev.RecordedLate {
			late++
		}
	}
	if late != len(kept) {
		t.Fatalf("%d late records for %d unaudited effects", late, len(kept))
	}
	if spill.Kept() != 0 || h2.State("gamma") != lifecycle.Quarantined {
		t.Fatalf("spill %d, gamma %s", spill.Kept(), h2.State("gamma"))
	}
}

// A commit the ledger reported failed may have reached the disk all the
// same: a spilled effect found in the ledger at the next start is not
// applied or recorded again.
func TestLedgerDown_SpilledEffectThatLandedNotRecordedTwice(t *testing.T) {
	spill := &coretest.MemSpill{}
	h := coretest.NewEngine(t, coretest.WithSpill(spill))
	unauditedEffects(t, h)
	kept, _ := spill.Load()
	h.Auditor.SetFailing(false)
	for _, raw := range kept { // the "failed" appends landed after all
		if _, err := h.Auditor.Queue(t.Context(), raw); err != nil {
			t.Fatal(err)
		}
	}
	n := h.Auditor.Len()
	h2 := h.Restart()
	h2.Engine.Tick(t.Context())
	for _, ev := range h2.Events()[n:] {
		if ev.RecordedLate {
			t.Fatalf("recorded again, late: %+v", ev)
		}
	}
	if spill.Kept() != 0 || h2.State("gamma") != lifecycle.Quarantined {
		t.Fatalf("spill %d, gamma %s", spill.Kept(), h2.State("gamma"))
	}
}
