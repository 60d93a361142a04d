package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/rs/zerolog"
)

func writeFile(t *testing.T, path string, raw []byte) {
	t.Helper()
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
}

func newWatcher(t *testing.T, sink *fakeSink) (*Watcher, string, string) {
	t.Helper()
	dir := t.TempDir()
	safety, gates := filepath.Join(dir, "safety.json"), filepath.Join(dir, "gates.json")
	w, err := NewWatcher([]File{{safety, KindSafety}, {gates, KindGates}}, sink, validator(t), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return w, safety, gates
}

func TestWatcher_PollSequence(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{}
	w, safety, gates := newWatcher(t, sink)
	ctx := context.Background()
	steps := []struct {
		name                  string
		prepare               func()
		wantInvalid           bool
		wantSafety, wantGates int
	}{
		{"both missing", func() {}, false, 0, 0},
		{"safety appears", func() { writeFile(t, safety, fixture(t, "safety_normal.json")) }, false, 1, 0},
		{"unchanged", func() {}, false, 1, 0},
		{"same content rewritten", func() { writeFile(t, safety, fixture(t, "safety_normal.json")) }, false, 1, 0},
		{"gates appear", func() { writeFile(t, gates, fixture(t, "gates_pass.json")) }, false, 1, 1},
		{"bad safety", func() { writeFile(t, safety, fixture(t, "safety_unknown_field.json")) }, true, 1, 1},
		{"bad safety not re-reported", func() {}, false, 1, 1},
		{"trailing data in gates", func() { writeFile(t, gates, fixture(t, "gates_trailing.json")) }, true, 1, 1},
		{"safety fixed", func() { writeFile(t, safety, fixture(t, "safety_emergency.json")) }, false, 2, 1},
		{"safety deleted keeps last good", func() { os.Remove(safety) }, false, 2, 1},
	}
	for _, st := range steps {
		st.prepare()
		err := w.Poll(ctx)
		if got := errors.Is(err, ErrInvalid); got != st.wantInvalid {
			t.Fatalf("%s: poll err %v, want invalid=%v", st.name, err, st.wantInvalid)
		}
		if s, g := sink.counts(); s != st.wantSafety || g != st.wantGates {
			t.Fatalf("%s: sink got %d safety, %d gates; want %d, %d", st.name, s, g, st.wantSafety, st.wantGates)
		}
	}
	if last := sink.safety[len(sink.safety)-1]; last.Mode != core.SafetyEmergencyStop {
		t.Errorf("last safety %s, want EMERGENCY_STOP", last.Mode)
	}
}

func TestWatcher_RefusedIsRetried(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{err: fmt.Errorf("append: %w", core.ErrAuditUnavailable)}
	w, safety, _ := newWatcher(t, sink)
	writeFile(t, safety, fixture(t, "safety_normal.json"))
	if err := w.Poll(context.Background()); !errors.Is(err, ErrRefused) || !errors.Is(err, core.ErrAuditUnavailable) {
		t.Fatalf("poll with the ledger down: %v, want ErrRefused wrapping ErrAuditUnavailable", err)
	}
	sink.setErr(nil)
	if err := w.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s, _ := sink.counts(); s != 1 {
		t.Errorf("after recovery the sink got %d docs, want the same content again (1)", s)
	}
}

func TestWatcher_RejectsOversizedFile(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{}
	w, safety, _ := newWatcher(t, sink)
	writeFile(t, safety, bytes.Repeat([]byte(" "), MaxDocBytes+1))
	if err := w.Poll(context.Background()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("poll: %v, want ErrInvalid", err)
	}
}

func TestWatcher_RunPollsOnTicks(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{}
	w, safety, _ := newWatcher(t, sink)
	writeFile(t, safety, fixture(t, "safety_normal.json"))
	ctx, cancel := context.WithCancel(context.Background())
	ticks := make(chan time.Time)
	done := make(chan struct{})
	go func() { w.Run(ctx, ticks); close(done) }()
	ticks <- time.Time{} // received only after the first poll returned
	if s, _ := sink.counts(); s != 1 {
		t.Fatalf("after the initial poll: %d docs, want 1", s)
	}
	writeFile(t, safety, fixture(t, "safety_emergency.json"))
	ticks <- time.Time{} // the poll for this tick ...
	ticks <- time.Time{} // ... has finished once the next tick is taken
	if s, _ := sink.counts(); s != 2 {
		t.Fatalf("after a tick: %d docs, want 2", s)
	}
	cancel()
	<-done
}

func TestNewWatcher_RejectsBadFiles(t *testing.T) {
	t.Parallel()
	for _, f := range []File{{"", KindSafety}, {"x.json", "weather"}} {
		if _, err := NewWatcher([]File{f}, &fakeSink{}, validator(t), zerolog.Nop()); err == nil {
			t.Errorf("NewWatcher(%+v) succeeded", f)
		}
	}
}
