package core_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// Commands, confirms and fleet changes run concurrently while the
// auditor answers appends late, out of order, and refuses about one in
// four at commit, as a ledger on a failing disk does. Every call returns
// (a refused append must not leave the sequencer waiting for good), a
// command whose outcome was recorded is a duplicate when repeated, and
// once appends succeed again the engine serves and restarts normally.
func TestEngine_ConcurrentCommandsWithRefusedAppends(t *testing.T) {
	seeds := []uint64{21, 22}
	if testing.Short() {
		seeds = seeds[:1]
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			h := coretest.NewEngine(t, coretest.WithConfig(func(c *core.Config) { c.RecentOutcomes = 8 }))
			h.Healthy()
			h.Auditor.SetWaitJitter(time.Millisecond)
			h.Auditor.RefuseOneIn(4)
			done := make(chan struct{})
			go func() {
				defer close(done)
				var wg sync.WaitGroup
				for i, bot := range []string{"alpha", "beta", "gamma"} {
					wg.Go(func() { refusedSteps(h, rand.New(rand.NewPCG(seed, uint64(i))), bot, 60) })
				}
				wg.Go(func() { refusedFleet(h, rand.New(rand.NewPCG(seed, 9)), 15) })
				wg.Wait()
			}()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				buf := make([]byte, 1<<20)
				t.Fatalf("commands still running after 30 s:\n%s", buf[:runtime.Stack(buf, true)])
			}
			h.Auditor.RefuseOneIn(0)
			h.Engine.Tick(context.Background())
			for _, bot := range []string{"alpha", "beta", "gamma"} {
				if o := h.Submit(h.Cmd(coretest.Viewer, bot, core.OpStatus, core.Params{})); o.Status != core.StatusApplied || o.Seq == 0 {
					t.Fatalf("status of %s once appends succeed: %+v", bot, o)
				}
			}
			h.ValidateEvents()
			h.Restart() // the ledger replays
		})
	}
}

// refusedSteps runs random commands on one bot and repeats earlier ones.
// A repeat of a command whose outcome was recorded must be a duplicate;
// one whose intent was refused had no effect and may run again.
func refusedSteps(h *coretest.Harness, r *rand.Rand, bot string, n int) {
	ctx := context.Background()
	ops := []core.Op{core.OpStart, core.OpStop, core.OpPause, core.OpResume, core.OpStatus, core.OpQuarantine, core.OpApply}
	type sent struct {
		cmd core.Command
		o   core.Outcome
	}
	var mine []sent
	for range n {
		if len(mine) > 0 && r.IntN(5) == 0 {
			s := mine[r.IntN(len(mine))]
			o, err := h.Engine.Submit(ctx, s.cmd)
			if err != nil || (s.o.Seq != 0 && !o.Duplicate) {
				h.T.Errorf("repeat of %s (%s %s, recorded at %d): %+v, %v; want a duplicate", s.cmd.CommandID, s.cmd.Op, bot, s.o.Seq, o, err)
			}
			continue
		}
		op := pick(r, ops)
		p := randomParams(r, op)
		if op == core.OpStart || op == core.OpResume {
			p.Mode = pick(r, []lifecycle.Mode{lifecycle.Paper, lifecycle.Shadow})
		}
		cmd := h.Cmd(coretest.Operator, bot, op, p)
		o, err := h.Engine.Submit(ctx, cmd)
		if err != nil {
			continue
		}
		mine = append(mine, sent{cmd, o})
		if op == core.OpStop && r.IntN(2) == 0 {
			h.Driver.MarkStopped(bot)
		}
	}
}

// refusedFleet changes fleet-wide state; a refused record is an answer
// too (the change is not made), so errors are expected.
func refusedFleet(h *coretest.Harness, r *rand.Rand, n int) {
	ctx := context.Background()
	for range n {
		now := h.Clock.Now()
		switch r.IntN(4) {
		case 0:
			_ = h.Engine.SetSafety(ctx, core.SafetyDoc{SchemaVersion: core.SchemaVersion, Source: "test", UpdatedAt: now, TTLSeconds: 3600,
				Mode: pick(r, []core.SafetyMode{core.SafetyNormal, core.SafetyNormal, core.SafetySafe})})
		case 1:
			_ = h.Engine.SetGates(ctx, core.GatesDoc{SchemaVersion: core.SchemaVersion, Source: "test", Results: []core.GateResult{{
				Gate: "risk", Scope: pick(r, []string{"global", "group:majors", "alpha"}), EvaluatedAt: now, TTLSeconds: 3600,
				Status: pick(r, []core.GateStatus{core.GatePass, core.GatePass, core.GateFail})}}})
		case 2:
			h.Engine.Tick(ctx)
		default:
			op := pick(r, []core.Op{core.OpKillSwitchSet, core.OpKillSwitchRelease, core.OpStop, core.OpPause})
			_, _ = h.Engine.Submit(ctx, h.Cmd(coretest.Admin, pick(r, []string{"global", "group:majors"}), op, randomParams(r, op)))
		}
	}
}
