package core

import "sync"

// index holds what grows with the ledger — every challenge and every
// command outcome — outside the copy-on-write state, so a change costs
// the same however long the ledger is. Each key keeps its versions,
// newest first, tagged with the state gen that made them: a reader holding
// the state of gen G sees exactly what was true at G. Writers are
// serialised by the engine; readers take no lock.
type index struct {
	outcomes   *outcomes
	challenges versions[*Challenge]
	// pending is intent recorded, result not (yet). Only writers use it.
	pending map[string]pendingCmd
}

func newIndex(keepOutcomes int) *index {
	return &index{outcomes: newOutcomes(keepOutcomes), pending: map[string]pendingCmd{}}
}

// version is one value of a key from gen on.
type version[T any] struct {
	gen  uint64
	val  T
	prev *version[T]
}

// versions maps keys to their version chains.
type versions[T any] struct{ m sync.Map }

// at returns the value key had as of gen.
func (v *versions[T]) at(key string, gen uint64) (T, bool) {
	if x, ok := v.m.Load(key); ok {
		for p := x.(*version[T]); p != nil; p = p.prev {
			if p.gen <= gen {
				return p.val, true
			}
		}
	}
	var zero T
	return zero, false
}

// newest returns key's newest version, or nil.
func (v *versions[T]) newest(key string) *version[T] {
	if x, ok := v.m.Load(key); ok {
		return x.(*version[T])
	}
	return nil
}

// put records val as key's value from gen on. Callers are serialised and
// gen never decreases.
func (v *versions[T]) put(key string, gen uint64, val T) {
	var prev *version[T]
	if x, ok := v.m.Load(key); ok {
		prev = x.(*version[T])
		if prev.gen == gen {
			prev = prev.prev // a second change within one gen replaces the first
		}
	}
	v.m.Store(key, &version[T]{gen: gen, val: val, prev: prev})
}
