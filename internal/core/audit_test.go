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

func TestLedgerDown_RefusesAllButSafetyIncreasing(t *testing.T) {
	cases := []struct {
		op        core.Op
		target    string
		p         core.Params
		proceeds  bool
		wantState lifecycle.State
	}{
		{core.OpStart, "alpha", core.Params{Mode: lifecycle.Live}, false, lifecycle.RunningPaper},
		{core.OpStart, "gamma", core.Params{Mode: lifecycle.Paper}, false, lifecycle.Idle},
		{core.OpApply, "alpha", core.Params{ConfigRef: "v9"}, false, lifecycle.RunningPaper},
		{core.OpRelease, "alpha", core.Params{}, false, lifecycle.RunningPaper},
		{core.OpBundle, "alpha", core.Params{}, false, lifecycle.RunningPaper},
		{core.OpStatus, "alpha", core.Params{}, false, lifecycle.RunningPaper},
		{core.OpStop, "alpha", core.Params{}, true, lifecycle.Stopping},
		{core.OpPause, "alpha", core.Params{}, true, lifecycle.Paused},
		{core.OpQuarantine, "alpha", core.Params{}, true, lifecycle.Quarantined},
		{core.OpKillSwitchSet, "global", core.Params{Level: "halt"}, true, lifecycle.RunningPaper},
	}
	for _, tc := range cases {
		t.Run(string(tc.op)+"/"+tc.target, func(t *testing.T) {
			h := coretest.NewEngine(t)
			h.Healthy()
			h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
			calls := len(h.Driver.Calls())
			n := h.Auditor.Len()
			h.Auditor.SetFailing(true)
			o := h.Submit(h.Cmd(coretest.Admin, tc.target, tc.op, tc.p))
			if h.Auditor.Len() != n {
				t.Fatal("events recorded while failing")
			}
			if !tc.proceeds {
				if o.Status != core.StatusDenied || o.Reason != core.ReasonLedgerUnavailable {
					t.Fatalf("got %+v, want refusal", o)
				}
				if len(h.Driver.Calls()) != calls || len(h.Actions.Requests()) != 0 {
					t.Fatal("effect ran without audit")
				}
			} else if o.Status != core.StatusApplied {
				t.Fatalf("safety-increasing op refused: %+v", o)
			}
			bot := tc.target
			if bot == "global" {
				bot = "alpha"
			}
			if got := h.State(bot); got != tc.wantState {
				t.Fatalf("state %s, want %s", got, tc.wantState)
			}
		})
	}
}

func TestLedgerDown_ConfirmRefused(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Live}))
	h.Auditor.SetFailing(true)
	c := h.Confirm(o.Challenge.ID, coretest.Approver)
	if c.Reason != core.ReasonLedgerUnavailable || h.State("alpha") != lifecycle.Idle {
		t.Fatalf("confirm with ledger down: %+v", c)
	}
	h.Auditor.SetFailing(false)
	if c := h.Confirm(o.Challenge.ID, coretest.Approver); c.Status != core.StatusApplied {
		t.Fatalf("confirm once ledger is back: %+v", c)
	}
}

func TestRestart_InterruptedCommandRecordedFailed(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	n := h.Auditor.Len()
	cmd := h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})
	h.Submit(cmd)
	h.Auditor.Truncate(n + 1) // crash: only the intent made it to the ledger
	h2 := h.Restart()
	o, ok, _ := h2.Engine.Outcome(t.Context(), cmd.CommandID)
	if !ok || o.Status != core.StatusFailed || o.Reason != core.ReasonInterrupted {
		t.Fatalf("interrupted outcome: %+v", o)
	}
	if h2.State("alpha") != lifecycle.Idle {
		t.Fatalf("state %s: the last recorded transition says IDLE", h2.State("alpha"))
	}
	if again := h2.Submit(cmd); !again.Duplicate {
		t.Fatal("interrupted command re-executed")
	}
	// The driver did start alpha before the crash: the first reconciliation
	// finds it running while recorded IDLE, quarantines it and stops it.
	h2.Engine.Tick(t.Context())
	if h2.State("alpha") != lifecycle.Quarantined {
		t.Fatalf("state %s after reconciliation, want QUARANTINED", h2.State("alpha"))
	}
	if stops := h2.Driver.CallsTo("Stop"); len(stops) != 1 || stops[0].Bot != "alpha" {
		t.Fatalf("stops %+v, want one of alpha", stops)
	}
	h2.ValidateEvents()
}

