package core

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// locks are the engine's write-side locks. Lock order: a reservation (no
// lock held while waiting), then fleet, then one target lock, then
// orderMu, then applyMu (both held only for in-memory work and queueing,
// never across a sync or other I/O).
type locks struct {
	// fleet guards fleet-wide state: safety, gates, overrides, monitoring,
	// kill-switch levels. Commands on one target hold it shared across
	// check and effect; fleet-wide changes (SetSafety, SetGates,
	// kill-switch, overrides, monitoring, group/global fan-outs, Tick's
	// fleet work) hold it exclusively.
	fleet sync.RWMutex
	// targets serialise commands, confirms and rejects on one bot, one
	// group or "global" (fixed at New: ids from the config only).
	targets map[string]*sync.Mutex

	// orderMu makes queueing an append in the auditor and listing it in
	// the sequencer one step (see sequencer). Taken before applyMu.
	orderMu sync.Mutex
	// applyMu guards the publication of the state (apply, mutate), the
	// command_id reservations and the sequencer.
	applyMu  sync.Mutex
	reserved map[string]chan struct{} // command ids being run -> closed when done
	seqr     sequencer
}

func newLocks(cfg Config) *locks {
	l := &locks{targets: map[string]*sync.Mutex{"global": {}}, reserved: map[string]chan struct{}{}}
	for _, b := range cfg.Bots {
		l.targets[b.ID] = &sync.Mutex{}
		if b.Group != "" {
			l.targets["group:"+b.Group] = &sync.Mutex{}
		}
	}
	return l
}

// exclusive reports whether cmd changes fleet-wide state and so must run
// alone.
func exclusive(cmd *Command) bool {
	switch cmd.Op {
	case OpKillSwitchSet, OpKillSwitchRelease, OpGateOverride, OpMonitoringDisable:
		return true
	}
	return fanOut(cmd.Op) && (cmd.Target == "global" || strings.HasPrefix(cmd.Target, "group:"))
}

// lockFor takes the locks cmd needs from its check to its recorded result
// and returns their release.
func (e *Engine) lockFor(cmd *Command) (unlock func()) {
	if exclusive(cmd) {
		e.lk.fleet.Lock()
		return e.lk.fleet.Unlock
	}
	e.lk.fleet.RLock()
	if cmd.Op == OpStatus {
		// A status changes nothing: it is recorded, never serialised.
		return e.lk.fleet.RUnlock
	}
	if m := e.lk.targets[cmd.Target]; m != nil {
		m.Lock()
		return func() { m.Unlock(); e.lk.fleet.RUnlock() }
	}
	return e.lk.fleet.RUnlock // an unknown target: denied, nothing to guard
}

// reserve claims command cmd's id for one run. A command_id already
// recorded returns its outcome and seen; one still running elsewhere is
// waited for (without holding any lock), then answered the same way. So
// concurrent duplicates get exactly one effect, whatever their targets.
func (e *Engine) reserve(ctx context.Context, cmd *Command) (release func(), o Outcome, seen bool) {
	id := cmd.CommandID
	for {
		e.lk.applyMu.Lock()
		busy, running := e.lk.reserved[id]
		if !running {
			if o, whole, ok := e.seen(id); ok {
				e.lk.applyMu.Unlock()
				if !whole {
					o = e.readBack(ctx, cmd, o.Seq)
				}
				return nil, o, true
			}
			done := make(chan struct{})
			e.lk.reserved[id] = done
			e.lk.applyMu.Unlock()
			return func() {
				e.lk.applyMu.Lock()
				delete(e.lk.reserved, id)
				e.lk.applyMu.Unlock()
				close(done)
			}, Outcome{}, false
		}
		e.lk.applyMu.Unlock()
		<-busy
	}
}

// readBack reads back the outcome of cmd's command_id, recorded at seq.
// If the ledger cannot be read the command is still a duplicate: it is
// answered denied, ledger unavailable, and has no effect.
func (e *Engine) readBack(ctx context.Context, cmd *Command, seq uint64) Outcome {
	o, err := e.readOutcome(ctx, cmd.CommandID, seq)
	if err != nil {
		e.log.Error().Err(err).Str("command_id", cmd.CommandID).Msg("duplicate suppressed; its original outcome cannot be read")
		o = e.outcome(cmd, StatusDenied, ReasonLedgerUnavailable,
			"this command_id was seen before, but the audit ledger cannot be read to give its outcome; nothing was done again")
		o.Seq = seq
	}
	return o
}

// sequencer applies recorded events in ledger order although their
// appends are waited for concurrently (so the ledger can commit them in
// groups). An append is queued in the auditor and listed here in one
// step, under orderMu, so the list is in the auditor's order. Whoever
// finds the append at the head of the list answered (its own, or any
// earlier one's) settles it: applies its events if they were recorded,
// drops it if not, and goes on down the list while appends are answered.
// An event is so applied as soon as it and every append before it are
// answered, without waiting for their callers to be scheduled, and the
// state (and the notices) follow the ledger exactly. Guarded by applyMu.
type sequencer struct {
	queued []*landing // queued, not settled yet; in the auditor's order
}

// landing is one queued append waiting to be settled.
type landing struct {
	p       Pending
	evs     []*Event
	raws    [][]byte
	late    bool          // applied already: recorded late (late.go)
	seqs    []uint64      // where the events were recorded, once settled
	err     error         // why they were not, once settled
	settled chan struct{} // closed once seqs or err is set
}

// enlist lists an append just queued. Callers hold orderMu.
func (e *Engine) enlist(p Pending, evs []*Event, raws [][]byte, late bool) *landing {
	l := &landing{p: p, evs: evs, raws: raws, late: late, settled: make(chan struct{})}
	e.lk.applyMu.Lock()
	e.lk.seqr.queued = append(e.lk.seqr.queued, l)
	e.lk.applyMu.Unlock()
	return l
}

// land waits until l is answered and settled, settling what it can, and
// returns where its events were recorded.
func (e *Engine) land(l *landing) ([]uint64, error) {
	// An append, once queued, is seen through: a caller that went away
	// must not leave an event in the ledger the state does not show.
	_, _ = l.p.Wait(context.Background())
	e.lk.applyMu.Lock()
	e.drain()
	e.lk.applyMu.Unlock()
	<-l.settled // settled by now unless an earlier append is still in flight
	return l.seqs, l.err
}

// drain settles, in order, every answered append at the head of the
// list. Callers hold applyMu.
func (e *Engine) drain() {
	q := &e.lk.seqr
	n := 0
	for _, l := range q.queued {
		if !l.p.Done() {
			break
		}
		n++
		rs, err := l.p.Wait(context.Background()) // answered: at once
		if err == nil && len(rs) != len(l.evs) {
			err = fmt.Errorf("%w: %d receipts for %d events", ErrAuditUnavailable, len(rs), len(l.evs))
		}
		if l.err = err; err == nil {
			l.seqs = make([]uint64, len(rs))
			for i, r := range rs {
				l.seqs[i] = r.Seq
				if l.late {
					e.commit(e.state().landedLate(r.Seq, l.evs[i]))
				} else {
					e.commit(e.state().apply(r.Seq, l.evs[i]))
				}
				e.publish(Notice{Seq: r.Seq, EventType: l.evs[i].Type, Op: l.evs[i].Op, Event: l.raws[i]})
			}
		}
		close(l.settled)
	}
	if n > 0 {
		q.queued = append(q.queued[:0], q.queued[n:]...)
	}
}
