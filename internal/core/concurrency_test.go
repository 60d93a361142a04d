package core_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// prefixView is what a ledger prefix says of bot states, open challenges
// (with their approvals) and kill-switch levels.
type prefixView struct {
	bots       map[string]lifecycle.State
	open       map[string]int
	killswitch map[string]core.Level
}

func (p prefixView) clone() prefixView {
	return prefixView{maps.Clone(p.bots), maps.Clone(p.open), maps.Clone(p.killswitch)}
}

// prefixViews folds the ledger: views[i] is the view after events[:i].
func prefixViews(evs []core.Event) []prefixView {
	cur := prefixView{map[string]lifecycle.State{}, map[string]int{}, map[string]core.Level{}}
	out := []prefixView{cur.clone()}
	for _, ev := range evs {
		switch ev.Type {
		case core.EvTransition:
			cur.bots[ev.Target] = ev.To
		case core.EvChallenge:
			cur.open[ev.ChallengeID] = 0
		case core.EvConfirm:
			if _, ok := cur.open[ev.ChallengeID]; ok && ev.Outcome == core.OutcomeApproved {
				cur.open[ev.ChallengeID]++
			}
		case core.EvReject, core.EvApplied, core.EvFailed, core.EvDenied:
			delete(cur.open, ev.ChallengeID)
		case core.EvKillSwitch:
			cur.killswitch[ev.KillSwitch.Scope] = ev.KillSwitch.Level
		}
		out = append(out, cur.clone())
	}
	return out
}

// checkSnapshotIsPrefix fails unless s shows exactly what the ledger
// prefix ending at s.LedgerSeq says: never half of a change.
func checkSnapshotIsPrefix(t *testing.T, s core.Snapshot, views []prefixView) {
	t.Helper()
	if int(s.LedgerSeq) >= len(views) {
		t.Fatalf("snapshot at seq %d beyond the ledger (%d events)", s.LedgerSeq, len(views)-1)
	}
	want := views[s.LedgerSeq]
	for _, b := range s.Bots {
		if b.State != want.bots[b.ID] {
			t.Fatalf("snapshot at seq %d: %s is %s, the ledger prefix says %s", s.LedgerSeq, b.ID, b.State, want.bots[b.ID])
		}
	}
	if len(s.Challenges) != len(want.open) {
		t.Fatalf("snapshot at seq %d: %d open challenges, the ledger prefix says %d", s.LedgerSeq, len(s.Challenges), len(want.open))
	}
	for _, ch := range s.Challenges {
		if n, ok := want.open[ch.ID]; !ok || n != len(ch.Approvals) {
			t.Fatalf("snapshot at seq %d: challenge %s with %d approvals, the ledger prefix says %v/%d", s.LedgerSeq, ch.ID, len(ch.Approvals), ok, n)
		}
	}
	for scope, lv := range want.killswitch {
		if got := s.KillSwitch[scope]; got != lv && !(got == "" && lv == core.LevelOff) {
			t.Fatalf("snapshot at seq %d: kill-switch %s is %q, the ledger prefix says %s", s.LedgerSeq, scope, got, lv)
		}
	}
}

// snapshotter takes snapshots until stopped, keeping up to max of them.
type snapshotter struct {
	stop  atomic.Bool
	wg    sync.WaitGroup
	shots []core.Snapshot
}

func startSnapshotter(e *core.Engine, max int) *snapshotter {
	s := &snapshotter{}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for !s.stop.Load() {
			if len(s.shots) < max {
				s.shots = append(s.shots, e.Snapshot())
			} else {
				_ = e.Snapshot()
			}
			time.Sleep(20 * time.Microsecond)
		}
	}()
	return s
}

func (s *snapshotter) finish() []core.Snapshot {
	s.stop.Store(true)
	s.wg.Wait()
	return s.shots
}

