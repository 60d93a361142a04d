package sim

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// fakeClock is a manual clock: After advances it by d and fires at once.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

var _ Clock = (*fakeClock)(nil)

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.Advance(d)
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

func meta(bot, id string) core.BotMeta {
	return core.BotMeta{Bot: bot, CommandID: id, TraceID: "trace-" + id, RunID: "run-1"}
}

func newDriver(t *testing.T, cfg Config) (*Driver, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	d := New(clk)
	if err := d.Add("alpha", cfg); err != nil {
		t.Fatal(err)
	}
	return d, clk
}

func mustStatus(t *testing.T, d *Driver, bot string) core.BotStatus {
	t.Helper()
	s, err := d.Status(context.Background(), bot)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	return s
}

func TestDriver_StartWaitsStartDelayAndRuns(t *testing.T) {
	t.Parallel()
	d, clk := newDriver(t, Config{StartDelay: 3 * time.Second})
	t0 := clk.Now()
	if s := mustStatus(t, d, "alpha"); !s.Stopped || s.Alive {
		t.Fatalf("new bot: %+v, want stopped", s)
	}
	if err := d.Start(context.Background(), meta("alpha", "c1"), lifecycle.Live); err != nil {
		t.Fatal(err)
	}
	if got := clk.Now().Sub(t0); got != 3*time.Second {
		t.Errorf("start waited %s, want 3s", got)
	}
	s := mustStatus(t, d, "alpha")
	if !s.Alive || s.Stopped || s.Paused || s.Mode != lifecycle.Live {
		t.Errorf("after start: %+v, want alive live", s)
	}
}

func TestDriver_StopTakesStopDelay(t *testing.T) {
	t.Parallel()
	d, clk := newDriver(t, Config{StartDelay: -1})
	ctx := context.Background()
	if err := d.Start(ctx, meta("alpha", "c1"), lifecycle.Paper); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(ctx, meta("alpha", "c2")); err != nil {
		t.Fatal(err)
	}
	if s := mustStatus(t, d, "alpha"); s.Stopped || !s.Alive || s.Detail != "stopping" {
		t.Fatalf("right after stop: %+v, want alive and stopping", s)
	}
	clk.Advance(DefaultConfig().StopDelay - time.Millisecond)
	if s := mustStatus(t, d, "alpha"); s.Stopped {
		t.Fatalf("1ms before StopDelay: %+v, want not stopped yet", s)
	}
	clk.Advance(time.Millisecond)
	if s := mustStatus(t, d, "alpha"); !s.Stopped || s.Alive {
		t.Fatalf("at StopDelay: %+v, want stopped", s)
	}
}

func TestDriver_SameCommandIDHasOneEffect(t *testing.T) {
	t.Parallel()
	d, _ := newDriver(t, Config{StartDelay: -1})
	ctx := context.Background()
	for range 3 {
		if err := d.Start(ctx, meta("alpha", "c1"), lifecycle.Shadow); err != nil {
			t.Fatalf("start (repeat): %v", err)
		}
	}
	diag, err := d.Diagnostics("alpha")
	if err != nil {
		t.Fatal(err)
	}
	if len(diag.History) != 1 {
		t.Errorf("history has %d calls, want 1: %+v", len(diag.History), diag.History)
	}
	if err := d.Start(ctx, meta("alpha", "c2"), lifecycle.Shadow); !errors.Is(err, ErrState) {
		t.Errorf("start with a new command_id while running: %v, want ErrState", err)
	}
	if err := d.Stop(ctx, meta("alpha", "c1")); !errors.Is(err, ErrIDReused) {
		t.Errorf("stop reusing start's command_id: %v, want ErrIDReused", err)
	}
}

