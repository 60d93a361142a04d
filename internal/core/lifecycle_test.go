package core_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

func TestResume_ModeAlwaysExplicit(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Live}))
	h.Confirm(o.Challenge.ID, coretest.Approver)
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpPause, core.Params{}))
	r := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpResume, core.Params{}))
	if r.Status != core.StatusDenied || r.Reason != core.ReasonModeRequired || !strings.Contains(r.Detail, "paused from live") {
		t.Fatalf("resume without mode: %+v", r)
	}
	if len(h.Driver.CallsTo("Resume")) != 0 {
		t.Fatal("resumed implicitly")
	}
	if r := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpResume, core.Params{Mode: lifecycle.Live})); r.Status != core.StatusChallenged {
		t.Fatalf("resume live must be challenged: %+v", r)
	}
	if r := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpResume, core.Params{Mode: lifecycle.Paper})); r.Status != core.StatusApplied || h.State("alpha") != lifecycle.RunningPaper {
		t.Fatalf("resume paper: %+v", r)
	}
	if r := h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStart, core.Params{})); r.Reason != core.ReasonModeRequired {
		t.Fatalf("start without mode: %+v", r)
	}
	h.ValidateEvents()
}

// A running bot's mode never switches in one step: a start naming another
// mode is denied and says how (pause, then resume naming the mode), and
// the way it names works, a switch to live through its challenge.
func TestModeSwitch_PauseThenResume(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	if o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status != core.StatusApplied {
		t.Fatalf("paper start: %+v", o)
	}
	o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Live}))
	if o.Status != core.StatusDenied || o.Reason != core.ReasonTransition || !strings.Contains(o.Detail, "pause it, then resume it naming the mode (resume --mode live)") {
		t.Fatalf("live start of a paper bot: %+v", o)
	}
	if o.Challenge != nil || h.State("alpha") != lifecycle.RunningPaper {
		t.Fatalf("the denied switch changed something: %+v, state %s", o, h.State("alpha"))
	}
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpPause, core.Params{}))
	r := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpResume, core.Params{Mode: lifecycle.Live}))
	if r.Status != core.StatusChallenged || h.State("alpha") != lifecycle.Paused {
		t.Fatalf("resume into live: %+v, state %s; want a challenge, still PAUSED", r, h.State("alpha"))
	}
	if c := h.Confirm(r.Challenge.ID, coretest.Approver); c.Status != core.StatusApplied || h.State("alpha") != lifecycle.RunningLive {
		t.Fatalf("confirmed switch: %+v, state %s", c, h.State("alpha"))
	}
	h.ValidateEvents()
}

func TestStop_GracefulThenStuck(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	ctx := context.Background()
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	h.Driver.SetSlowStop(true)
	o := h.Submit(h.Cmd(coretest.Operator, "group:majors", core.OpStop, core.Params{}))
	if o.Status != core.StatusApplied || h.State("alpha") != lifecycle.Stopping || h.State("beta") != lifecycle.Stopping {
		t.Fatalf("stop: %+v", o)
	}
	h.Driver.MarkStopped("beta")
	h.Engine.Tick(ctx)
	if h.State("beta") != lifecycle.Idle || h.State("alpha") != lifecycle.Stopping {
		t.Fatalf("after tick: beta %s alpha %s", h.State("beta"), h.State("alpha"))
	}
	h.Clock.Advance(21 * time.Second)
	h.Engine.Tick(ctx)
	h.Engine.Tick(ctx)
	stuck := h.EventsOf(core.EvStuck)
	if len(stuck) != 1 || stuck[0].Target != "alpha" || stuck[0].Runbook == "" || !strings.Contains(stuck[0].Detail, "support_bundle") {
		t.Fatalf("stuck report: %+v", stuck)
	}
	if h.State("alpha") != lifecycle.Stopping || !h.Engine.Snapshot().Bots[0].Stuck {
		t.Fatal("stuck bot was forced or not flagged")
	}
	// The evidence is kept at once: a bundle built by the system, once.
	if reqs := h.Bundler.Requests(); len(reqs) != 1 || reqs[0].Target != "alpha" || reqs[0].Actor != core.SystemActor {
		t.Fatalf("bundles built for the stuck bot: %+v", reqs)
	}
	seq := slices.IndexFunc(h.Events(), func(ev core.Event) bool { return ev.Type == core.EvStuck }) + 1
	id := fmt.Sprintf("evidence:alpha:%d", seq)
	if o, ok, _ := h.Engine.Outcome(ctx, id); !ok || o.Status != core.StatusApplied || o.Bundle == nil {
		t.Fatalf("evidence bundle %s: %+v %v", id, o, ok)
	}
	h.Driver.MarkStopped("alpha")
	h.Engine.Tick(ctx)
	if h.State("alpha") != lifecycle.Idle || h.Engine.Snapshot().Bots[0].Stuck {
		t.Fatal("stopped bot not settled")
	}
	h.ValidateEvents()
}

