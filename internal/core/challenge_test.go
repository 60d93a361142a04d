package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

func liveStart(t *testing.T, h *coretest.Harness) core.Outcome {
	t.Helper()
	o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Live}))
	if o.Status != core.StatusChallenged {
		t.Fatalf("live start: %+v", o)
	}
	return o
}

func confirm(t *testing.T, h *coretest.Harness, id, actor, typed string) core.Outcome {
	t.Helper()
	o, err := h.Engine.Confirm(context.Background(), core.ConfirmRequest{ChallengeID: id, Actor: actor,
		Reason: "looked at it", TypedTarget: typed})
	if err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	return o
}

func TestConfirm_Refusals(t *testing.T) {
	cases := []struct {
		name, actor, typed string
		want               core.Reason
	}{
		{"self confirm", coretest.Operator, "alpha", core.ReasonForbidden}, // operator lacks the approver role
		{"viewer", coretest.Viewer, "alpha", core.ReasonForbidden},
		{"typed target mismatch", coretest.Approver, "alpah", core.ReasonTargetMismatch},
		{"empty typed target", coretest.Approver, "", core.ReasonTargetMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := coretest.NewEngine(t)
			h.Healthy()
			o := liveStart(t, h)
			c := confirm(t, h, o.Challenge.ID, tc.actor, tc.typed)
			if c.Status != core.StatusDenied || c.Reason != tc.want {
				t.Fatalf("got %s/%s, want denied/%s", c.Status, c.Reason, tc.want)
			}
			ch, _ := h.Engine.Challenge(o.Challenge.ID)
			if ch.State != core.ChallengeOpen || len(ch.Approvals) != 0 || h.State("alpha") != lifecycle.Idle {
				t.Fatalf("refusal changed something: %+v", ch)
			}
			if evs := h.EventsOf(core.EvConfirm); len(evs) != 1 || evs[0].Outcome != "denied" {
				t.Fatalf("refused confirm not recorded: %+v", evs)
			}
			h.ValidateEvents()
		})
	}
}

// A requester holding the approver role still cannot confirm their own
// request when policy asks for a second person.
func TestConfirm_SelfConfirmRefused(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	o := h.Submit(h.Cmd(coretest.Admin, "alpha", core.OpDataOp, core.Params{DataAction: "compact"}))
	c := confirm(t, h, o.Challenge.ID, coretest.Admin, "alpha")
	if c.Reason != core.ReasonForbidden {
		t.Fatalf("admin without approver role: %+v", c)
	}
	// Give the requester the approver role too.
	p := mustPolicy(t, selfApprovePolicy)
	h = coretest.NewEngine(t, coretest.WithPolicy(p))
	h.Healthy()
	o = h.Submit(h.Cmd("U0BOTH", "alpha", core.OpStart, core.Params{Mode: lifecycle.Live}))
	if c := confirm(t, h, o.Challenge.ID, "U0BOTH", "alpha"); c.Reason != core.ReasonSelfConfirm {
		t.Fatalf("self confirm: %+v", c)
	}
	if h.Engine.MayApprove("U0BOTH", o.Challenge.ID) {
		t.Fatal("requester offered approval of own request")
	}
	h.ValidateEvents()
}

func TestConfirm_NDistinctApprovers(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	o := h.Submit(h.Cmd(coretest.Admin, "alpha", core.OpDataOp, core.Params{DataAction: "delete"}))
	if o.Challenge.Requires.Approvers != 2 {
		t.Fatalf("requires %+v", o.Challenge.Requires)
	}
	c1 := confirm(t, h, o.Challenge.ID, coretest.Approver, "alpha")
	if c1.Status != core.StatusChallenged || len(h.Actions.Requests()) != 0 {
		t.Fatalf("first approval executed: %+v", c1)
	}
	if c := confirm(t, h, o.Challenge.ID, coretest.Approver, "alpha"); c.Reason != core.ReasonAlreadyApproved {
		t.Fatalf("same approver twice: %+v", c)
	}
	c2 := confirm(t, h, o.Challenge.ID, coretest.Approver2, "alpha")
	if c2.Status != core.StatusApplied || len(h.Actions.Requests()) != 1 {
		t.Fatalf("second approval: %+v", c2)
	}
	applied := h.EventsOf(core.EvApplied)
	if len(applied) != 1 || len(applied[0].Approvers) != 2 || applied[0].Requester != coretest.Admin {
		t.Fatalf("applied event: %+v", applied)
	}
	h.ValidateEvents()
}