func TestDriver_ConcurrentDuplicatesWaitForFirst(t *testing.T) {
	t.Parallel()
	d := New(nil) // wall clock: the duplicates really overlap the start delay
	if err := d.Add("alpha", Config{StartDelay: 50 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = d.Start(context.Background(), meta("alpha", "c1"), lifecycle.Paper) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	diag, _ := d.Diagnostics("alpha")
	if len(diag.History) != 1 || diag.Phase != "running" {
		t.Errorf("phase %s, %d calls; want running after exactly 1", diag.Phase, len(diag.History))
	}
}

func TestDriver_FailNextFailsOnceWithoutEffect(t *testing.T) {
	t.Parallel()
	d, _ := newDriver(t, Config{StartDelay: -1})
	ctx := context.Background()
	if err := d.FailNext("alpha", core.OpStart, "exchange unreachable"); err != nil {
		t.Fatal(err)
	}
	err := d.Start(ctx, meta("alpha", "c1"), lifecycle.Paper)
	if !errors.Is(err, ErrInjected) || !strings.Contains(err.Error(), "exchange unreachable") {
		t.Fatalf("start: %v, want injected failure with cause", err)
	}
	if s := mustStatus(t, d, "alpha"); !s.Stopped {
		t.Fatalf("after failed start: %+v, want still stopped", s)
	}
	if err := d.Start(ctx, meta("alpha", "c1"), lifecycle.Paper); !errors.Is(err, ErrInjected) {
		t.Errorf("retry with the same command_id: %v, want the same failure", err)
	}
	if err := d.Start(ctx, meta("alpha", "c2"), lifecycle.Paper); err != nil {
		t.Errorf("next start: %v, want success", err)
	}
}

func TestDriver_FailOpsAlwaysFail(t *testing.T) {
	t.Parallel()
	d, _ := newDriver(t, Config{StartDelay: -1, FailOps: []core.Op{core.OpApply}})
	for _, id := range []string{"c1", "c2"} {
		if err := d.Apply(context.Background(), meta("alpha", id), "cfg-v2"); !errors.Is(err, ErrInjected) {
			t.Errorf("apply %s: %v, want ErrInjected", id, err)
		}
	}
}

func TestDriver_CrashReportsNotAlive(t *testing.T) {
	t.Parallel()
	d, _ := newDriver(t, Config{StartDelay: -1})
	ctx := context.Background()
	if err := d.Crash("alpha", "x"); !errors.Is(err, ErrState) {
		t.Errorf("crash a stopped bot: %v, want ErrState", err)
	}
	if err := d.Start(ctx, meta("alpha", "c1"), lifecycle.Live); err != nil {
		t.Fatal(err)
	}
	if err := d.Crash("alpha", "segfault"); err != nil {
		t.Fatal(err)
	}
	s := mustStatus(t, d, "alpha")
	if s.Alive || !strings.Contains(s.Detail, "segfault") {
		t.Fatalf("after crash: %+v, want not alive with the cause", s)
	}
	if err := d.Start(ctx, meta("alpha", "c2"), lifecycle.Paper); err != nil {
		t.Errorf("explicit start after crash: %v", err)
	}
	if diag, _ := d.Diagnostics("alpha"); diag.Crashes != 1 {
		t.Errorf("crashes %d, want 1", diag.Crashes)
	}
}

func TestDriver_DieAfter(t *testing.T) {
	t.Parallel()
	d, clk := newDriver(t, Config{StartDelay: -1, DieAfter: time.Minute})
	if err := d.Start(context.Background(), meta("alpha", "c1"), lifecycle.Paper); err != nil {
		t.Fatal(err)
	}
	clk.Advance(59 * time.Second)
	if s := mustStatus(t, d, "alpha"); !s.Alive {
		t.Fatalf("before DieAfter: %+v", s)
	}
	clk.Advance(time.Second)
	if s := mustStatus(t, d, "alpha"); s.Alive || !strings.Contains(s.Detail, "died after") {
		t.Fatalf("at DieAfter: %+v, want dead", s)
	}
}

func TestDriver_PauseResumeApply(t *testing.T) {
	t.Parallel()
	d, _ := newDriver(t, Config{StartDelay: -1})
	ctx := context.Background()
	steps := []struct {
		name    string
		call    func(id string) error
		wantErr error
		want    core.BotStatus
	}{
		{"pause while stopped", func(id string) error { return d.Pause(ctx, meta("alpha", id)) }, ErrState, core.BotStatus{Stopped: true}},
		{"start paper", func(id string) error { return d.Start(ctx, meta("alpha", id), lifecycle.Paper) }, nil, core.BotStatus{Alive: true, Mode: lifecycle.Paper}},
		{"resume while running", func(id string) error { return d.Resume(ctx, meta("alpha", id), lifecycle.Paper) }, ErrState, core.BotStatus{Alive: true, Mode: lifecycle.Paper}},
		{"pause", func(id string) error { return d.Pause(ctx, meta("alpha", id)) }, nil, core.BotStatus{Alive: true, Paused: true, Mode: lifecycle.Paper}},
		{"apply while paused", func(id string) error { return d.Apply(ctx, meta("alpha", id), "cfg-7") }, nil, core.BotStatus{Alive: true, Paused: true, Mode: lifecycle.Paper}},
		{"resume live", func(id string) error { return d.Resume(ctx, meta("alpha", id), lifecycle.Live) }, nil, core.BotStatus{Alive: true, Mode: lifecycle.Live}},
	}
	for i, st := range steps {
		err := st.call("c" + string(rune('a'+i)))
		if !errors.Is(err, st.wantErr) {
			t.Fatalf("%s: err %v, want %v", st.name, err, st.wantErr)
		}
		s := mustStatus(t, d, "alpha")
		s.Detail = ""
		if s != st.want {
			t.Fatalf("%s: status %+v, want %+v", st.name, s, st.want)
		}
	}
	if diag, _ := d.Diagnostics("alpha"); diag.ConfigRef != "cfg-7" {
		t.Errorf("config ref %q, want cfg-7", diag.ConfigRef)
	}
}

func TestDriver_RejectsBadCalls(t *testing.T) {
	t.Parallel()
	d, _ := newDriver(t, Config{StartDelay: -1})
	ctx := context.Background()
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"unknown bot", d.Stop(ctx, meta("nope", "c1")), ErrUnknownBot},
		{"no command id", d.Stop(ctx, core.BotMeta{Bot: "alpha"}), ErrNoCommandID},
		{"implicit mode", d.Start(ctx, meta("alpha", "c2"), ""), nil},
	}
	for _, tc := range cases {
		if tc.err == nil || (tc.want != nil && !errors.Is(tc.err, tc.want)) {
			t.Errorf("%s: %v, want error %v", tc.name, tc.err, tc.want)
		}
	}
	if _, err := d.Status(ctx, "nope"); !errors.Is(err, ErrUnknownBot) {
		t.Errorf("status of unknown bot: %v", err)
	}
	if s := mustStatus(t, d, "alpha"); !s.Stopped {
		t.Errorf("after rejected calls: %+v, want untouched", s)
	}
}

