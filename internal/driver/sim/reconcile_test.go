package sim_test

import (
	"strings"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/driver/sim"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// simClock drives the simulator from the harness clock.
type simClock struct{ c *coretest.Clock }

func (s simClock) Now() time.Time { return s.c.Now() }

func (s simClock) After(d time.Duration) <-chan time.Time {
	s.c.Advance(d)
	ch := make(chan time.Time, 1)
	ch <- s.c.Now()
	return ch
}

// newFleet runs the real engine over simulated bots alpha, beta, gamma.
func newFleet(t *testing.T, cfg sim.Config) (*coretest.Harness, *sim.Driver) {
	t.Helper()
	clk := coretest.NewClock(coretest.Epoch)
	d := sim.New(simClock{clk})
	var bots []core.BotConfig
	for _, b := range [][2]string{{"alpha", "majors"}, {"beta", "majors"}, {"gamma", "alts"}} {
		if err := d.Add(b[0], cfg); err != nil {
			t.Fatal(err)
		}
		bots = append(bots, core.BotConfig{ID: b[0], Group: b[1], Driver: d})
	}
	h := coretest.NewEngine(t, coretest.WithClock(clk), coretest.WithConfig(func(c *core.Config) { c.Bots = bots }))
	h.Healthy()
	return h, d
}

func lastEvent(h *coretest.Harness, typ, bot string) (core.Event, bool) {
	evs := h.Events()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Type == typ && evs[i].Target == bot {
			return evs[i], true
		}
	}
	return core.Event{}, false
}

func TestReconcile_DeadBotGoesToErrorAndStays(t *testing.T) {
	h, d := newFleet(t, sim.Config{StartDelay: -1})
	if o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status != core.StatusApplied {
		t.Fatalf("start: %+v", o)
	}
	h.Engine.Tick(t.Context())
	if s := h.State("alpha"); s != lifecycle.RunningPaper {
		t.Fatalf("healthy bot after tick: %s", s)
	}
	if err := d.Crash("alpha", "segfault in strategy"); err != nil {
		t.Fatal(err)
	}
	h.Ticks(core.DeadReadings)
	if s := h.State("alpha"); s != lifecycle.Error {
		t.Fatalf("crashed bot: %s, want ERROR", s)
	}
	ev, ok := lastEvent(h, "bot.state.transition", "alpha")
	if !ok || ev.To != lifecycle.Error || !strings.Contains(ev.Cause, "segfault in strategy") {
		t.Errorf("transition event %+v, want ->ERROR with the cause", ev)
	}
	// ERROR never recovers on its own: a process that came back (started
	// outside the control plane) is quarantined and stopped, never RUNNING.
	if err := d.Start(t.Context(), core.BotMeta{Bot: "alpha", CommandID: "outside"}, lifecycle.Paper); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		h.Clock.Advance(time.Second)
		h.Engine.Tick(t.Context())
	}
	if s := h.State("alpha"); s != lifecycle.Quarantined {
		t.Errorf("after the process came back: %s, want QUARANTINED", s)
	}
	if st, err := d.Status(t.Context(), "alpha"); err != nil || !st.Stopped {
		t.Errorf("sim status %+v, %v: want stopped", st, err)
	}
	h.ValidateEvents()
}

func TestReconcile_DieAfter(t *testing.T) {
	h, _ := newFleet(t, sim.Config{StartDelay: -1, DieAfter: time.Minute})
	h.Submit(h.Cmd(coretest.Operator, "gamma", core.OpStart, core.Params{Mode: lifecycle.Shadow}))
	h.Clock.Advance(59 * time.Second)
	h.Engine.Tick(t.Context())
	if s := h.State("gamma"); s != lifecycle.RunningShadow {
		t.Fatalf("before die_after: %s", s)
	}
	h.Clock.Advance(time.Second)
	h.Ticks(core.DeadReadings)
	if s := h.State("gamma"); s != lifecycle.Error {
		t.Fatalf("at die_after: %s, want ERROR", s)
	}
}

func TestReconcile_StopCompletesAfterStopDelay(t *testing.T) {
	h, _ := newFleet(t, sim.Config{StartDelay: -1}) // default stop_delay 2s
	h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStop, core.Params{}))
	steps := []struct {
		advance time.Duration
		want    lifecycle.State
	}{{0, lifecycle.Stopping}, {time.Second, lifecycle.Stopping}, {time.Second, lifecycle.Idle}}
	for i, st := range steps {
		h.Clock.Advance(st.advance)
		h.Engine.Tick(t.Context())
		if s := h.State("beta"); s != st.want {
			t.Fatalf("step %d: %s, want %s", i, s, st.want)
		}
	}
}

func TestReconcile_StuckStopping(t *testing.T) {
	h, _ := newFleet(t, sim.Config{StartDelay: -1, StopDelay: time.Hour})
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStop, core.Params{}))
	h.Clock.Advance(h.Config.StopTimeout + time.Second)
	h.Engine.Tick(t.Context())
	if s := h.State("alpha"); s != lifecycle.Stopping {
		t.Fatalf("stuck bot: %s, want still STOPPING (never forced)", s)
	}
	ev, ok := lastEvent(h, "bot.stuck", "alpha")
	if !ok || ev.Runbook == "" || !strings.Contains(ev.Detail, "support_bundle") {
		t.Fatalf("stuck event %+v, want one with a runbook and a bundle offer", ev)
	}
	h.Clock.Advance(time.Hour)
	h.Engine.Tick(t.Context())
	if s := h.State("alpha"); s != lifecycle.Idle {
		t.Errorf("after the sim finally stopped: %s, want IDLE", s)
	}
}