func TestTick_DeadRunningBotGoesToErrorAndStays(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	ctx := context.Background()
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Shadow}))
	h.Driver.SetStatus("alpha", core.BotStatus{Alive: false, Detail: "exit 137"})
	h.Engine.Tick(ctx)
	if h.State("alpha") != lifecycle.RunningShadow {
		t.Fatalf("one not-alive reading moved alpha to %s", h.State("alpha"))
	}
	h.Driver.SetStatus("alpha", core.BotStatus{Alive: true, Mode: lifecycle.Shadow}) // a hiccup: alive again
	h.Engine.Tick(ctx)
	h.Driver.SetStatus("alpha", core.BotStatus{Alive: false, Detail: "exit 137"})
	h.Ticks(core.DeadReadings - 1)
	if h.State("alpha") != lifecycle.RunningShadow {
		t.Fatalf("readings not in a row moved alpha to %s", h.State("alpha"))
	}
	h.Engine.Tick(ctx)
	if h.State("alpha") != lifecycle.Error {
		t.Fatalf("state %s", h.State("alpha"))
	}
	tr := h.EventsOf(core.EvTransition)
	if last := tr[len(tr)-1]; last.To != lifecycle.Error || !strings.Contains(last.Cause, "exit 137") || last.Actor != core.SystemActor {
		t.Fatalf("transition %+v", last)
	}
	h.Driver.SetStatus("alpha", core.BotStatus{Stopped: true})
	h.Engine.Tick(ctx)
	if h.State("alpha") != lifecycle.Error {
		t.Fatal("ERROR recovered on its own")
	}
	h.Driver.SetStatusError(errors.New("unreachable"))
	h.Engine.Tick(ctx) // no panic, no change
	if h.State("alpha") != lifecycle.Error {
		t.Fatal("an unreachable driver changed an ERROR bot")
	}
	h.Driver.SetStatusError(nil)
	if o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status != core.StatusApplied {
		t.Fatalf("explicit restart from ERROR: %+v", o)
	}
	h.ValidateEvents()
}

// A stale FROM never blocks a move toward safety. The operator saw alpha
// running; by the time their stop, pause or quarantine arrives it has
// moved. The command runs from the state alpha is in now when the
// lifecycle allows the same TO, records the real FROM, and says what the
// operator saw; anything else, and every other op, is still refused.
func TestSubmit_StaleFromTowardSafety(t *testing.T) {
	cases := []struct {
		name  string
		op    core.Op
		asked string                    // requested_transition, as the operator's view had it
		now   func(h *coretest.Harness) // moves alpha after the view
		want  lifecycle.State           // "" for a refusal
	}{
		{"stop of a bot paused meanwhile", core.OpStop, "RUNNING_PAPER->STOPPING", pauseAlpha, lifecycle.Stopping},
		{"quarantine of a bot that crashed meanwhile", core.OpQuarantine, "RUNNING_PAPER->QUARANTINED", crashAlpha, lifecycle.Quarantined},
		{"stop of a bot that crashed meanwhile", core.OpStop, "RUNNING_PAPER->STOPPING", crashAlpha, ""},
		{"pause of a bot paused meanwhile", core.OpPause, "RUNNING_PAPER->PAUSED", pauseAlpha, ""},
		{"start is not toward safety", core.OpStart, "IDLE->RUNNING_PAPER", func(*coretest.Harness) {}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := coretest.NewEngine(t)
			h.Healthy()
			h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
			tc.now(h)
			before := h.State("alpha")
			p := core.Params{}
			if tc.op == core.OpStart {
				p.Mode = lifecycle.Paper
			}
			cmd := h.Cmd(coretest.Operator, "alpha", tc.op, p)
			cmd.RequestedTransition = tc.asked
			o := h.Submit(cmd)
			if tc.want == "" {
				if o.Status != core.StatusDenied || o.Reason != core.ReasonTransition || h.State("alpha") != before {
					t.Fatalf("got %+v, state %s; want refused, state %s", o, h.State("alpha"), before)
				}
				return
			}
			if o.Status != core.StatusApplied || h.State("alpha") != tc.want {
				t.Fatalf("got %+v, state %s; want applied, %s", o, h.State("alpha"), tc.want)
			}
			seen, _, _ := strings.Cut(tc.asked, "->")
			if !strings.Contains(o.Detail, "you saw "+seen) {
				t.Fatalf("detail %q does not say what was seen", o.Detail)
			}
			trs := h.EventsOf(core.EvTransition)
			if last := trs[len(trs)-1]; last.From != before || last.CommandID != cmd.CommandID {
				t.Fatalf("transition %+v, want from %s by %s", last, before, cmd.CommandID)
			}
			h.ValidateEvents()
		})
	}
}