// A stop interrupted after its driver call and before its transition was
// recorded (a crash) leaves the bot recorded running. If its driver
// reports it stopped within the stop timeout, reconciliation completes the
// stop (STOPPING, then IDLE, linked to the command) rather than calling it
// a crash; if the bot is still alive, nothing is assumed, and a bot that
// dies later is an ERROR.
func TestRestart_InterruptedStop(t *testing.T) {
	cases := []struct {
		name      string
		paused    bool          // paused before the stop
		reached   bool          // the stop reached the driver before the crash
		diesAfter time.Duration // a bot the stop did not reach dies this much later
		want      lifecycle.State
	}{
		{"took effect", false, true, 0, lifecycle.Idle},
		{"took effect on a paused bot", true, true, 0, lifecycle.Idle},
		{"never reached the bot", false, false, -1, lifecycle.RunningPaper},
		{"bot dies later by itself", false, false, time.Minute, lifecycle.Error},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := coretest.NewEngine(t)
			h.Healthy()
			h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
			if tc.paused {
				h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpPause, core.Params{}))
			}
			recorded := h.State("alpha")
			n := h.Auditor.Len()
			stop := h.Cmd(coretest.Operator, "alpha", core.OpStop, core.Params{})
			h.Submit(stop)
			h.Auditor.Truncate(n + 1) // crash: only the stop's intent was recorded
			if !tc.reached {
				h.Driver.SetStatus("alpha", core.BotStatus{Alive: true, Mode: lifecycle.Paper})
			}
			h2 := h.Restart()
			if h2.State("alpha") != recorded {
				t.Fatalf("after restart: %s, want %s as recorded", h2.State("alpha"), recorded)
			}
			h2.Engine.Tick(t.Context())
			if tc.diesAfter > 0 {
				h2.Clock.Advance(tc.diesAfter)
				h2.Driver.MarkStopped("alpha")
				h2.Ticks(core.DeadReadings)
			}
			if got := h2.State("alpha"); got != tc.want {
				t.Fatalf("state %s, want %s", got, tc.want)
			}
			if tc.want == lifecycle.Idle {
				trs := h2.EventsOf(core.EvTransition)
				last2 := trs[len(trs)-2:]
				if last2[0].To != lifecycle.Stopping || last2[0].CommandID != stop.CommandID || last2[1].To != lifecycle.Idle {
					t.Fatalf("transitions %+v, want STOPPING (linked to %s) then IDLE", last2, stop.CommandID)
				}
			}
			if o, _, _ := h2.Engine.Outcome(t.Context(), stop.CommandID); o.Reason != core.ReasonInterrupted {
				t.Fatalf("the stop's outcome %+v, want interrupted", o)
			}
			if stops := h2.Driver.CallsTo("Stop"); len(stops) != 1 {
				t.Fatalf("%d driver stops, want only the interrupted one", len(stops))
			}
			h2.ValidateEvents()
		})
	}
}

// An interrupted stop whose bot is still winding down (not alive, not yet
// stopped) is completed as far as STOPPING; the next Tick that finds it
// stopped ends it in IDLE, as for any stop.
func TestRestart_InterruptedStopStillStopping(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	n := h.Auditor.Len()
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStop, core.Params{}))
	h.Auditor.Truncate(n + 1)
	h.Driver.SetStatus("alpha", core.BotStatus{}) // not alive, not yet stopped
	h2 := h.Restart()
	h2.Engine.Tick(t.Context())
	if got := h2.State("alpha"); got != lifecycle.Stopping {
		t.Fatalf("state %s while the bot winds down, want STOPPING", got)
	}
	h2.Driver.MarkStopped("alpha")
	h2.Engine.Tick(t.Context())
	if got := h2.State("alpha"); got != lifecycle.Idle {
		t.Fatalf("state %s once stopped, want IDLE", got)
	}
	h2.ValidateEvents()
}

func TestRestart_ReplayReproducesState(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStart, core.Params{Mode: lifecycle.Shadow}))
	h.Submit(h.Cmd(coretest.Operator, "beta", core.OpPause, core.Params{}))
	h.Submit(h.Cmd(coretest.Operator, "gamma", core.OpQuarantine, core.Params{}))
	h.Submit(h.Cmd(coretest.Operator, "group:alts", core.OpKillSwitchSet, core.Params{Level: "halt"}))
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpApply, core.Params{ConfigRef: "cfg-7"}))
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Live})) // open challenge
	before := h.Engine.Snapshot()
	h2 := h.Restart()
	after := h2.Engine.Snapshot()
	assertSameSnapshot(t, before, after)
}

