package core_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// gatedDriver blocks Start until release is closed; entered is closed
// when the first Start arrives.
type gatedDriver struct {
	*coretest.Driver
	entered, release chan struct{}
	once             sync.Once
}

func newGatedDriver() *gatedDriver {
	return &gatedDriver{Driver: coretest.NewDriver(), entered: make(chan struct{}), release: make(chan struct{})}
}

func (d *gatedDriver) Start(ctx context.Context, m core.BotMeta, mode lifecycle.Mode) error {
	d.once.Do(func() { close(d.entered) })
	select {
	case <-d.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return d.Driver.Start(ctx, m, mode)
}

// within fails the test unless fn returns within d.
func within(t *testing.T, name string, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	start := time.Now()
	go func() { fn(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s blocked for more than %s behind a driver call", name, d)
	}
	if el := time.Since(start); el > d {
		t.Fatalf("%s took %s", name, el)
	}
}

// Reads never wait for a command in progress: while alpha's driver Start
// hangs, every read answers at once and shows the state before the start.
func TestReads_DoNotWaitForDriver(t *testing.T) {
	d := newGatedDriver()
	h := coretest.NewEngine(t, coretest.WithConfig(func(c *core.Config) {
		c.Bots = []core.BotConfig{{ID: "alpha", Group: "majors", Driver: d}, {ID: "beta", Group: "majors", Driver: d}}
	}))
	h.Healthy()
	live := h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStart, core.Params{Mode: lifecycle.Live}))
	start := h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})
	done := make(chan core.Outcome, 1)
	go func() { done <- h.Submit(start) }()
	<-d.entered
	const limit = 200 * time.Millisecond
	e := h.Engine
	within(t, "Snapshot", limit, func() {
		s := e.Snapshot()
		if s.Bots[0].State != lifecycle.Idle || len(s.Challenges) != 1 {
			t.Errorf("snapshot during the start: %+v", s)
		}
	})
	within(t, "Bot", limit, func() {
		if b, ok := e.Bot("alpha"); !ok || b.State != lifecycle.Idle || b.Group != "majors" {
			t.Errorf("bot during the start: %+v %v", b, ok)
		}
		if _, ok := e.Bot("nope"); ok {
			t.Error("Bot found an unknown id")
		}
	})
	within(t, "Challenge", limit, func() {
		if ch, ok := e.Challenge(live.Challenge.ID); !ok || ch.State != core.ChallengeOpen {
			t.Errorf("challenge %+v %v", ch, ok)
		}
	})
	within(t, "MayApprove", limit, func() {
		if !e.MayApprove(coretest.Approver, live.Challenge.ID) {
			t.Error("approver may not approve")
		}
	})
	within(t, "Allowed", limit, func() {
		if ops := e.Allowed(coretest.Operator, "beta"); !slices.Contains(ops, core.OpStart) {
			t.Errorf("allowed %v", ops)
		}
	})
	within(t, "Roles", limit, func() { _ = e.Roles(coretest.Approver) })
	within(t, "Environment", limit, func() { _ = e.Environment() })
	within(t, "Outcome", limit, func() {
		if _, ok, _ := e.Outcome(t.Context(), start.CommandID); ok {
			t.Error("outcome of a command still running")
		}
		if o, ok, _ := e.Outcome(t.Context(), live.CommandID); !ok || o.Challenge == nil || o.Challenge.State != core.ChallengeOpen {
			t.Errorf("outcome of the live start %+v", o)
		}
	})
	close(d.release)
	if o := <-done; o.Status != core.StatusApplied || h.State("alpha") != lifecycle.RunningPaper {
		t.Fatalf("start after release: %+v", o)
	}
}

// gatedEngine builds an engine whose alpha and beta share a driver that
// blocks Start on alpha until released; beta starts at once.
func gatedEngine(t *testing.T) (*coretest.Harness, *gatedDriver) {
	t.Helper()
	d := newGatedDriver()
	h := coretest.NewEngine(t, coretest.WithConfig(func(c *core.Config) {
		c.Bots = []core.BotConfig{{ID: "alpha", Group: "majors", Driver: d}, {ID: "beta", Group: "majors", Driver: d.Driver}}
	}))
	h.Healthy()
	return h, d
}