func pauseAlpha(h *coretest.Harness) {
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpPause, core.Params{}))
}

func crashAlpha(h *coretest.Harness) {
	h.Driver.MarkStopped("alpha")
	h.Ticks(core.DeadReadings)
	if h.State("alpha") != lifecycle.Error {
		h.T.Fatalf("alpha %s after its crash, want ERROR", h.State("alpha"))
	}
}

func TestSubmit_DeniedAndRecorded(t *testing.T) {
	cases := []struct {
		name string
		edit func(*core.Command)
		want core.Reason
	}{
		{"other environment", func(c *core.Command) { c.Environment = "prod" }, core.ReasonWrongEnvironment},
		{"unknown bot", func(c *core.Command) { c.Target = "delta" }, core.ReasonUnknownTarget},
		{"unknown group", func(c *core.Command) {
			c.Target, c.Op, c.RequestedTransition, c.Params = "group:nope", core.OpStop, "stop", core.Params{}
		}, core.ReasonUnknownTarget},
		{"start on a group", func(c *core.Command) { c.Target = "group:majors" }, core.ReasonUnknownTarget},
		{"stale FROM", func(c *core.Command) { c.RequestedTransition = "PAUSED->RUNNING_PAPER" }, core.ReasonTransition},
		{"viewer", func(c *core.Command) { c.Actor = coretest.Viewer }, core.ReasonForbidden},
		{"unknown actor", func(c *core.Command) { c.Actor = "U0NOBODY" }, core.ReasonForbidden},
		{"resume an IDLE bot", func(c *core.Command) { c.Op, c.RequestedTransition = core.OpResume, "resume" }, core.ReasonTransition},
		{"pause an IDLE bot", func(c *core.Command) { c.Op, c.RequestedTransition, c.Params = core.OpPause, "pause", core.Params{} }, core.ReasonTransition},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := coretest.NewEngine(t)
			h.Healthy()
			cmd := h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})
			tc.edit(&cmd)
			o := h.Submit(cmd)
			if o.Status != core.StatusDenied || o.Reason != tc.want {
				t.Fatalf("got %s/%s (%s), want %s", o.Status, o.Reason, o.Detail, tc.want)
			}
			if o.Environment != "dev" || o.Detail == "" || o.Runbook == "" {
				t.Fatalf("denial lacks environment/detail/runbook: %+v", o)
			}
			if len(h.EventsOf(core.EvRequested)) != 1 || len(h.EventsOf(core.EvDenied)) != 1 {
				t.Fatal("requested + denied not both recorded")
			}
			h.ValidateEvents()
		})
	}
}

func TestSubmit_MalformedIsErrorNothingRecorded(t *testing.T) {
	cases := []struct {
		name string
		edit func(*core.Command)
	}{
		{"no command_id", func(c *core.Command) { c.CommandID = "" }},
		{"no actor", func(c *core.Command) { c.Actor = "" }},
		{"no trace_id", func(c *core.Command) { c.TraceID = "" }},
		{"no run_id", func(c *core.Command) { c.RunID = "" }},
		{"bad schema version", func(c *core.Command) { c.SchemaVersion = "0.9" }},
		{"unknown op", func(c *core.Command) { c.Op = "launch" }},
		{"unknown environment", func(c *core.Command) { c.Environment = "production" }},
		{"stray param", func(c *core.Command) { c.Params.SecretRef = "vault:x" }},
		{"transition for another op", func(c *core.Command) { c.RequestedTransition = "IDLE->PAUSED" }},
		{"transition garbage", func(c *core.Command) { c.RequestedTransition = "go" }},
		{"bad target", func(c *core.Command) { c.Target = "group:" }},
		{"bad duration", func(c *core.Command) {
			c.Op, c.RequestedTransition, c.Params = core.OpMonitoringDisable, "monitoring_disable", core.Params{Duration: "0s"}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := coretest.NewEngine(t)
			n := h.Auditor.Len()
			cmd := h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})
			tc.edit(&cmd)
			if _, err := h.Engine.Submit(context.Background(), cmd); !errors.Is(err, core.ErrInvalidCommand) {
				t.Fatalf("got %v, want ErrInvalidCommand", err)
			}
			if h.Auditor.Len() != n {
				t.Fatal("malformed command recorded")
			}
		})
	}
}

