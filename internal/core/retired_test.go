package core_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// everyOutcome submits commands ending in each kind of outcome (applied,
// denied, failed, challenge open, rejected, confirmed and applied) and
// returns them with their outcomes as Outcome gives them.
func everyOutcome(t *testing.T, h *coretest.Harness) ([]core.Command, map[string]core.Outcome) {
	t.Helper()
	paper := core.Params{Mode: lifecycle.Paper}
	compact := core.Params{DataAction: "compact"}
	cmds := []core.Command{
		h.Cmd(coretest.Operator, "alpha", core.OpStart, paper), // applied
		h.Cmd(coretest.Viewer, "beta", core.OpStart, paper),    // denied
		h.Cmd(coretest.Operator, "gamma", core.OpStart, paper), // failed
		h.Cmd(coretest.Admin, "alpha", core.OpDataOp, compact), // rejected
		h.Cmd(coretest.Admin, "beta", core.OpDataOp, compact),  // left open
		h.Cmd(coretest.Admin, "gamma", core.OpDataOp, compact), // confirmed
	}
	var outs []core.Outcome
	for i, cmd := range cmds {
		if i == 2 {
			h.Driver.FailNext("Start", errors.New("exchange session refused"))
		}
		outs = append(outs, h.Submit(cmd))
	}
	if _, err := h.Engine.Reject(context.Background(), core.RejectRequest{
		ChallengeID: outs[3].Challenge.ID, Actor: coretest.Approver, Reason: "not now"}); err != nil {
		t.Fatal(err)
	}
	if o := h.Confirm(outs[5].Challenge.ID, coretest.Approver); o.Status == core.StatusChallenged {
		h.Confirm(outs[5].Challenge.ID, coretest.Approver2) // the policy asks for two
	}
	want := map[string]core.Outcome{}
	for _, cmd := range cmds {
		o, ok, err := h.Engine.Outcome(t.Context(), cmd.CommandID)
		if err != nil || !ok {
			t.Fatalf("%s: ok %v, %v", cmd.CommandID, ok, err)
		}
		want[cmd.CommandID] = o
	}
	statuses := []core.Status{core.StatusApplied, core.StatusDenied, core.StatusFailed,
		core.StatusRejected, core.StatusChallenged, core.StatusApplied}
	for i, cmd := range cmds {
		if got := want[cmd.CommandID].Status; got != statuses[i] {
			t.Fatalf("command %d: %s, want %s", i, got, statuses[i])
		}
	}
	return cmds, want
}

func retireAll(h *coretest.Harness, n int) {
	for range n {
		h.Submit(h.Cmd(coretest.Viewer, "alpha", core.OpStatus, core.Params{}))
	}
}

// Outcomes beyond Config.RecentOutcomes are read back from the ledger:
// the same as when they were recent, for Outcome and for a duplicate,
// and again after a restart. A duplicate still has no second effect.
func TestEngine_RetiredOutcomesReadBack(t *testing.T) {
	h := coretest.NewEngine(t, coretest.WithConfig(func(c *core.Config) { c.RecentOutcomes = 4 }))
	h.Healthy()
	cmds, want := everyOutcome(t, h)
	retireAll(h, 8)
	for round, h := range []*coretest.Harness{h, h.Restart()} {
		reads := h.Auditor.Reads()
		for _, cmd := range cmds {
			got, ok, err := h.Engine.Outcome(t.Context(), cmd.CommandID)
			if err != nil || !ok || !reflect.DeepEqual(got, want[cmd.CommandID]) {
				t.Fatalf("round %d, %s: ok %v err %v\n got %+v\nwant %+v", round, cmd.CommandID, ok, err, got, want[cmd.CommandID])
			}
		}
		if n := h.Auditor.Reads() - reads; n != len(cmds) {
			t.Fatalf("round %d: %d ledger reads for %d retired outcomes", round, n, len(cmds))
		}
		calls, events := len(h.Driver.Calls()), len(h.EventsOf(core.EvChallenge))
		for _, cmd := range cmds {
			o := h.Submit(cmd)
			w := want[cmd.CommandID]
			if !o.Duplicate || o.Status != w.Status || o.Reason != w.Reason || o.Seq != w.Seq {
				t.Fatalf("round %d, duplicate of %s: %+v, want %+v", round, cmd.CommandID, o, w)
			}
		}
		if len(h.Driver.Calls()) != calls || len(h.EventsOf(core.EvChallenge)) != events {
			t.Fatalf("round %d: a duplicate of a retired command had an effect", round)
		}
		h.ValidateEvents()
	}
}

// When the ledger cannot be read, a retired command_id is still a
// duplicate: it is denied (ledger unavailable) and has no effect, and
// Outcome says why it cannot answer. New commands are not affected.
func TestEngine_RetiredOutcomeUnreadable(t *testing.T) {
	h := coretest.NewEngine(t, coretest.WithConfig(func(c *core.Config) { c.RecentOutcomes = 2 }))
	h.Healthy()
	start := h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})
	h.Submit(start)
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStop, core.Params{}))
	retireAll(h, 4)
	h.Auditor.SetReadFailing(true)
	if _, ok, err := h.Engine.Outcome(t.Context(), start.CommandID); !ok || !errors.Is(err, core.ErrAuditUnavailable) {
		t.Fatalf("Outcome of a retired command, ledger unreadable: ok %v, %v", ok, err)
	}
	calls, state := len(h.Driver.CallsTo("Start")), h.State("alpha")
	o := h.Submit(start)
	if !o.Duplicate || o.Status != core.StatusDenied || o.Reason != core.ReasonLedgerUnavailable {
		t.Fatalf("duplicate, ledger unreadable: %+v", o)
	}
	if len(h.Driver.CallsTo("Start")) != calls || h.State("alpha") != state {
		t.Fatal("a duplicate ran again because its outcome could not be read")
	}
	if dups := h.EventsOf(core.EvDuplicate); len(dups) != 1 || dups[0].CommandID != start.CommandID {
		t.Fatalf("duplicate not recorded: %+v", dups)
	}
	if o := h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status != core.StatusApplied {
		t.Fatalf("a new command while the ledger cannot be read: %+v", o)
	}
}