// Commands on different bots overlap; commands on the same bot wait.
func TestSubmit_ConcurrentAcrossBotsSerialPerBot(t *testing.T) {
	h, d := gatedEngine(t)
	alpha := make(chan core.Outcome, 1)
	go func() {
		alpha <- h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	}()
	<-d.entered
	within(t, "start on beta", 5*time.Second, func() {
		if o := h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status != core.StatusApplied {
			t.Errorf("beta: %+v", o)
		}
	})
	stop := make(chan core.Outcome, 1)
	go func() { stop <- h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStop, core.Params{})) }()
	select {
	case o := <-stop:
		t.Fatalf("stop on alpha ran while alpha's start was in flight: %+v", o)
	case <-time.After(50 * time.Millisecond):
	}
	close(d.release)
	if o := <-alpha; o.Status != core.StatusApplied {
		t.Fatalf("alpha start: %+v", o)
	}
	if o := <-stop; o.Status != core.StatusApplied || o.From != lifecycle.RunningPaper {
		t.Fatalf("stop after the start: %+v", o)
	}
	h.ValidateEvents()
}

// A safety change waits for a command in flight, so it never slips between
// that command's check and its effect; commands after it see it.
func TestSetSafety_WaitsForCommandInFlight(t *testing.T) {
	h, d := gatedEngine(t)
	alpha := make(chan core.Outcome, 1)
	go func() {
		alpha <- h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	}()
	<-d.entered
	safe := make(chan struct{})
	go func() { h.SetSafety(core.SafetySafe); close(safe) }()
	select {
	case <-safe:
		t.Fatal("safety changed while a start it would have denied was between check and effect")
	case <-time.After(50 * time.Millisecond):
	}
	close(d.release)
	<-safe
	if o := <-alpha; o.Status != core.StatusApplied {
		t.Fatalf("alpha start: %+v", o)
	}
	var applied, safety uint64
	for i, ev := range h.Events() {
		switch {
		case ev.Type == core.EvApplied && ev.Target == "alpha":
			applied = uint64(i + 1)
		case ev.Type == core.EvSafety && ev.Safety.Mode == core.SafetySafe:
			safety = uint64(i + 1)
		}
	}
	if applied == 0 || safety < applied {
		t.Fatalf("safety SAFE at seq %d, alpha's start applied at seq %d", safety, applied)
	}
	if o := h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Reason != core.ReasonSafety {
		t.Fatalf("start after SAFE: %+v", o)
	}
}

// The same command_id sent for two different bots at once has one effect.
func TestSubmit_ConcurrentDuplicatesAcrossBots(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	base := h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})
	const n = 16
	outs := make([]core.Outcome, 2*n)
	var wg sync.WaitGroup
	for i := range 2 * n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := base
			if i%2 == 1 {
				cmd.Target = "beta"
			}
			outs[i] = h.Submit(cmd)
		}()
	}
	wg.Wait()
	originals := 0
	for _, o := range outs {
		if !o.Duplicate {
			originals++
		}
	}
	if originals != 1 || len(h.Driver.CallsTo("Start")) != 1 || len(h.EventsOf(core.EvRequested)) != 1 {
		t.Fatalf("%d originals, %d starts, %d intents; want 1 each", originals, len(h.Driver.CallsTo("Start")), len(h.EventsOf(core.EvRequested)))
	}
	h.ValidateEvents()
}

func TestRequestedTransition(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStart, core.Params{Mode: lifecycle.Shadow}))
	cases := []struct {
		target string
		op     core.Op
		p      core.Params
		want   string
	}{
		{"alpha", core.OpStart, core.Params{Mode: lifecycle.Live}, "IDLE->RUNNING_LIVE"},
		{"alpha", core.OpStart, core.Params{}, "start"}, // no mode: nothing implied
		{"beta", core.OpPause, core.Params{}, "RUNNING_SHADOW->PAUSED"},
		{"beta", core.OpStop, core.Params{}, "RUNNING_SHADOW->STOPPING"},
		{"gamma", core.OpQuarantine, core.Params{}, "IDLE->QUARANTINED"},
		{"gamma", core.OpRelease, core.Params{}, "IDLE->IDLE"},
		{"group:majors", core.OpStop, core.Params{}, "stop"},
		{"global", core.OpKillSwitchSet, core.Params{Level: "halt"}, "killswitch_set"},
		{"alpha", core.OpStatus, core.Params{}, "status"},
		{"delta", core.OpStart, core.Params{Mode: lifecycle.Paper}, "start"},
	}
	for _, tc := range cases {
		if got := h.Engine.RequestedTransition(tc.target, tc.op, tc.p); got != tc.want {
			t.Errorf("%s %s %+v: %q, want %q", tc.op, tc.target, tc.p, got, tc.want)
		}
	}
}