func TestAllowed_LeastPrivilege(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	cases := []struct {
		actor, target string
		want, not     []core.Op
	}{
		{coretest.Viewer, "alpha", []core.Op{core.OpStatus}, []core.Op{core.OpStart, core.OpStop}},
		{coretest.Operator, "alpha", []core.Op{core.OpStart, core.OpApply, core.OpQuarantine, core.OpKillSwitchSet},
			[]core.Op{core.OpStop, core.OpPause, core.OpResume, core.OpRelease, core.OpSecretRotate}},
		{coretest.Operator, "group:majors", []core.Op{core.OpStop, core.OpKillSwitchSet}, []core.Op{core.OpStart}},
		{coretest.Admin, "alpha", []core.Op{core.OpSecretRotate, core.OpDataOp, core.OpGateOverride}, []core.Op{core.OpRelease, core.OpKillSwitchRelease}},
		{"U0NOBODY", "alpha", nil, []core.Op{core.OpStatus}},
	}
	for _, tc := range cases {
		got := h.Engine.Allowed(tc.actor, tc.target)
		for _, op := range tc.want {
			if !slices.Contains(got, op) {
				t.Errorf("%s on %s: %s not offered (got %v)", tc.actor, tc.target, op, got)
			}
		}
		for _, op := range tc.not {
			if slices.Contains(got, op) {
				t.Errorf("%s on %s: %s offered (got %v)", tc.actor, tc.target, op, got)
			}
		}
	}
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	got := h.Engine.Allowed(coretest.Operator, "alpha")
	if slices.Contains(got, core.OpStart) || !slices.Contains(got, core.OpStop) || !slices.Contains(got, core.OpPause) {
		t.Fatalf("running bot offers %v", got)
	}
	h.SetSafety(core.SafetySafe)
	if slices.Contains(h.Engine.Allowed(coretest.Operator, "beta"), core.OpStart) {
		t.Fatal("start offered in SAFE")
	}
	if !h.Engine.MayAudit(coretest.Auditor) || h.Engine.MayAudit(coretest.Operator) {
		t.Fatal("audit permission wrong")
	}
	if r := h.Engine.Roles(coretest.Approver); len(r) != 1 || r[0] != "approver" {
		t.Fatalf("roles %v", r)
	}
}

func TestChannelPolicy(t *testing.T) {
	doc := strings.Replace(selfApprovePolicy, "version: 1\n", "version: 1\nallowed_channels: [C0OPS]\n", 1)
	h := coretest.NewEngine(t, coretest.WithPolicy(mustPolicy(t, doc)))
	h.Healthy()
	cmd := h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})
	cmd.Channel = "C0RANDOM"
	if o := h.Submit(cmd); o.Reason != core.ReasonChannel {
		t.Fatalf("wrong channel: %+v", o)
	}
	cmd = h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})
	cmd.Channel = "C0OPS"
	if o := h.Submit(cmd); o.Status != core.StatusApplied {
		t.Fatalf("allowed channel: %+v", o)
	}
}

func TestDriverFailure_Reported(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.Driver.FailNext("Start", errors.New("exchange session refused"))
	o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	if o.Status != core.StatusFailed || o.Reason != core.ReasonDriver || o.Runbook == "" || h.State("alpha") != lifecycle.Idle {
		t.Fatalf("driver failure: %+v", o)
	}
	h.ValidateEvents()
}

func TestNew_Config(t *testing.T) {
	h := coretest.NewEngine(t)
	bad := []func(*core.Config){
		func(c *core.Config) { c.Environment = "qa" },
		func(c *core.Config) { c.Policy = nil },
		func(c *core.Config) { c.Bots = append(c.Bots, c.Bots[0]) },
		func(c *core.Config) { c.Bots = []core.BotConfig{{ID: "global", Driver: h.Driver}} },
		func(c *core.Config) { c.Bots = []core.BotConfig{{ID: "x"}} },
	}
	for i, edit := range bad {
		cfg := h.Config
		cfg.Bots = slices.Clone(cfg.Bots)
		edit(&cfg)
		if _, err := core.New(context.Background(), cfg, core.Deps{Auditor: coretest.NewMemAuditor()}); !errors.Is(err, core.ErrConfig) {
			t.Errorf("case %d: got %v", i, err)
		}
	}
}

