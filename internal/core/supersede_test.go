package core_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// A challenge ends as superseded the moment a precondition it was bound to
// changes, audited with what changed, without waiting for a confirm.
func TestChallenge_SupersededProactively(t *testing.T) {
	cases := []struct {
		name, changed string
		change        func(h *coretest.Harness)
	}{
		{"safety changed", "safety NORMAL -> SAFE", func(h *coretest.Harness) { h.SetSafety(core.SafetySafe) }},
		{"gate failed", "gates PASS -> FAIL", func(h *coretest.Harness) { h.SetGate("risk", "group:majors", core.GateFail) }},
		{"kill-switch engaged", "kill-switch off -> reduce_only", func(h *coretest.Harness) {
			h.Submit(h.Cmd(coretest.Operator, "group:majors", core.OpKillSwitchSet, core.Params{Level: "reduce_only"}))
		}},
		{"bot state changed", "bot state IDLE -> RUNNING_PAPER", func(h *coretest.Harness) {
			h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
		}},
		{"config applied", "config version  -> cfg-2", func(h *coretest.Harness) {
			h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpApply, core.Params{ConfigRef: "cfg-2"}))
		}},
		{"gate went stale, seen by Tick", "gates PASS -> UNKNOWN", func(h *coretest.Harness) {
			h.Clock.Advance(2 * time.Minute)
			h.Engine.Tick(context.Background())
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := coretest.NewEngine(t)
			h.Healthy()
			err := h.Engine.SetGates(context.Background(), core.GatesDoc{SchemaVersion: core.SchemaVersion, Source: "test",
				Results: []core.GateResult{{Gate: "md", Scope: "alpha", Status: core.GatePass, EvaluatedAt: h.Clock.Now(), TTLSeconds: 90}}})
			if err != nil {
				t.Fatal(err)
			}
			notices, cancel := h.Engine.Subscribe(64)
			defer cancel()
			o := liveStart(t, h)
			tc.change(h)
			ch, _ := h.Engine.Challenge(o.Challenge.ID)
			if ch.State != core.ChallengeSuperseded || ch.EndedBy != core.SystemActor {
				t.Fatalf("challenge after the change: %s by %s", ch.State, ch.EndedBy)
			}
			rej := h.EventsOf(core.EvReject)
			if len(rej) != 1 || rej[0].Reason != core.ReasonSuperseded || rej[0].Actor != core.SystemActor ||
				rej[0].ChallengeID != ch.ID || !strings.Contains(rej[0].Detail, tc.changed) {
				t.Fatalf("supersede not audited with what changed (%q): %+v", tc.changed, rej)
			}
			if got, _, _ := h.Engine.Outcome(t.Context(), o.CommandID); got.Status != core.StatusRejected || got.Reason != core.ReasonSuperseded {
				t.Fatalf("command outcome: %+v", got)
			}
			if !sawNotice(notices, core.EvReject) {
				t.Fatal("adapters were not told")
			}
			c := confirm(t, h, ch.ID, coretest.Approver, "alpha")
			if c.Status != core.StatusRejected || c.Reason != core.ReasonSuperseded || h.State("alpha") == lifecycle.RunningLive {
				t.Fatalf("confirm after the supersede: %+v", c)
			}
			if conf := h.EventsOf(core.EvConfirm); len(conf) != 1 || conf[0].Outcome != string(core.StatusDenied) {
				t.Fatalf("late confirm not recorded as denied: %+v", conf)
			}
			h.ValidateEvents()
		})
	}
}

func sawNotice(ch <-chan core.Notice, typ string) bool {
	for {
		select {
		case n := <-ch:
			if n.EventType == typ {
				return true
			}
		default:
			return false
		}
	}
}

// Changes that do not touch a challenge's preconditions leave it open:
// another bot moving, a gate on another scope.
func TestChallenge_UnrelatedChangesKeepItOpen(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	o := liveStart(t, h)
	h.Submit(h.Cmd(coretest.Operator, "gamma", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	h.SetGate("risk", "group:alts", core.GateFail)
	h.Engine.Tick(context.Background())
	if ch, _ := h.Engine.Challenge(o.Challenge.ID); ch.State != core.ChallengeOpen {
		t.Fatalf("challenge ended by an unrelated change: %s", ch.State)
	}
	if c := h.Confirm(o.Challenge.ID, coretest.Approver); c.Status != core.StatusApplied {
		t.Fatalf("confirm: %+v", c)
	}
}

// A challenge whose command takes the fleet lock (here a kill-switch
// release on one bot) is not covered by a bot command's locks: Tick ends
// it when that bot's state changed.
func TestChallenge_SupersededByTickWhenNotCovered(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpKillSwitchSet, core.Params{Level: "halt"}))
	o := h.Submit(h.Cmd(coretest.Admin, "alpha", core.OpKillSwitchRelease, core.Params{Level: "off"}))
	if o.Challenge == nil {
		t.Fatalf("release: %+v", o)
	}
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpQuarantine, core.Params{}))
	h.Engine.Tick(context.Background())
	if ch, _ := h.Engine.Challenge(o.Challenge.ID); ch.State != core.ChallengeSuperseded {
		t.Fatalf("after Tick: %s", ch.State)
	}
	h.ValidateEvents()
}
