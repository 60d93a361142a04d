package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// Spec §11 (1): live start never runs without a confirmed challenge.
func TestSpec1_LiveStartNeverWithoutConfirm(t *testing.T) {
	for _, op := range []core.Op{core.OpStart, core.OpResume} {
		t.Run(string(op), func(t *testing.T) {
			h := coretest.NewEngine(t)
			h.Healthy()
			if op == core.OpResume {
				h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
				h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpPause, core.Params{}))
			}
			o := h.Submit(h.Cmd(coretest.Admin, "alpha", op, core.Params{Mode: lifecycle.Live}))
			if o.Status != core.StatusChallenged {
				t.Fatalf("got %s, want challenge", o.Status)
			}
			if h.State("alpha") == lifecycle.RunningLive {
				t.Fatal("RUNNING_LIVE without confirm")
			}
			for _, c := range h.Driver.Calls() {
				if c.Mode == lifecycle.Live {
					t.Fatalf("driver asked for live without confirm: %+v", c)
				}
			}
			h.Confirm(o.Challenge.ID, coretest.Approver)
			if h.State("alpha") != lifecycle.RunningLive {
				t.Fatalf("after confirm state = %s", h.State("alpha"))
			}
			h.ValidateEvents()
		})
	}
}

// Spec §11 (2): SAFE / EMERGENCY_STOP (and UNKNOWN) deny every execution op
// and let stop/pause/quarantine/kill-switch tightening/status/bundle run.
func TestSpec2_SafetyDeniesExecutionOps(t *testing.T) {
	denied := []struct {
		op core.Op
		p  core.Params
	}{
		{core.OpStart, core.Params{Mode: lifecycle.Paper}},
		{core.OpStart, core.Params{Mode: lifecycle.Live}},
		{core.OpResume, core.Params{Mode: lifecycle.Shadow}},
		{core.OpApply, core.Params{ConfigRef: "v2"}},
		{core.OpRelease, core.Params{}},
		{core.OpKillSwitchRelease, core.Params{Level: "off"}},
		{core.OpGateOverride, core.Params{Gate: "risk", Duration: "5m"}},
		{core.OpMonitoringDisable, core.Params{Duration: "5m"}},
		{core.OpSecretRotate, core.Params{SecretRef: "vault:x"}},
		{core.OpDataOp, core.Params{DataAction: "delete"}},
	}
	for _, mode := range []core.SafetyMode{core.SafetySafe, core.SafetyEmergencyStop, core.SafetyUnknown} {
		t.Run(string(mode), func(t *testing.T) {
			h := coretest.NewEngine(t)
			h.Healthy()
			h.SetSafety(mode)
			for i, tc := range denied {
				o := h.Submit(h.Cmd(coretest.Admin, "alpha", tc.op, tc.p))
				if o.Status != core.StatusDenied || o.Reason != core.ReasonSafety {
					t.Fatalf("%s %s: got %s/%s, want denied/%s", tc.op, tc.p.Mode, o.Status, o.Reason, core.ReasonSafety)
				}
				if len(h.Driver.Calls())+len(h.Actions.Requests()) != 0 {
					t.Fatalf("%s: an effect ran under safety %s", tc.op, mode)
				}
				if n := len(h.EventsOf(core.EvDenied)); n != i+1 {
					t.Fatalf("%s: denial not recorded (%d denials)", tc.op, n)
				}
			}
			h.ValidateEvents()
		})
	}
	allowed := []struct {
		op     core.Op
		target string
		p      core.Params
	}{
		{core.OpStop, "alpha", core.Params{}},
		{core.OpPause, "beta", core.Params{}},
		{core.OpQuarantine, "gamma", core.Params{}},
		{core.OpKillSwitchSet, "global", core.Params{Level: "halt"}},
		{core.OpStatus, "alpha", core.Params{}},
		{core.OpBundle, "alpha", core.Params{}},
	}
	for _, tc := range allowed {
		t.Run("EMERGENCY_STOP/allowed/"+string(tc.op), func(t *testing.T) {
			h := coretest.NewEngine(t)
			h.Healthy()
			for _, b := range []string{"alpha", "beta"} {
				h.Submit(h.Cmd(coretest.Operator, b, core.OpStart, core.Params{Mode: lifecycle.Paper}))
			}
			h.SetSafety(core.SafetyEmergencyStop)
			o := h.Submit(h.Cmd(coretest.Admin, tc.target, tc.op, tc.p))
			if o.Status != core.StatusApplied {
				t.Fatalf("got %+v, want applied", o)
			}
			h.ValidateEvents()
		})
	}
}

// Spec §11 (3): a duplicated command_id has no second effect.
func TestSpec3_DuplicateNoSecondEffect(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	cmd := h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})
	first := h.Submit(cmd)
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStop, core.Params{}))
	again := h.Submit(cmd)
	if !again.Duplicate || again.Status != first.Status || again.Seq != first.Seq {
		t.Fatalf("duplicate = %+v, first = %+v", again, first)
	}
	if n := len(h.Driver.CallsTo("Start")); n != 1 {
		t.Fatalf("driver Start called %d times", n)
	}
	if h.State("alpha") != lifecycle.Stopping {
		t.Fatalf("duplicate moved the bot: %s", h.State("alpha"))
	}
	if len(h.EventsOf(core.EvDuplicate)) != 1 {
		t.Fatal("duplicate_suppressed not recorded")
	}
	h.ValidateEvents()
}