func TestQuarantine_StopsWhatRunsEvenIfStopFails(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	h.Driver.FailNext("Stop", errors.New("no answer"))
	o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpQuarantine, core.Params{}))
	if o.Status != core.StatusFailed || o.To != lifecycle.Quarantined || h.State("alpha") != lifecycle.Quarantined {
		t.Fatalf("quarantine with failing stop: %+v", o)
	}
	if len(h.Driver.CallsTo("Stop")) != 1 {
		t.Fatal("quarantine did not try to stop the bot")
	}
	if o := h.Submit(h.Cmd(coretest.Operator, "beta", core.OpQuarantine, core.Params{})); o.Status != core.StatusApplied || len(h.Driver.CallsTo("Stop")) != 1 {
		t.Fatalf("quarantine of an IDLE bot: %+v", o)
	}
	h.ValidateEvents()
}

// A slow driver status poll does not hold commands up.
func TestTick_SlowStatusDoesNotBlockCommands(t *testing.T) {
	d := &slowStatus{Driver: coretest.NewDriver(), release: make(chan struct{}), entered: make(chan struct{})}
	h := coretest.NewEngine(t, coretest.WithConfig(func(c *core.Config) {
		c.Bots = []core.BotConfig{{ID: "alpha", Group: "majors", Driver: d}}
	}))
	h.Healthy()
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	done := make(chan struct{})
	go func() { h.Engine.Tick(context.Background()); close(done) }()
	<-d.entered
	stopped := make(chan core.Outcome, 1)
	go func() { stopped <- h.Submit(h.Cmd(coretest.Operator, "group:majors", core.OpStop, core.Params{})) }()
	var o core.Outcome
	select {
	case o = <-stopped:
	case <-time.After(5 * time.Second):
		close(d.release)
		t.Fatal("a fleet stop waited for a driver status poll")
	}
	if o.Status != core.StatusApplied || h.State("alpha") != lifecycle.Stopping {
		t.Fatalf("stop during a slow poll: %+v", o)
	}
	close(d.release)
	<-done
	// The poll saw alpha running; alpha is STOPPING now, so it is ignored.
	if h.State("alpha") != lifecycle.Stopping {
		t.Fatalf("stale poll result applied: %s", h.State("alpha"))
	}
}

type slowStatus struct {
	*coretest.Driver
	release chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (s *slowStatus) Status(ctx context.Context, bot string) (core.BotStatus, error) {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return core.BotStatus{Alive: false}, nil // would move a RUNNING bot to ERROR
}

// A stop whose driver call failed (a timeout) but took effect all the
// same ends in IDLE, as a stop, not in ERROR as a crash with no way back.
func TestStop_FailedButTookEffectCompletes(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	h.Driver.FailNext("Stop", context.DeadlineExceeded)
	stop := h.Cmd(coretest.Operator, "alpha", core.OpStop, core.Params{})
	if o := h.Submit(stop); o.Status != core.StatusFailed || h.State("alpha") != lifecycle.RunningPaper {
		t.Fatalf("stop that timed out: %+v, alpha %s", o, h.State("alpha"))
	}
	h.Driver.MarkStopped("alpha") // it did stop
	h.Ticks(core.DeadReadings)
	if h.State("alpha") != lifecycle.Idle {
		t.Fatalf("alpha %s, want IDLE", h.State("alpha"))
	}
	tr := h.EventsOf(core.EvTransition)
	if len(tr) < 2 || tr[len(tr)-2].To != lifecycle.Stopping || tr[len(tr)-2].CommandID != stop.CommandID {
		t.Fatalf("transitions %+v: want STOPPING linked to the stop", tr)
	}
	h.ValidateEvents()
}

// The same for a group's stop: each bot it did not move and that is
// found stopped completes to IDLE.
func TestStop_FailedGroupStopButTookEffectCompletes(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.Submit(h.Cmd(coretest.Operator, "gamma", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	h.Driver.FailNext("Stop", context.DeadlineExceeded)
	if o := h.Submit(h.Cmd(coretest.Operator, "group:alts", core.OpStop, core.Params{})); o.Status != core.StatusFailed {
		t.Fatalf("group stop that timed out: %+v", o)
	}
	h.Driver.MarkStopped("gamma")
	h.Ticks(core.DeadReadings)
	if h.State("gamma") != lifecycle.Idle {
		t.Fatalf("gamma %s, want IDLE", h.State("gamma"))
	}
}
