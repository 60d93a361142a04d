package core

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/botwarden/botwarden/internal/lifecycle"
)

// Tick does the engine's periodic work: expires challenges and gate
// overrides, turns stale safety and gate data into UNKNOWN, and
// reconciles every bot's record with its driver (see reconcile): STOPPING
// bots whose driver reports them stopped become IDLE, bots stuck in
// STOPPING past StopTimeout are reported (never forced), a bot recorded
// running or paused whose driver reports it not alive moves to ERROR, and
// a bot doing more than its record says is quarantined and stopped.
// Nothing here ever moves a bot into RUNNING. Call it every second or so.
//
// Each part takes only the locks it needs, so Tick never holds up
// commands on other bots: overrides and stale data are recorded under the
// exclusive fleet lock, taken only when something is due; a challenge
// that expired or whose preconditions changed (superseded) is ended under
// its command's locks; driver status polls run with no lock
// at all (a fleet stop must not wait for a status poll), and a result is
// applied under its bot's lock only if the bot is not busy with a command
// and its state did not change meanwhile.
func (e *Engine) Tick(ctx context.Context) {
	// A start the ledger refused is recorded as soon as it can be, even
	// if nothing else is to be recorded.
	_ = e.recordFirst(ctx)
	if e.recovery.pending.Load() {
		e.lk.fleet.Lock()
		e.settleRecovery(ctx)
		e.lk.fleet.Unlock()
	}
	if e.fleetWorkDue(e.now()) {
		e.lk.fleet.Lock()
		now := e.now()
		e.expireOverrides(ctx, now)
		e.staleness(ctx, now)
		e.lk.fleet.Unlock()
	}
	st := e.state()
	for _, ch := range st.openChallenges() {
		if e.unsettled(st, ch, e.now()) {
			e.settle(ctx, ch)
		}
	}
	polls := e.pollsDue()
	var wg sync.WaitGroup
	for i := range polls {
		wg.Go(func() { // one slow driver does not delay the others
			dctx, cancel := e.bounded(ctx)
			defer cancel()
			polls[i].status, polls[i].err = polls[i].driver.Status(dctx, polls[i].bot)
		})
	}
	wg.Wait()
	for _, p := range polls {
		e.reconcileIdle(ctx, p)
	}
	e.collectEvidence(ctx)
}

// fleetWorkDue reports whether an override expired or safety or a gate
// went stale without that being recorded yet.
func (e *Engine) fleetWorkDue(now time.Time) bool {
	st := e.state()
	for _, until := range st.overrides {
		if !now.Before(until) {
			return true
		}
	}
	if st.effectiveSafety(now) != st.safety.effective {
		return true
	}
	for _, g := range st.gates {
		if gateStale(g.res, now) && g.effective != GateUnknown {
			return true
		}
	}
	return false
}

// reconcileIdle applies one poll result unless the bot is busy with a
// command (its state is moving anyway: the next Tick looks again).
func (e *Engine) reconcileIdle(ctx context.Context, p poll) {
	e.lk.fleet.RLock()
	defer e.lk.fleet.RUnlock()
	m := e.lk.targets[p.bot]
	if !m.TryLock() {
		return
	}
	defer m.Unlock()
	if b := e.state().bot(p.bot); b.state == p.state && lastSeq(b) == p.seq {
		e.reconcile(ctx, b, p, e.now())
		e.supersedeDrifted(ctx, e.covered(&Command{Target: p.bot}))
	}
}

// poll is one driver status query made by Tick.
type poll struct {
	bot    string
	state  lifecycle.State // the recorded state when the poll was made
	seq    uint64          // and the seq of the transition into it
	driver Driver
	status BotStatus
	err    error
}

// pollsDue lists the bots whose driver Tick must ask: all but CREATED
// (not yet initialised) and QUARANTINED (left alone until released).
func (e *Engine) pollsDue() []poll {
	var out []poll
	for _, b := range e.state().bots {
		if b.state != lifecycle.Created && b.state != lifecycle.Quarantined {
			out = append(out, poll{bot: b.id, state: b.state, seq: lastSeq(b), driver: b.driver})
		}
	}
	return out
}

// lastSeq is the seq of b's last recorded transition (0 if none is kept).
func lastSeq(b *botState) uint64 {
	if n := len(b.history); n > 0 {
		return b.history[n-1].Seq
	}
	return 0
}

func (e *Engine) expireOverrides(ctx context.Context, now time.Time) {
	st := e.state()
	var done []gateKey
	for k, until := range st.overrides {
		if !now.Before(until) {
			done = append(done, k)
		}
	}
	sort.Slice(done, func(i, j int) bool { return done[i].gate+done[i].scope < done[j].gate+done[j].scope })
	for _, k := range done {
		ev := systemEvent(EvOverrideExpired, k.scope)
		ev.Override = &OverrideSet{Gate: k.gate, Scope: k.scope, Until: fmtTime(st.overrides[k])}
		e.emit(ctx, nil, ev)
	}
}

