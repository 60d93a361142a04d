package core_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// Reconciliation compares every bot's record with its driver: a bot doing
// more than recorded is quarantined and stopped, a recorded running or
// paused bot found dead goes to ERROR, and nothing else changes.
func TestTick_ReconcilesRecordWithReality(t *testing.T) {
	alive := func(m lifecycle.Mode) core.BotStatus { return core.BotStatus{Alive: true, Mode: m} }
	cases := []struct {
		name    string
		setup   []step          // run on alpha before the driver is changed
		reality core.BotStatus  // what the driver then reports
		want    lifecycle.State // alpha's state after one Tick
		cause   string          // in the system transition's cause ("" = no transition)
	}{
		{name: "idle found running", reality: alive(lifecycle.Live),
			want: lifecycle.Quarantined, cause: "recorded IDLE, but its driver reports it running in mode live"},
		{name: "idle found paused", reality: core.BotStatus{Alive: true, Paused: true, Mode: lifecycle.Paper},
			want: lifecycle.Quarantined, cause: "recorded IDLE, but its driver reports it paused in mode paper"},
		{name: "idle found running, mode not reported", reality: core.BotStatus{Alive: true},
			want: lifecycle.Quarantined, cause: "running (mode not reported)"},
		{name: "idle and stopped", reality: core.BotStatus{Stopped: true}, want: lifecycle.Idle},
		{name: "idle and dead", reality: core.BotStatus{}, want: lifecycle.Idle},
		{name: "paused found running", setup: startPause(lifecycle.Paper), reality: alive(lifecycle.Live),
			want: lifecycle.Quarantined, cause: "recorded PAUSED, but its driver reports it running in mode live"},
		{name: "paused and paused", setup: startPause(lifecycle.Paper),
			reality: core.BotStatus{Alive: true, Paused: true, Mode: lifecycle.Paper}, want: lifecycle.Paused},
		{name: "paused found dead", setup: startPause(lifecycle.Paper), reality: core.BotStatus{Detail: "exit 9"},
			want: lifecycle.Error, cause: "driver reports the bot is not alive: exit 9"},
		{name: "paper found live", setup: start(lifecycle.Paper), reality: alive(lifecycle.Live),
			want: lifecycle.Quarantined, cause: "recorded RUNNING_PAPER, but its driver reports it running in mode live"},
		{name: "paper and paper", setup: start(lifecycle.Paper), reality: alive(lifecycle.Paper), want: lifecycle.RunningPaper},
		{name: "paper, mode not reported", setup: start(lifecycle.Paper), reality: core.BotStatus{Alive: true},
			want: lifecycle.RunningPaper},
		{name: "running found paused", setup: start(lifecycle.Shadow),
			reality: core.BotStatus{Alive: true, Paused: true, Mode: lifecycle.Shadow}, want: lifecycle.RunningShadow},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := coretest.NewEngine(t)
			h.Healthy()
			for _, s := range tc.setup {
				if o := h.Submit(h.Cmd(coretest.Operator, "alpha", s.op, s.params)); o.Status != core.StatusApplied {
					t.Fatalf("setup %s: %+v", s.op, o)
				}
			}
			stopsBefore := len(h.Driver.CallsTo("Stop"))
			n := len(h.EventsOf(core.EvTransition))
			h.Driver.SetStatus("alpha", tc.reality)
			h.Ticks(core.DeadReadings)
			if got := h.State("alpha"); got != tc.want {
				t.Fatalf("state %s, want %s", got, tc.want)
			}
			tr := h.EventsOf(core.EvTransition)[n:]
			if tc.cause == "" {
				if len(tr) != 0 {
					t.Fatalf("unexpected transitions %+v", tr)
				}
				return
			}
			if len(tr) != 1 || tr[0].Actor != core.SystemActor || !strings.Contains(tr[0].Cause, tc.cause) {
				t.Fatalf("transitions %+v, want one by the system with cause %q", tr, tc.cause)
			}
			stops := h.Driver.CallsTo("Stop")[stopsBefore:]
			if tc.want == lifecycle.Quarantined {
				if tr[0].Runbook == "" || len(stops) != 1 || !strings.HasPrefix(stops[0].CommandID, "reconcile:alpha:") {
					t.Fatalf("quarantine: runbook %q, stops %+v", tr[0].Runbook, stops)
				}
			} else if len(stops) != 0 {
				t.Fatalf("stops %+v for a move to %s", stops, tc.want)
			}
			h.Engine.Tick(t.Context()) // settled: nothing more happens
			if len(h.EventsOf(core.EvTransition)) != n+1 || len(h.Driver.CallsTo("Stop")) != stopsBefore+len(stops) {
				t.Fatal("a second Tick acted again")
			}
			h.ValidateEvents()
		})
	}
}

