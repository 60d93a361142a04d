package core

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
)

// DefaultRecentOutcomes is how many command outcomes the engine keeps
// whole in memory unless Config.RecentOutcomes says otherwise.
const DefaultRecentOutcomes = 8192

// outcomes indexes the latest outcome of every command_id ever recorded,
// so that no command_id runs twice. The newest ones (the last keep puts)
// are kept whole, versioned by gen like the rest of the index. Older ones
// are kept only as where they were recorded: a pointer-free map from a
// 128-bit hash of the command_id to the ledger seq of the event that made
// the outcome, which the engine reads back when asked (a duplicate of an
// old command, a late GET of its outcome). So an old command costs some
// 50 bytes the garbage collector never scans, whatever it said.
//
// Outcomes recorded unaudited (seq 0) cannot be read back and stay whole.
// A reader holding a state more than keep puts old may miss an older
// version of a retired outcome (it sees none, or the latest); the engine's
// readers load the state they read at once.
//
// Writers are serialised by the engine; readers take at most a read lock.
type outcomes struct {
	keep   int
	recent versions[Outcome]
	ring   []putRecord // the last keep puts, oldest at next once full
	next   int
	hash   func(id string) (key, check uint64)

	mu  sync.RWMutex
	old map[uint64]oldOutcome // first half of the hash -> the rest and where
}

// putRecord is one put, retired when keep later puts have followed it.
type putRecord struct {
	id  string
	gen uint64
}

// oldOutcome is a retired outcome: recorded at seq, as of gen.
type oldOutcome struct {
	check    uint64 // second half of the command_id's hash
	gen, seq uint64
}

func newOutcomes(keep int) *outcomes {
	if keep <= 0 {
		keep = DefaultRecentOutcomes
	}
	s1, s2 := maphash.MakeSeed(), maphash.MakeSeed()
	hash := func(id string) (uint64, uint64) { return maphash.String(s1, id), maphash.String(s2, id) }
	return &outcomes{keep: keep, hash: hash, old: map[uint64]oldOutcome{}}
}

// put records o as id's outcome from gen on and retires the put made keep
// puts ago.
func (x *outcomes) put(id string, gen uint64, o Outcome) {
	x.recent.put(id, gen, o)
	p := putRecord{id: id, gen: gen}
	if len(x.ring) < x.keep {
		x.ring = append(x.ring, p)
		return
	}
	p, x.ring[x.next] = x.ring[x.next], p
	x.next = (x.next + 1) % x.keep
	x.retire(p)
}

// retire moves the outcome p put out of the recent versions, unless it
// changed since (a later put retires it) or cannot be read back. The old
// entry is in place before the recent one goes, so a reader always finds
// one of them. Two command_ids whose hashes collide keep the second whole.
func (x *outcomes) retire(p putRecord) {
	v := x.recent.newest(p.id)
	if v == nil || v.gen != p.gen || v.val.Seq == 0 {
		return
	}
	key, check := x.hash(p.id)
	x.mu.Lock()
	had, taken := x.old[key]
	if taken && had.check != check {
		x.mu.Unlock()
		return
	}
	x.old[key] = oldOutcome{check: check, gen: v.gen, seq: v.val.Seq}
	x.mu.Unlock()
	x.recent.m.CompareAndDelete(p.id, v)
}

// at returns id's latest outcome as of gen. When whole is false only
// o.CommandID and o.Seq are set: the outcome is to be read back from the
// event recorded at o.Seq.
func (x *outcomes) at(id string, gen uint64) (o Outcome, whole, found bool) {
	if o, ok := x.recent.at(id, gen); ok {
		return o, true, true
	}
	key, check := x.hash(id)
	x.mu.RLock()
	v, ok := x.old[key]
	x.mu.RUnlock()
	if !ok || v.check != check || v.gen > gen {
		return Outcome{}, false, false
	}
	return Outcome{CommandID: id, Seq: v.seq}, false, true
}

// sizes reports how many outcomes are kept whole, and how many retired.
func (x *outcomes) sizes() (whole, retired int) {
	x.recent.m.Range(func(any, any) bool { whole++; return true })
	x.mu.RLock()
	retired = len(x.old)
	x.mu.RUnlock()
	return whole, retired
}

// lookup returns command id's latest outcome as of st, reading a retired
// one back from the ledger (so it may block on I/O: never call it under
// applyMu). The error wraps ErrAuditUnavailable when the ledger cannot
// be read.
func (e *Engine) lookup(ctx context.Context, st *state, id string) (Outcome, bool, error) {
	o, whole, ok := st.idx.outcomes.at(id, st.gen)
	if !ok || whole {
		return o, ok, nil
	}
	o, err := e.readOutcome(ctx, id, o.Seq)
	if err != nil {
		return Outcome{}, true, err
	}
	return o, true, nil
}

// readOutcome reads back the outcome of command id recorded at seq.
func (e *Engine) readOutcome(ctx context.Context, id string, seq uint64) (Outcome, error) {
	b, err := e.deps.Auditor.Read(ctx, seq)
	if err != nil {
		return Outcome{}, fmt.Errorf("read the outcome of %s at seq %d: %w", id, seq, err)
	}
	ev, err := decodeEvent(b)
	if err != nil {
		return Outcome{}, fmt.Errorf("%w: seq %d: %w", ErrAuditUnavailable, seq, err)
	}
	o, ok := outcomeFrom(seq, ev)
	if !ok || o.CommandID != id {
		return Outcome{}, fmt.Errorf("%w: seq %d holds no outcome of %s", ErrAuditUnavailable, seq, id)
	}
	return o, nil
}

// outcomeFrom returns the outcome a recorded event makes (a result, a
// challenge issued or ended), keyed by o.CommandID. It is how apply
// builds an outcome and how a retired one is read back, so both agree.
func outcomeFrom(seq uint64, ev *Event) (Outcome, bool) {
	o := Outcome{
		CommandID: ev.CommandID, Op: ev.Op, Target: ev.Target, Status: Status(ev.Outcome),
		Reason: ev.Reason, Detail: ev.Detail, Runbook: ev.Runbook, From: ev.From, To: ev.To,
		Environment: ev.Environment, Seq: seq, Bundle: ev.Bundle,
	}
	switch ev.Type {
	case EvApplied, EvDenied, EvFailed:
	case EvChallenge:
		o.Challenge = &Challenge{ID: ev.ChallengeID} // resolved at read time, as of the reader's gen
	case EvReject:
		o.Status = StatusRejected
	default:
		return Outcome{}, false
	}
	return o, true
}
