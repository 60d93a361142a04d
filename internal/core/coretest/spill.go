package coretest

import (
	"errors"
	"slices"
	"sync"
)

// MemSpill is a core.Spill in memory: what a restarted engine on the same
// MemSpill finds is what the last Save kept.
type MemSpill struct {
	mu     sync.Mutex
	kept   [][]byte
	failed bool
}

// Save keeps a copy of events, or fails while SetFailing is on.
func (s *MemSpill) Save(events [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed {
		return errors.New("spill: disk full (fake)")
	}
	s.kept = make([][]byte, len(events))
	for i, ev := range events {
		s.kept[i] = slices.Clone(ev)
	}
	return nil
}

// Load returns what the last Save kept.
func (s *MemSpill) Load() ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.kept), nil
}

// Kept returns how many events are kept.
func (s *MemSpill) Kept() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.kept)
}

// SetFailing makes Save fail (on) or work (off).
func (s *MemSpill) SetFailing(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed = on
}