// step is one command of a test's setup.
type step struct {
	op     core.Op
	params core.Params
}

func start(m lifecycle.Mode) []step { return []step{{core.OpStart, core.Params{Mode: m}}} }

func startPause(m lifecycle.Mode) []step { return append(start(m), step{op: core.OpPause}) }

// A drifted bot whose stop fails stays quarantined and is reported stuck:
// it may still be trading.
func TestTick_DriftStopFailureReported(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.Driver.SetStatus("alpha", core.BotStatus{Alive: true, Mode: lifecycle.Live})
	h.Driver.FailNext("Stop", errors.New("endpoint refused"))
	h.Engine.Tick(t.Context())
	if h.State("alpha") != lifecycle.Quarantined {
		t.Fatalf("state %s", h.State("alpha"))
	}
	stuck := h.EventsOf(core.EvStuck)
	if len(stuck) != 1 || stuck[0].From != lifecycle.Quarantined || !strings.Contains(stuck[0].Detail, "endpoint refused") ||
		!strings.Contains(stuck[0].Detail, "may still be trading") || stuck[0].Runbook == "" {
		t.Fatalf("stuck %+v", stuck)
	}
	if o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status != core.StatusDenied {
		t.Fatalf("start of a quarantined bot: %+v", o)
	}
	if v := metricValues(t, h.Registry)["botwarden_reconcile_quarantines_total,bot=alpha"]; v != 1 {
		t.Fatalf("drift quarantines of alpha: %v, want 1", v)
	}
	h.ValidateEvents()
}

// With the ledger down the drift cannot be recorded, but the bot is
// quarantined and stopped anyway, loudly: both are safety-increasing.
func TestTick_DriftStoppedEvenWhenLedgerDown(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.Driver.SetStatus("alpha", core.BotStatus{Alive: true, Mode: lifecycle.Live})
	n := h.Auditor.Len()
	h.Auditor.SetFailing(true)
	h.Engine.Tick(t.Context())
	if stops := h.Driver.CallsTo("Stop"); len(stops) != 1 || stops[0].Bot != "alpha" {
		t.Fatalf("stops %+v", stops)
	}
	if h.State("alpha") != lifecycle.Quarantined || h.Auditor.Len() != n {
		t.Fatalf("state %s, %d events recorded", h.State("alpha"), h.Auditor.Len()-n)
	}
	if v := metricValues(t, h.Registry)["botwarden_unaudited_effects_total"]; v != 1 {
		t.Fatalf("unaudited effects %v, want 1", v)
	}
}

// A quarantine by drift ends an open challenge on the bot: its
// preconditions changed.
func TestTick_DriftSupersedesOpenChallenge(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Live}))
	if o.Status != core.StatusChallenged {
		t.Fatalf("live start: %+v", o)
	}
	h.Driver.SetStatus("alpha", core.BotStatus{Alive: true, Mode: lifecycle.Live})
	h.Engine.Tick(t.Context())
	if c := h.Confirm(o.Challenge.ID, coretest.Approver); c.Status == core.StatusApplied {
		t.Fatalf("challenge confirmed after the bot was quarantined: %+v", c)
	}
	if h.State("alpha") != lifecycle.Quarantined {
		t.Fatalf("state %s", h.State("alpha"))
	}
}