// botSteps runs random commands on one bot, confirming its own live
// challenges now and then and repeating an earlier command_id, which must
// come back a duplicate.
func botSteps(h *coretest.Harness, r *rand.Rand, bot string, n int, submitted chan<- core.Command) {
	ctx := context.Background()
	ops := []core.Op{core.OpStart, core.OpStart, core.OpStop, core.OpPause, core.OpResume, core.OpStatus,
		core.OpQuarantine, core.OpRelease, core.OpApply}
	var open []string
	var mine []core.Command
	for range n {
		if len(mine) > 0 && r.IntN(8) == 0 {
			cmd := mine[r.IntN(len(mine))]
			if o, err := h.Engine.Submit(ctx, cmd); err != nil || !o.Duplicate {
				h.T.Errorf("repeat of %s (%s %s): %+v, %v; want a duplicate", cmd.CommandID, cmd.Op, bot, o, err)
			}
			continue
		}
		if len(open) > 0 && r.IntN(3) == 0 {
			id := open[len(open)-1]
			open = open[:len(open)-1]
			actor := pick(r, []string{coretest.Approver, coretest.Approver2})
			_, _ = h.Engine.Confirm(ctx, core.ConfirmRequest{ChallengeID: id, Actor: actor, Reason: "ok", TypedTarget: bot})
			continue
		}
		op := pick(r, ops)
		cmd := h.Cmd(pick(r, []string{coretest.Operator, coretest.Admin}), bot, op, randomParams(r, op))
		o, err := h.Engine.Submit(ctx, cmd)
		if err != nil {
			continue
		}
		submitted <- cmd
		mine = append(mine, cmd)
		if o.Challenge != nil {
			open = append(open, o.Challenge.ID)
		}
		if op == core.OpStop && r.IntN(2) == 0 {
			h.Driver.MarkStopped(bot)
		}
	}
}

// fleetSteps changes fleet-wide state while bot commands run.
func fleetSteps(h *coretest.Harness, r *rand.Rand, n int, submitted chan<- core.Command) {
	ctx := context.Background()
	for range n {
		switch r.IntN(5) {
		case 0:
			h.SetSafety(pick(r, []core.SafetyMode{core.SafetyNormal, core.SafetyNormal, core.SafetySafe}))
		case 1:
			h.SetGate("risk", pick(r, []string{"global", "group:majors", "alpha"}), pick(r, []core.GateStatus{core.GatePass, core.GatePass, core.GateFail}))
		case 2:
			h.Engine.Tick(ctx)
		default:
			op := pick(r, []core.Op{core.OpKillSwitchSet, core.OpKillSwitchRelease, core.OpStop, core.OpPause})
			cmd := h.Cmd(coretest.Admin, pick(r, []string{"global", "group:majors", "group:alts"}), op, randomParams(r, op))
			if _, err := h.Engine.Submit(ctx, cmd); err == nil {
				submitted <- cmd
			}
		}
	}
}

// Concurrent random commands on several bots, fleet-wide changes and
// readers: at every quiescent point the ledger invariants hold, every
// outcome is recorded, a restart reproduces the state, and every snapshot
// a reader took shows exactly some ledger prefix.
func TestEngine_ConcurrentRandomCommands(t *testing.T) {
	seeds, rounds, steps := []uint64{11, 12, 13}, 4, 40
	if testing.Short() {
		seeds, rounds = seeds[:1], 2
	}
	bots := []string{"alpha", "beta", "gamma"}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			// Seed 12 keeps few outcomes whole: repeats and checks read
			// most of them back from the ledger while others are retired.
			keep := 0
			if seed == 12 {
				keep = 8
			}
			h := coretest.NewEngine(t, coretest.WithConfig(func(c *core.Config) { c.RecentOutcomes = keep }))
			// Appends come back out of order: the sequencer must still
			// apply them in the ledger's order.
			h.Auditor.SetWaitJitter(time.Millisecond)
			h.Healthy()
			lc := newLedgerChecker()
			submitted := map[string]core.Command{}
			for round := range rounds {
				ch := make(chan core.Command, 1024)
				shots := startSnapshotter(h.Engine, 3000)
				var wg sync.WaitGroup
				for i, bot := range bots {
					wg.Add(1)
					go func() {
						defer wg.Done()
						botSteps(h, rand.New(rand.NewPCG(seed, uint64(round*10+i))), bot, steps, ch)
					}()
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					fleetSteps(h, rand.New(rand.NewPCG(seed, uint64(round*10+9))), steps/4, ch)
				}()
				wg.Wait()
				close(ch)
				for cmd := range ch {
					submitted[cmd.CommandID] = cmd
				}
				taken := shots.finish()
				lc.check(t, h.Auditor)
				evs := h.Events()
				checkOutcomes(t, h, evs, submitted)
				views := prefixViews(evs)
				for _, s := range taken {
					checkSnapshotIsPrefix(t, s, views)
				}
				h.ValidateEvents()
				before := h.Engine.Snapshot()
				checkSnapshotIsPrefix(t, before, views)
				h = h.Restart()
				assertSameSnapshot(t, before, h.Engine.Snapshot())
				h.SetSafety(core.SafetyNormal)
			}
		})
	}
}