func TestNew_RefusesOtherEnvironmentsLedger(t *testing.T) {
	h := coretest.NewEngine(t)
	cfg := h.Config
	cfg.Environment = "prod"
	if _, err := core.New(context.Background(), cfg, h.Deps); err == nil {
		t.Fatal("prod engine accepted a dev ledger")
	}
}

func TestSubscribe_NoticesAndDrops(t *testing.T) {
	h := coretest.NewEngine(t)
	fast, cancelFast := h.Engine.Subscribe(64)
	defer cancelFast()
	slow, cancelSlow := h.Engine.Subscribe(1)
	defer cancelSlow()
	h.Healthy()
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	want := []string{core.EvSafety, core.EvGate, core.EvRequested, core.EvTransition, core.EvApplied}
	for _, typ := range want {
		n := <-fast
		if n.EventType != typ || n.Seq == 0 || len(n.Event) == 0 {
			t.Fatalf("notice %+v, want %s", n, typ)
		}
	}
	<-slow // the first one got through; the rest were dropped
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpPause, core.Params{}))
	if n := <-slow; n.Dropped != uint64(len(want)-1) {
		t.Fatalf("dropped = %d, want %d", n.Dropped, len(want)-1)
	}
	cancelSlow()
	cancelSlow() // idempotent
}

// A status or a denial has no effect but its answer: its intent and its
// result go to the ledger in one append (one group commit), before the
// answer, or neither does and the command is refused.
func TestNoEffect_IntentRecordedWithResult(t *testing.T) {
	cases := []struct {
		name  string
		actor string
		op    core.Op
		want  string // result event type
	}{
		{"status", coretest.Viewer, core.OpStatus, core.EvApplied},
		{"denied start", coretest.Viewer, core.OpStart, core.EvDenied},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := coretest.NewEngine(t)
			h.Healthy()
			n := h.Auditor.Len()
			cmd := h.Cmd(tc.actor, "alpha", tc.op, core.Params{Mode: lifecycle.Paper})
			if tc.op == core.OpStatus {
				cmd = h.Cmd(tc.actor, "alpha", tc.op, core.Params{})
			}
			o := h.Submit(cmd)
			raw := h.Auditor.Raw()
			if len(raw) != n+2 || o.Seq != uint64(n+2) {
				t.Fatalf("%d events, outcome seq %d; want intent and result at %d and %d", len(raw)-n, o.Seq, n+1, n+2)
			}
			for i, typ := range []string{core.EvRequested, tc.want} {
				if !strings.Contains(string(raw[n+i]), `"event_type":"`+typ+`"`) {
					t.Errorf("event %d = %s, want %s", n+1+i, raw[n+i], typ)
				}
			}
			// One append: with room for one more event only, both are refused.
			h.Auditor.FailAfter(1)
			o = h.Submit(h.Cmd(tc.actor, cmd.Target, cmd.Op, cmd.Params))
			if o.Status != core.StatusDenied || o.Reason != core.ReasonLedgerUnavailable || h.Auditor.Len() != n+2 {
				t.Fatalf("with the ledger failing mid-command: %+v, %d events; want a refusal and nothing recorded", o, h.Auditor.Len()-n-2)
			}
		})
	}
}

// A lifecycle op's transition and result both follow the driver call:
// they go to the ledger in one append. If that append fails, the move
// that already happened is applied anyway, loudly (unaudited), as every
// effect the ledger could not record is.
func TestLifecycle_TransitionRecordedWithResult(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	n := h.Auditor.Len()
	o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	raw := h.Auditor.Raw()
	if o.Status != core.StatusApplied || len(raw) != n+3 || o.Seq != uint64(n+3) {
		t.Fatalf("start: %+v with %d events, want applied at seq %d after intent and transition", o, len(raw)-n, n+3)
	}
	for i, typ := range []string{core.EvRequested, core.EvTransition, core.EvApplied} {
		if !strings.Contains(string(raw[n+i]), `"event_type":"`+typ+`"`) {
			t.Errorf("event %d = %s, want %s", n+1+i, raw[n+i], typ)
		}
	}
	// Room for the intent and one more event only: transition and result
	// are refused together.
	n = h.Auditor.Len()
	h.Auditor.FailAfter(2)
	o = h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStop, core.Params{}))
	if h.Auditor.Len() != n+1 {
		t.Fatalf("%d events recorded, want only the intent", h.Auditor.Len()-n)
	}
	if o.Seq != 0 || h.State("alpha") != lifecycle.Stopping {
		t.Fatalf("stop with its result unrecorded: %+v, state %s; want the move applied, unaudited", o, h.State("alpha"))
	}
}