func (e *Engine) staleness(ctx context.Context, now time.Time) {
	st := e.state()
	if eff := st.effectiveSafety(now); eff != st.safety.effective {
		d := st.safety.doc
		ev := systemEvent(EvSafety, "global")
		ev.Safety = &SafetyChange{Mode: eff, Previous: st.safety.effective, Source: d.Source,
			Reason: "no safety state within its ttl", UpdatedAt: fmtTime(d.UpdatedAt), TTLSeconds: d.TTLSeconds}
		if _, err := e.record(ctx, ev); err == nil {
			e.setSafetyDoc(d) // keep the last report; it is stale, not gone
		}
	}
	st = e.state()
	keys := make([]gateKey, 0, len(st.gates))
	for k := range st.gates {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].gate+keys[i].scope < keys[j].gate+keys[j].scope })
	for _, k := range keys {
		g := st.gates[k]
		if !gateStale(g.res, now) || g.effective == GateUnknown {
			continue
		}
		ev := systemEvent(EvGate, k.scope)
		ev.Gate = &GateChange{Gate: k.gate, Scope: k.scope, Status: GateUnknown, Previous: g.effective,
			EvaluatedAt: fmtTime(g.res.EvaluatedAt), TTLSeconds: g.res.TTLSeconds, Stale: true, Source: g.source,
			Detail: "no result within its ttl"}
		e.emit(ctx, nil, ev)
	}
}

// reconcile compares one bot's recorded state with what its driver said.
// Callers hold the fleet lock shared and the bot's lock.
func (e *Engine) reconcile(ctx context.Context, b *botState, p poll, now time.Time) {
	st := p.status
	if p.err != nil {
		lvl := e.log.Warn() // a bot that should be moving or running
		if b.state == lifecycle.Idle || b.state == lifecycle.Error {
			lvl = e.log.Debug() // often a stopped bot's endpoint: not news every second
		}
		lvl.Err(p.err).Str("bot", b.id).Msg("driver status unavailable; state unchanged")
		return
	}
	if st.Alive {
		e.dead.forget(b.id)
	}
	switch {
	case b.state == lifecycle.Stopping && st.Stopped:
		e.systemTransition(ctx, b, lifecycle.Idle, "driver reports stopped")
	case b.state == lifecycle.Stopping && !b.stuck && now.Sub(b.since) > e.cfg.StopTimeout:
		ev := systemEvent(EvStuck, b.id)
		ev.From = b.state
		ev.Runbook = e.runbook("stuck_stopping")
		ev.Detail = fmt.Sprintf("%s has been STOPPING for %s (limit %s); it is not forced. Follow the runbook; a support bundle (op support_bundle on %s) is being built now as evidence.",
			b.id, now.Sub(b.since).Round(time.Second), e.cfg.StopTimeout, b.id)
		e.reportStuck(ctx, ev)
	case (b.state.IsRunning() || b.state == lifecycle.Paused) && !st.Alive && e.stopTookEffect(b, now):
		e.finishCutStop(ctx, b, st)
	case (b.state.IsRunning() || b.state == lifecycle.Paused) && !st.Alive:
		if n := e.dead.seen(b.id, lastSeq(b)); n < DeadReadings {
			e.log.Warn().Str("bot", b.id).Int("reading", n).Int("of", DeadReadings).
				Msg("driver reports the bot not alive; ERROR only if it says so again")
			return
		}
		cause := "driver reports the bot is not alive"
		if st.Detail != "" {
			cause += ": " + e.redacted(st.Detail)
		}
		e.systemTransition(ctx, b, lifecycle.Error, cause)
	default:
		if why := drift(b, st); why != "" {
			e.quarantineDrift(ctx, b, p.seq, why)
		}
	}
}

// stopTookEffect reports whether a running or paused bot found dead is
// explained by its own stop, interrupted (a crash) after the driver call
// and before its transition was recorded: within StopTimeout of the
// interruption being recorded. Later, a dead bot is a crash (ERROR).
func (e *Engine) stopTookEffect(b *botState, now time.Time) bool {
	return b.cutStop.commandID != "" && now.Sub(b.cutStop.at) <= e.cfg.StopTimeout
}

// finishCutStop records what an interrupted stop would have: the move to
// STOPPING, linked to the stop command, then to IDLE once the driver
// reports the bot stopped (now, or on a later Tick like any stop).
func (e *Engine) finishCutStop(ctx context.Context, b *botState, st BotStatus) {
	ev := systemEvent(EvTransition, b.id)
	ev.From, ev.To, ev.CommandID = b.state, lifecycle.Stopping, b.cutStop.commandID
	ev.Cause = "stop " + b.cutStop.commandID + " was interrupted, or its driver call failed, before its transition was recorded; its driver reports the bot no longer running"
	e.emit(ctx, nil, ev)
	if b = e.state().bot(b.id); b.state == lifecycle.Stopping && st.Stopped {
		e.systemTransition(ctx, b, lifecycle.Idle, "driver reports stopped")
	}
}

func (e *Engine) systemTransition(ctx context.Context, b *botState, to lifecycle.State, cause string) {
	ev := systemEvent(EvTransition, b.id)
	ev.From, ev.To, ev.Cause = b.state, to, clip(cause, 480)
	e.emit(ctx, nil, ev)
}

// DeadReadings is how many polls in a row must find a running or paused
// bot not alive before it is moved to ERROR: one noisy reading (a status
// endpoint's hiccup) must not move a live bot to ERROR, and then, when
// the next reading finds it alive, to QUARANTINED and stopped. The
// lifecycle never flaps. Polls come every second or so.
const DeadReadings = 3

// deadCounts counts, per bot, the polls in a row that found it not alive
// since its last recorded transition.
type deadCounts struct {
	mu sync.Mutex
	m  map[string]deadCount
}

type deadCount struct {
	seq uint64 // the bot's last transition when counting started
	n   int
}

// seen counts one more not-alive reading of bot (whose last transition
// is seq) and returns the count.
func (d *deadCounts) seen(bot string, seq uint64) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]deadCount{}
	}
	c := d.m[bot]
	if c.seq != seq {
		c = deadCount{seq: seq}
	}
	c.n++
	d.m[bot] = c
	return c.n
}

// forget resets bot's count (it was found alive).
func (d *deadCounts) forget(bot string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.m, bot)
}
