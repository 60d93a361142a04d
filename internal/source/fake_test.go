package source

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/botwarden/botwarden/docs/contracts"
	"github.com/botwarden/botwarden/internal/core"
)

// fakeSink records what reaches the control plane; err, when set, is
// returned (and nothing recorded), as an engine with the ledger down would.
type fakeSink struct {
	mu     sync.Mutex
	safety []core.SafetyDoc
	gates  []core.GatesDoc
	err    error
}

var _ Sink = (*fakeSink)(nil)

func (s *fakeSink) SetSafety(_ context.Context, doc core.SafetyDoc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.safety = append(s.safety, doc)
	return nil
}

func (s *fakeSink) SetGates(_ context.Context, doc core.GatesDoc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.gates = append(s.gates, doc)
	return nil
}

func (s *fakeSink) counts() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.safety), len(s.gates)
}

func (s *fakeSink) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// compiled once for the package's tests: compiling under -race is slow.
var compiled = sync.OnceValues(contracts.NewValidator)

func validator(t testing.TB) *contracts.Validator {
	t.Helper()
	v, err := compiled()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