// A quarantine interrupted by a crash is completed on start: the bot is
// QUARANTINED and sent a stop, not left to turn ERROR and be started
// again without a release.
func TestRestart_InterruptedQuarantineCompleted(t *testing.T) {
	for _, target := range []string{"alpha", "group:majors"} {
		h := coretest.NewEngine(t)
		h.Healthy()
		h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
		n := h.Auditor.Len()
		q := h.Cmd(coretest.Operator, target, core.OpQuarantine, core.Params{})
		h.Submit(q)
		h.Auditor.Truncate(n + 1)                                                       // crash: only the quarantine's intent was recorded
		h.Driver.SetStatus("alpha", core.BotStatus{Alive: true, Mode: lifecycle.Paper}) // its stop never reached the bot
		stops := len(h.Driver.CallsTo("Stop"))
		h2 := h.Restart()
		if h2.State("alpha") != lifecycle.Quarantined || h2.State("beta") != map[string]lifecycle.State{"alpha": lifecycle.Idle, "group:majors": lifecycle.Quarantined}[target] {
			t.Fatalf("%s: after the restart alpha %s, beta %s", target, h2.State("alpha"), h2.State("beta"))
		}
		if len(h2.Driver.CallsTo("Stop")) != stops+1 {
			t.Fatalf("%s: alpha was not sent a stop", target)
		}
		if o, _, _ := h2.Engine.Outcome(t.Context(), q.CommandID); o.Reason != core.ReasonInterrupted || !strings.Contains(o.Detail, "completed on start") {
			t.Fatalf("%s: the quarantine's outcome %+v", target, o)
		}
		if o := h2.Submit(h2.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status == core.StatusApplied {
			t.Fatalf("%s: start without a release: %+v", target, o)
		}
		h2.ValidateEvents()
	}
}

// Only a quarantine that would still be allowed is completed: the intent
// of a refused one is recorded before its check, and a crash right after
// must not turn the refusal into an isolation.
func TestRestart_InterruptedRefusedQuarantineNotCompleted(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	n := h.Auditor.Len()
	h.Submit(h.Cmd(coretest.Viewer, "alpha", core.OpQuarantine, core.Params{})) // forbidden
	h.Auditor.Truncate(n + 1)                                                   // crash after its intent
	h2 := h.Restart()
	if h2.State("alpha") != lifecycle.RunningPaper {
		t.Fatalf("a refused quarantine was carried out: alpha %s", h2.State("alpha"))
	}
}

// With the ledger refusing at the restart, an interrupted quarantine is
// still carried out (unaudited, as a quarantine always may be) and
// recorded late once the ledger is back.
func TestRestart_InterruptedQuarantineWithLedgerDown(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	n := h.Auditor.Len()
	q := h.Cmd(coretest.Operator, "alpha", core.OpQuarantine, core.Params{})
	h.Submit(q)
	h.Auditor.Truncate(n + 1)
	h.Driver.SetStatus("alpha", core.BotStatus{Alive: true, Mode: lifecycle.Paper})
	stops := len(h.Driver.CallsTo("Stop"))
	h.Auditor.SetFailing(true)
	h2 := h.Restart()
	if h2.State("alpha") != lifecycle.Quarantined || len(h2.Driver.CallsTo("Stop")) != stops+1 {
		t.Fatalf("alpha %s, %d stops", h2.State("alpha"), len(h2.Driver.CallsTo("Stop"))-stops)
	}
	h2.Auditor.SetFailing(false)
	h2.Engine.Tick(t.Context())
	if o, _, _ := h2.Engine.Outcome(t.Context(), q.CommandID); !strings.Contains(o.Detail, "completed on start") {
		t.Fatalf("outcome %+v", o)
	}
	assertSameSnapshot(t, h2.Engine.Snapshot(), h2.Restart().Engine.Snapshot())
	h2.ValidateEvents()
}