func TestDriver_CancelledStartLeavesStopped(t *testing.T) {
	t.Parallel()
	d := New(nil)
	if err := d.Add("alpha", Config{StartDelay: time.Hour}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := d.Start(ctx, meta("alpha", "c1"), lifecycle.Paper); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("start: %v, want deadline exceeded", err)
	}
	if s := mustStatus(t, d, "alpha"); !s.Stopped || s.Alive {
		t.Errorf("after cancelled start: %+v, want stopped", s)
	}
}

func TestConfigFromMap(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		in      map[string]any
		want    Config
		wantErr bool
	}{
		{"empty", nil, Config{}, false},
		{"durations", map[string]any{"start_delay": "1s", "stop_delay": "5s", "die_after": "10m"},
			Config{StartDelay: time.Second, StopDelay: 5 * time.Second, DieAfter: 10 * time.Minute}, false},
		{"fail ops", map[string]any{"fail_ops": []any{"config_apply"}}, Config{FailOps: []core.Op{core.OpApply}}, false},
		{"unknown key", map[string]any{"stop_delya": "1s"}, Config{}, true},
		{"negative die_after", map[string]any{"die_after": "-1s"}, Config{}, true},
		{"not a duration", map[string]any{"stop_delay": "soon"}, Config{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromMap(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && (got.StartDelay != tc.want.StartDelay || got.StopDelay != tc.want.StopDelay ||
				got.DieAfter != tc.want.DieAfter || len(got.FailOps) != len(tc.want.FailOps)) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