func TestChallenge_ExpiryAndSingleUse(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	o := liveStart(t, h)
	h.Clock.Advance(5*time.Minute + time.Second)
	c := confirm(t, h, o.Challenge.ID, coretest.Approver, "alpha")
	if c.Status != core.StatusDenied || c.Reason != core.ReasonChallengeClosed {
		t.Fatalf("confirm after expiry: %+v", c)
	}
	ch, _ := h.Engine.Challenge(o.Challenge.ID)
	if ch.State != core.ChallengeExpired || h.State("alpha") != lifecycle.Idle {
		t.Fatalf("challenge %s, bot %s", ch.State, h.State("alpha"))
	}
	if got, _, _ := h.Engine.Outcome(t.Context(), o.CommandID); got.Status != core.StatusRejected || got.Reason != core.ReasonExpired {
		t.Fatalf("command outcome after expiry: %+v", got)
	}
	rej := h.EventsOf(core.EvReject)
	if len(rej) != 1 || rej[0].Reason != core.ReasonExpired || rej[0].Actor != core.SystemActor {
		t.Fatalf("expiry not audited: %+v", rej)
	}
	h.ValidateEvents()
}

func TestChallenge_ExpiredByTick(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	o := liveStart(t, h)
	h.Engine.Tick(context.Background())
	if ch, _ := h.Engine.Challenge(o.Challenge.ID); ch.State != core.ChallengeOpen {
		t.Fatal("expired early")
	}
	h.Clock.Advance(6 * time.Minute)
	h.Engine.Tick(context.Background())
	if ch, _ := h.Engine.Challenge(o.Challenge.ID); ch.State != core.ChallengeExpired {
		t.Fatalf("not expired by Tick: %s", ch.State)
	}
	if len(h.Engine.Snapshot().Challenges) != 0 {
		t.Fatal("expired challenge still listed open")
	}
}

func TestChallenge_ExpiredWhileDownIsAuditedOnStart(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	o := liveStart(t, h)
	h.Clock.Advance(time.Hour)
	h2 := h.Restart()
	ch, ok := h2.Engine.Challenge(o.Challenge.ID)
	if !ok || ch.State != core.ChallengeExpired {
		t.Fatalf("after restart: %+v", ch)
	}
	if rej := h2.EventsOf(core.EvReject); len(rej) != 1 || rej[0].Reason != core.ReasonExpired {
		t.Fatalf("expiry on start not audited: %+v", rej)
	}
	if c := confirm(t, h2, o.Challenge.ID, coretest.Approver, "alpha"); c.Reason != core.ReasonChallengeClosed {
		t.Fatalf("confirm of expired: %+v", c)
	}
	h2.ValidateEvents()
}

func TestChallenge_OpenSurvivesRestart(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	o := h.Submit(h.Cmd(coretest.Admin, "alpha", core.OpDataOp, core.Params{DataAction: "restore"}))
	confirm(t, h, o.Challenge.ID, coretest.Approver, "alpha")
	h2 := h.Restart()
	ch, _ := h2.Engine.Challenge(o.Challenge.ID)
	if ch.State != core.ChallengeOpen || len(ch.Approvals) != 1 || ch.Approvals[0].Actor != coretest.Approver {
		t.Fatalf("challenge after restart: %+v", ch)
	}
	if c := confirm(t, h2, o.Challenge.ID, coretest.Approver2, "alpha"); c.Status != core.StatusApplied {
		t.Fatalf("confirm after restart: %+v", c)
	}
	h2.ValidateEvents()
}