// Spec §11 (4): every denial, confirm and transition is in the ledger.
func TestSpec4_DenialsConfirmsTransitionsRecorded(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	d := h.Submit(h.Cmd(coretest.Viewer, "alpha", core.OpStop, core.Params{}))
	o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Live}))
	c := h.Confirm(o.Challenge.ID, coretest.Approver)
	want := map[string]int{core.EvRequested: 2, core.EvDenied: 1, core.EvChallenge: 1, core.EvConfirm: 1,
		core.EvTransition: 4, core.EvApplied: 1} // 3 initialisations + IDLE->RUNNING_LIVE
	for typ, n := range want {
		if got := len(h.EventsOf(typ)); got != n {
			t.Errorf("%s: %d events, want %d", typ, got, n)
		}
	}
	if d.Seq == 0 || c.Seq == 0 {
		t.Fatalf("outcomes without ledger seq: %d %d", d.Seq, c.Seq)
	}
	applied := h.EventsOf(core.EvApplied)[0]
	if applied.Requester != coretest.Operator || len(applied.Approvers) != 1 || applied.Approvers[0] != coretest.Approver {
		t.Fatalf("applied names requester %q approvers %v", applied.Requester, applied.Approvers)
	}
	h.ValidateEvents()
}

// Spec §11 (5): an actor without the permission can neither run nor confirm
// a dangerous op, and does not see it offered.
func TestSpec5_NoPermissionNoDangerousOp(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	if o := h.Submit(h.Cmd(coretest.Viewer, "alpha", core.OpStart, core.Params{Mode: lifecycle.Live})); o.Reason != core.ReasonForbidden {
		t.Fatalf("viewer live start: %+v", o)
	}
	for _, op := range h.Engine.Allowed(coretest.Viewer, "alpha") {
		if op != core.OpStatus {
			t.Fatalf("viewer offered %s", op)
		}
	}
	o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Live}))
	for _, actor := range []string{coretest.Viewer, coretest.Operator, coretest.Auditor, coretest.Admin} {
		if h.Engine.MayApprove(actor, o.Challenge.ID) {
			t.Fatalf("%s may approve", actor)
		}
		c, err := h.Engine.Confirm(context.Background(), core.ConfirmRequest{ChallengeID: o.Challenge.ID,
			Actor: actor, Reason: "trust me", TypedTarget: "alpha"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != core.StatusDenied || h.State("alpha") != lifecycle.Idle {
			t.Fatalf("%s confirm: %+v", actor, c)
		}
	}
	if !h.Engine.MayApprove(coretest.Approver, o.Challenge.ID) {
		t.Fatal("approver may not approve")
	}
	if len(h.Driver.CallsTo("Start")) != 0 {
		t.Fatal("driver started")
	}
	h.ValidateEvents()
}

// Spec §11 (6): QUARANTINED never leaves without a confirmed release.
func TestSpec6_QuarantineOnlyConfirmedRelease(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpQuarantine, core.Params{}))
	for _, tc := range []struct {
		op core.Op
		p  core.Params
	}{
		{core.OpStart, core.Params{Mode: lifecycle.Paper}}, {core.OpResume, core.Params{Mode: lifecycle.Paper}},
		{core.OpPause, core.Params{}}, {core.OpApply, core.Params{ConfigRef: "v2"}},
	} {
		if o := h.Submit(h.Cmd(coretest.Admin, "alpha", tc.op, tc.p)); o.Status != core.StatusDenied {
			t.Fatalf("%s on QUARANTINED: %+v", tc.op, o)
		}
	}
	// A stop is sent to the driver again (the quarantine's may have failed)
	// and moves nothing.
	stops := len(h.Driver.CallsTo("Stop"))
	if o := h.Submit(h.Cmd(coretest.Admin, "alpha", core.OpStop, core.Params{})); o.Status != core.StatusApplied ||
		h.State("alpha") != lifecycle.Quarantined || len(h.Driver.CallsTo("Stop")) != stops+1 {
		t.Fatalf("stop on QUARANTINED: %+v, alpha %s", o, h.State("alpha"))
	}
	h.Driver.SetStatus("alpha", core.BotStatus{Alive: true, Mode: lifecycle.Paper})
	h.Clock.Advance(10 * time.Minute)
	h.Engine.Tick(context.Background())
	if h.State("alpha") != lifecycle.Quarantined {
		t.Fatalf("left QUARANTINED on its own: %s", h.State("alpha"))
	}
	o := h.Submit(h.Cmd(coretest.Admin, "alpha", core.OpRelease, core.Params{}))
	if o.Status != core.StatusChallenged || h.State("alpha") != lifecycle.Quarantined {
		t.Fatalf("release: %+v", o)
	}
	h.Confirm(o.Challenge.ID, coretest.Approver)
	if h.State("alpha") != lifecycle.Idle {
		t.Fatalf("after confirmed release: %s", h.State("alpha"))
	}
	h.ValidateEvents()
}
