package core

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Late records: a safety-increasing effect (a stop, a pause, a
// quarantine, a tighter kill-switch, a challenge ended) runs even when the
// ledger refuses its event (recordUnaudited). Its event is then kept, and
// recorded, marked recorded_late and with the time the effect took place,
// as soon as the ledger takes appends again: before anything else is
// recorded (recordFirst), so the ledger's order is the order the effects
// took place in. Without that, the ledger would lack the effect for good,
// and a restart, which rebuilds the state from the ledger, would undo it:
// a quarantine lifted, a halted kill-switch back to off.
//
// Kept events are also handed to the Spill, if there is one, so that a
// restart before the ledger is back (the remedy for a ledger that failed
// a write) applies and records them instead of forgetting them.

// Spill keeps the events of effects applied while the ledger refused
// them, across a restart. The service's is a file next to the ledger,
// synced on every change.
type Spill interface {
	// Save replaces what is kept with events (JSON audit events, oldest
	// first; none: nothing is kept), durably.
	Save(events [][]byte) error
	// Load returns what is kept, oldest first.
	Load() ([][]byte, error)
}

// lateRecords are the kept events of unaudited effects. mu guards evs;
// pending says whether evs is non-empty, for a lock-free check.
type lateRecords struct {
	mu      sync.Mutex
	evs     []*Event
	pending atomic.Bool
	// spilled are the events loaded from the Spill, and recorded those of
	// them the replay met in the ledger (New only): a crash between
	// recording spilled events and emptying the spill, or a failed commit
	// that reached the disk after all, must not record them twice.
	spilled  []*Event
	keys     map[string]bool // lateKey of each spilled event
	times    map[string]bool // their times: most replayed events are ruled out by this alone
	recorded map[string]bool
}

// lateKey identifies an unaudited effect's event: what happened, to
// what, when (to the nanosecond), by which command.
func lateKey(ev *Event) string {
	return fmt.Sprintf("%s\x00%s\x00%s\x00%s\x00%s\x00%s", ev.Type, ev.Time, ev.Target, ev.CommandID, ev.From, ev.To)
}

// noteRecorded remembers that the replay met ev, if it is one of the
// spilled events. Cheap when nothing was spilled (nearly always).
func (k *lateRecords) noteRecorded(ev *Event) {
	if k.recorded == nil || !k.times[ev.Time] {
		return
	}
	if key := lateKey(ev); k.keys[key] {
		k.recorded[key] = true
	}
}

// keepLate keeps ev, whose effect was just applied unaudited, for a late
// record, and spills what is kept.
func (e *Engine) keepLate(ev *Event) {
	k := &e.late
	k.mu.Lock()
	defer k.mu.Unlock()
	c := *ev // its caller may read ev still; recordLate marks the copy
	k.evs = append(k.evs, &c)
	k.pending.Store(true)
	e.m.late.Set(float64(len(k.evs)))
	e.spill(k.evs)
}

// spill saves evs to the Spill. Callers hold late.mu.
func (e *Engine) spill(evs []*Event) {
	if e.deps.Spill == nil {
		return
	}
	raws := make([][]byte, len(evs))
	for i, ev := range evs {
		raws[i], _ = json.Marshal(ev) // an Event always encodes
	}
	if err := e.deps.Spill.Save(raws); err != nil {
		e.log.Error().Err(err).Int("events", len(evs)).
			Msg("unaudited effects not spilled: a restart before the ledger is back would forget them")
	}
}

// loadSpill reads the effects an earlier run applied unaudited and
// spilled. New calls it before the replay, which notes those it meets in
// the ledger (noteRecorded).
func (e *Engine) loadSpill() error {
	if e.deps.Spill == nil {
		return nil
	}
	raws, err := e.deps.Spill.Load()
	if err != nil {
		return fmt.Errorf("load unaudited effects: %w", err)
	}
	k := &e.late
	for i, b := range raws {
		ev, err := decodeEvent(b)
		if err != nil {
			return fmt.Errorf("unaudited effect %d: %w", i+1, err)
		}
		if ev.Environment != e.cfg.Environment {
			return fmt.Errorf("%w: unaudited effect %d belongs to environment %q", ErrConfig, i+1, ev.Environment)
		}
		k.spilled = append(k.spilled, ev)
	}
	if len(k.spilled) > 0 {
		k.keys, k.times, k.recorded = map[string]bool{}, map[string]bool{}, map[string]bool{}
		for _, ev := range k.spilled {
			k.keys[lateKey(ev)], k.times[ev.Time] = true, true
		}
	}
	return nil
}

// unspill applies and keeps, for a late record, the spilled effects the
// replay did not meet in the ledger. New calls it after the replay.
func (e *Engine) unspill() {
	k := &e.late
	spilled := k.spilled
	defer func() { k.spilled, k.keys, k.times, k.recorded = nil, nil, nil, nil }()
	for _, ev := range spilled {
		if k.recorded[lateKey(ev)] {
			continue // in the ledger already: recorded late before a crash, or a failed commit that landed
		}
		e.commit(e.state().apply(0, ev))
		k.evs = append(k.evs, ev)
	}
	if len(k.evs) > 0 {
		k.pending.Store(true)
		e.m.late.Set(float64(len(k.evs)))
		e.log.Warn().Int("events", len(k.evs)).
			Msg("effects the previous run applied while the ledger refused them are applied again and recorded late")
	} else if len(spilled) > 0 {
		e.spill(nil) // all recorded already
	}
}

// recordLate records the kept events, oldest first, in one append, and
// forgets them once recorded. Callers hold start.mu (recordFirst), so
// nothing else is recorded before them.
func (e *Engine) recordLate(ctx context.Context) error {
	k := &e.late
	if !k.pending.Load() {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.evs) == 0 {
		return nil
	}
	for _, ev := range k.evs {
		ev.RecordedLate = true
	}
	if _, err := e.writeLanded(ctx, true, k.evs...); err != nil {
		for _, ev := range k.evs {
			ev.RecordedLate = false
		}
		return fmt.Errorf("record %d unaudited effects late: %w", len(k.evs), err)
	}
	e.log.Warn().Int("events", len(k.evs)).Msg("unaudited effects recorded late, in the order they took place")
	k.evs = nil
	k.pending.Store(false)
	e.m.late.Set(0)
	e.spill(nil)
	return nil
}

// landedLate is apply for an event recorded late: its effect is in the
// state already (recordUnaudited applied it), so only what depends on
// where it was recorded is updated: the state's seq, the outcome's seq
// (read back by it once retired) and the transition history's.
func (s *state) landedLate(seq uint64, ev *Event) *state {
	n := s.next()
	if seq > n.seq {
		n.seq = seq
	}
	switch ev.Type {
	case EvApplied, EvDenied, EvFailed:
		if o, ok := outcomeFrom(seq, ev); ok {
			n.idx.outcomes.put(ev.CommandID, n.gen, o)
		}
	case EvTransition:
		n.withBot(ev.Target, func(b *botState) {
			b.history = slices.Clone(b.history) // shared with earlier states
			for i := range b.history {
				if h := &b.history[i]; h.Seq == 0 && h.To == ev.To && h.At.Equal(parseTime(ev.Time)) {
					h.Seq = seq
				}
			}
		})
	}
	return n
}