func TestReject(t *testing.T) {
	cases := []struct {
		name, actor string
		want        core.Status
	}{
		{"approver rejects", coretest.Approver, core.StatusRejected},
		{"requester withdraws", coretest.Operator, core.StatusRejected},
		{"viewer cannot", coretest.Viewer, core.StatusDenied},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := coretest.NewEngine(t)
			h.Healthy()
			o := liveStart(t, h)
			r, err := h.Engine.Reject(context.Background(), core.RejectRequest{ChallengeID: o.Challenge.ID, Actor: tc.actor, Reason: "no"})
			if err != nil || r.Status != tc.want {
				t.Fatalf("reject: %+v %v", r, err)
			}
			if tc.want != core.StatusRejected {
				return
			}
			if c := confirm(t, h, o.Challenge.ID, coretest.Approver2, "alpha"); c.Reason != core.ReasonChallengeClosed {
				t.Fatalf("confirm after reject: %+v", c)
			}
			if h.State("alpha") != lifecycle.Idle {
				t.Fatal("rejected command ran")
			}
			h.ValidateEvents()
		})
	}
}

func TestConfirm_Superseded(t *testing.T) {
	cases := map[string]func(h *coretest.Harness){
		"safety changed": func(h *coretest.Harness) { h.SetSafety(core.SafetySafe) },
		"gate failed":    func(h *coretest.Harness) { h.SetGate("risk", "group:majors", core.GateFail) },
		"kill-switch engaged": func(h *coretest.Harness) {
			h.Submit(h.Cmd(coretest.Operator, "group:majors", core.OpKillSwitchSet, core.Params{Level: "reduce_only"}))
		},
		"bot state changed": func(h *coretest.Harness) {
			h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
		},
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			h := coretest.NewEngine(t)
			h.Healthy()
			o := liveStart(t, h)
			change(h)
			before := len(h.Driver.CallsTo("Start"))
			c := confirm(t, h, o.Challenge.ID, coretest.Approver, "alpha")
			if c.Status != core.StatusRejected || c.Reason != core.ReasonSuperseded {
				t.Fatalf("got %+v", c)
			}
			if len(h.Driver.CallsTo("Start")) != before || h.State("alpha") == lifecycle.RunningLive {
				t.Fatal("superseded challenge executed")
			}
			ch, _ := h.Engine.Challenge(o.Challenge.ID)
			if ch.State != core.ChallengeSuperseded {
				t.Fatalf("challenge state %s", ch.State)
			}
			rej := h.EventsOf(core.EvReject)
			if len(rej) != 1 || rej[0].Reason != core.ReasonSuperseded {
				t.Fatalf("superseded not audited as reject: %+v", rej)
			}
			h.ValidateEvents()
		})
	}
}

func TestConfirm_UnknownChallengeAndMalformed(t *testing.T) {
	h := coretest.NewEngine(t)
	_, err := h.Engine.Confirm(context.Background(), core.ConfirmRequest{ChallengeID: "nope", Actor: coretest.Approver, Reason: "x"})
	if !errors.Is(err, core.ErrUnknownChallenge) {
		t.Fatalf("unknown challenge: %v", err)
	}
	_, err = h.Engine.Confirm(context.Background(), core.ConfirmRequest{ChallengeID: "nope", Actor: coretest.Approver})
	if !errors.Is(err, core.ErrInvalidCommand) {
		t.Fatalf("confirm without reason: %v", err)
	}
}

func TestConfirm_SupersededByStaleGate(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	err := h.Engine.SetGates(context.Background(), core.GatesDoc{SchemaVersion: core.SchemaVersion, Source: "test",
		Results: []core.GateResult{{Gate: "md_fresh", Scope: "alpha", Status: core.GatePass, EvaluatedAt: h.Clock.Now(), TTLSeconds: 60}}})
	if err != nil {
		t.Fatal(err)
	}
	o := liveStart(t, h)
	h.Clock.Advance(2 * time.Minute) // the gate is stale now: UNKNOWN
	c := confirm(t, h, o.Challenge.ID, coretest.Approver, "alpha")
	if c.Reason != core.ReasonSuperseded || h.State("alpha") != lifecycle.Idle {
		t.Fatalf("got %+v", c)
	}
}
