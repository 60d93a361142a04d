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
		if _, ok := e.Outcome(start.CommandID); ok {
			t.Error("outcome of a command still running")
		}
		if o, ok := e.Outcome(live.CommandID); !ok || o.Challenge == nil || o.Challenge.State != core.ChallengeOpen {
			t.Errorf("outcome of the live start %+v", o)
		}
	})
	close(d.release)
	if o := <-done; o.Status != core.StatusApplied || h.State("alpha") != lifecycle.RunningPaper {
		t.Fatalf("start after release: %+v", o)
	}
}
