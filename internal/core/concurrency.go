package core

import (
	"sort"
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

	// orderMu makes taking a sequencer ticket and queueing the append in
	// the ledger one step (see sequencer). Taken before applyMu.
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

// reserve claims command id for one run. A command_id already recorded
// returns its outcome and seen; one still running elsewhere is waited for
// (without holding any lock), then answered the same way. So concurrent
// duplicates get exactly one effect, whatever their targets.
func (e *Engine) reserve(id string) (release func(), o Outcome, seen bool) {
	for {
		e.lk.applyMu.Lock()
		busy, running := e.lk.reserved[id]
		if o, ok := e.seen(id); ok && !running {
			e.lk.applyMu.Unlock()
			return nil, o, true
		}
		if !running {
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

// sequencer applies recorded events in ledger order although their
// appends are waited for concurrently (so the ledger can commit them in
// groups). An append takes its ticket and is queued in the ledger in one
// step, under orderMu, so tickets follow the ledger's order. An event that
// came back with ticket t is applied once every append with a ticket
// below t has come back too (recorded or refused): those are all of ours
// that can precede it in the ledger. The ledger commits in queue order,
// so they come back with it or before it, and no event waits for a later
// group commit. Events are applied in seq order, and the state (and the
// notices) follow the ledger exactly. Guarded by applyMu.
type sequencer struct {
	next      uint64          // next ticket
	watermark uint64          // every ticket below it has come back
	back      map[uint64]bool // tickets at or above watermark that came back
	landed    []*landing      // came back, not applied yet; sorted by seq
}

// landing is one appended event waiting for its turn to be applied.
type landing struct {
	seq, ticket uint64
	ev          *Event
	raw         []byte
	applied     chan struct{}
}

// ticket takes the ticket of an append about to be queued. Callers hold
// orderMu until the append is queued.
func (e *Engine) ticket() uint64 {
	e.lk.applyMu.Lock()
	defer e.lk.applyMu.Unlock()
	t := e.lk.seqr.next
	e.lk.seqr.next++
	return t
}

// land reports ticket t's append back: evs recorded at seqs if ok. It
// applies whatever may be applied now and, if evs were recorded, waits
// until they are.
func (e *Engine) land(t uint64, seqs []uint64, ok bool, evs []*Event, raws [][]byte) {
	q := &e.lk.seqr
	e.lk.applyMu.Lock()
	if q.back == nil {
		q.back = map[uint64]bool{}
	}
	q.back[t] = true
	for q.back[q.watermark] {
		delete(q.back, q.watermark)
		q.watermark++
	}
	var last *landing
	if ok {
		for i, seq := range seqs {
			last = &landing{seq: seq, ticket: t, ev: evs[i], raw: raws[i], applied: make(chan struct{})}
			j := sort.Search(len(q.landed), func(j int) bool {
				x := q.landed[j]
				return x.seq > seq || (x.seq == seq && x.ticket > t)
			})
			q.landed = append(q.landed, nil)
			copy(q.landed[j+1:], q.landed[j:])
			q.landed[j] = last
		}
	}
	e.drain()
	e.lk.applyMu.Unlock()
	if last != nil {
		<-last.applied // drain applies in seq order: the others are applied too
	}
}

// drain applies, in seq order, every landed event whose earlier tickets
// have all come back. Tickets follow seqs, so those are a prefix of
// landed. Callers hold applyMu.
func (e *Engine) drain() {
	q := &e.lk.seqr
	last := -1
	for i, l := range q.landed {
		if l.ticket <= q.watermark {
			last = i
		}
	}
	for _, l := range q.landed[:last+1] {
		e.commit(e.state().apply(l.seq, l.ev))
		e.publish(Notice{Seq: l.seq, EventType: l.ev.Type, Event: l.raw})
		close(l.applied)
	}
	q.landed = append(q.landed[:0], q.landed[last+1:]...)
}