// ERROR never recovers by itself: a bot in ERROR whose process comes back
// is not running for the control plane, so it is quarantined and stopped.
func TestTick_ErrorBotFoundAliveIsQuarantined(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Shadow}))
	h.Driver.SetStatus("alpha", core.BotStatus{Detail: "exit 137"})
	h.Ticks(core.DeadReadings)
	if h.State("alpha") != lifecycle.Error {
		t.Fatalf("state %s", h.State("alpha"))
	}
	h.Driver.SetStatus("alpha", core.BotStatus{Alive: true, Mode: lifecycle.Shadow}) // restarted by hand
	h.Engine.Tick(t.Context())
	tr := h.EventsOf(core.EvTransition)
	if last := tr[len(tr)-1]; last.From != lifecycle.Error || last.To != lifecycle.Quarantined ||
		!strings.Contains(last.Cause, "recorded ERROR, but its driver reports it running in mode shadow") {
		t.Fatalf("last transition %+v", last)
	}
	if len(h.Driver.CallsTo("Stop")) != 1 {
		t.Fatalf("stops %+v", h.Driver.CallsTo("Stop"))
	}
	h.ValidateEvents()
}

// A quarantine whose stop fails is still a quarantine, of a bot that may
// still be trading: it is reported stuck, its evidence is bundled, and a
// stop sends its driver a stop again, leaving it QUARANTINED.
func TestQuarantine_StopFailedReportedAndRetried(t *testing.T) {
	for _, target := range []string{"alpha", "group:majors"} {
		h := coretest.NewEngine(t)
		h.Healthy()
		h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
		h.Driver.FailNext("Stop", errors.New("endpoint refused"))
		if o := h.Submit(h.Cmd(coretest.Operator, target, core.OpQuarantine, core.Params{})); o.Status != core.StatusFailed {
			t.Fatalf("%s: quarantine whose stop failed: %+v", target, o)
		}
		if h.State("alpha") != lifecycle.Quarantined {
			t.Fatalf("%s: alpha %s", target, h.State("alpha"))
		}
		stuck := h.EventsOf(core.EvStuck)
		if len(stuck) != 1 || stuck[0].Target != "alpha" || !strings.Contains(stuck[0].Detail, "may still be trading") {
			t.Fatalf("%s: stuck reports %+v", target, stuck)
		}
		h.Engine.Tick(t.Context()) // builds the evidence
		if reqs := h.Bundler.Requests(); len(reqs) != 1 || reqs[0].Actor != core.SystemActor {
			t.Fatalf("%s: evidence bundles %+v", target, reqs)
		}
		stops := len(h.Driver.CallsTo("Stop"))
		if o := h.Submit(h.Cmd(coretest.Operator, target, core.OpStop, core.Params{})); o.Status != core.StatusApplied {
			t.Fatalf("%s: stop again: %+v", target, o)
		}
		if len(h.Driver.CallsTo("Stop")) <= stops || h.State("alpha") != lifecycle.Quarantined {
			t.Fatalf("%s: after the second stop: alpha %s, stops %d", target, h.State("alpha"), len(h.Driver.CallsTo("Stop"))-stops)
		}
		if h.Engine.Snapshot().Bots[0].Stuck {
			t.Fatalf("%s: alpha still reported stuck after a stop that worked", target)
		}
		h.ValidateEvents()
	}
}

// A driver that cannot tell whether a bot is paused (an exec status with
// no output) does not get a paused bot quarantined after a successful
// pause; one that reports "not paused" does.
func TestTick_PauseNotReportedNotJudged(t *testing.T) {
	for _, tc := range []struct {
		name    string
		reality core.BotStatus
		want    lifecycle.State
	}{
		{"pause unknown", core.BotStatus{Alive: true, PauseUnknown: true}, lifecycle.Paused},
		{"reported running", core.BotStatus{Alive: true, Mode: lifecycle.Paper}, lifecycle.Quarantined},
	} {
		h := coretest.NewEngine(t)
		h.Healthy()
		h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
		h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpPause, core.Params{}))
		h.Driver.SetStatus("alpha", tc.reality)
		h.Ticks(core.DeadReadings)
		if got := h.State("alpha"); got != tc.want {
			t.Fatalf("%s: alpha %s, want %s", tc.name, got, tc.want)
		}
	}
}
