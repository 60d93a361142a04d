package coretest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

var (
	_ core.Auditor = (*MemAuditor)(nil)
	_ core.Clock   = (*Clock)(nil)
	_ core.Driver  = (*Driver)(nil)
	_ core.Actions = (*Actions)(nil)
	_ core.Bundler = (*Bundler)(nil)
)

// MemAuditor is an in-memory core.Auditor. SetFailing makes every append
// fail with an error wrapping core.ErrAuditUnavailable until cleared;
// FailAfter lets n more appends succeed first; SetWaitJitter makes
// appends come back late and out of order, as concurrent group commits
// may; RefuseOneIn refuses some appends at Wait, as a ledger refusing a
// commit does. SetReadFailing makes Read fail; Reads counts the reads.
type MemAuditor struct {
	mu          sync.Mutex
	events      [][]byte
	reads       int
	readFailing bool
	failing     bool
	failAfter   int           // >= 0: appends left before failing; -1: off
	jitter      time.Duration // Pending.Wait sleeps up to this long
	refuseOneIn int           // > 0: about one append in this many is refused at Wait
}

// NewMemAuditor returns an empty, healthy auditor.
func NewMemAuditor() *MemAuditor { return &MemAuditor{failAfter: -1} }

// Queue records copies of events at once, consecutively; seq starts at
// 1. A call either records every event or, failing, none: FailAfter
// counts events, and a call that would cross the limit fails whole.
func (a *MemAuditor) Queue(ctx context.Context, events ...[]byte) (core.Pending, error) {
	a.mu.Lock()
	refuse := a.refuseOneIn > 0 && rand.N(a.refuseOneIn) == 0
	var delay time.Duration
	if a.jitter > 0 {
		delay = rand.N(a.jitter)
	}
	a.mu.Unlock()
	if refuse { // as the ledger refusing a commit: queued, then refused, nothing recorded
		return late{at: time.Now().Add(delay), err: fmt.Errorf("commit: %w (injected)", core.ErrAuditUnavailable)}, nil
	}
	rs, err := a.append(ctx, events)
	if err != nil {
		return nil, err
	}
	return late{rs: rs, at: time.Now().Add(delay)}, nil
}

// RefuseOneIn makes about one queued append in n be refused when waited
// for, as a ledger refuses a commit (0: never). Nothing of a refused
// append is recorded; appends queued after it may be.
func (a *MemAuditor) RefuseOneIn(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refuseOneIn = n
}

// late is an append answered at a given (real) time: recorded (rs) or
// refused (err).
type late struct {
	rs  []core.Receipt
	at  time.Time
	err error
}

func (l late) Wait(ctx context.Context) ([]core.Receipt, error) {
	if d := time.Until(l.at); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return l.rs, l.err
}

func (l late) Done() bool { return !time.Now().Before(l.at) }

// SetWaitJitter makes each append's Wait return after a random delay up
// to max (0: at once), so that appends come back out of queue order.
func (a *MemAuditor) SetWaitJitter(max time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.jitter = max
}

func (a *MemAuditor) append(ctx context.Context, events [][]byte) ([]core.Receipt, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("append: %w: %w", core.ErrAuditUnavailable, err)
	}
	if a.failAfter >= 0 && a.failAfter < len(events) {
		a.failing, a.failAfter = true, -1
	}
	if a.failAfter > 0 {
		a.failAfter -= len(events)
	}
	if a.failing {
		return nil, fmt.Errorf("append: %w (injected)", core.ErrAuditUnavailable)
	}
	rs := make([]core.Receipt, len(events))
	for i, ev := range events {
		a.events = append(a.events, append([]byte(nil), ev...))
		rs[i] = core.Receipt{Seq: uint64(len(a.events))}
	}
	return rs, nil
}

// Replay calls fn for every recorded event in order.
func (a *MemAuditor) Replay(ctx context.Context, fn func(seq uint64, event []byte) error) error {
	a.mu.Lock()
	evs := append([][]byte(nil), a.events...)
	a.mu.Unlock()
	for i, ev := range evs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(uint64(i+1), ev); err != nil {
			return err
		}
	}
	return nil
}

// Read returns a copy of the event recorded at seq.
func (a *MemAuditor) Read(ctx context.Context, seq uint64) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reads++
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read %d: %w: %w", seq, core.ErrAuditUnavailable, err)
	}
	if a.readFailing {
		return nil, fmt.Errorf("read %d: %w (injected)", seq, core.ErrAuditUnavailable)
	}
	if seq == 0 || seq > uint64(len(a.events)) {
		return nil, fmt.Errorf("read %d: %w: no such entry", seq, core.ErrAuditUnavailable)
	}
	return append([]byte(nil), a.events[seq-1]...), nil
}

// SetReadFailing turns read failure injection on or off.
func (a *MemAuditor) SetReadFailing(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.readFailing = on
}

// Reads returns how many times Read was called.
func (a *MemAuditor) Reads() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reads
}

// SetFailing turns append failure injection on or off.
func (a *MemAuditor) SetFailing(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failing, a.failAfter = on, -1
}

// FailAfter lets n more appends succeed, then fails every append until
// SetFailing(false).
func (a *MemAuditor) FailAfter(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failing, a.failAfter = false, n
}

// Truncate drops every event after the first n (simulates a crash before
// the rest were written).
func (a *MemAuditor) Truncate(n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n < len(a.events) {
		a.events = a.events[:n]
	}
}

// Raw returns copies of the recorded events.
func (a *MemAuditor) Raw() [][]byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([][]byte, len(a.events))
	for i, e := range a.events {
		out[i] = append([]byte(nil), e...)
	}
	return out
}

// Len returns how many events are recorded.
func (a *MemAuditor) Len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.events)
}

// Clock is a settable fake clock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Call is one recorded driver call.
type Call struct {
	Method    string // Start, Stop, Pause, Resume, Apply
	Bot       string
	CommandID string
	Mode      lifecycle.Mode
	ConfigRef string
}

// Driver is a fake core.Driver for any number of bots. Start/Resume make a
// bot alive in its mode, Pause pauses it, Stop stops it at once unless
// SlowStop is set (then it stays alive until MarkStopped).
type Driver struct {
	mu       sync.Mutex
	calls    []Call
	status   map[string]core.BotStatus
	errs     map[string]error // method -> error for the next call
	statusEr error
	delay    time.Duration
	slowStop bool
}

// NewDriver returns a driver with every bot stopped.
func NewDriver() *Driver {
	return &Driver{status: map[string]core.BotStatus{}, errs: map[string]error{}}
}

// FailNext makes the next call of method ("Start", "Stop", ...) fail with err.
func (d *Driver) FailNext(method string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.errs[method] = err
}

// SetDelay makes every mutating call wait d (or until its context ends).
func (d *Driver) SetDelay(delay time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.delay = delay
}

// SetSlowStop makes Stop leave bots running until MarkStopped.
func (d *Driver) SetSlowStop(on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.slowStop = on
}

// SetStatus sets what Status reports for bot.
func (d *Driver) SetStatus(bot string, st core.BotStatus) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.status[bot] = st
}

// SetStatusError makes Status fail (nil clears).
func (d *Driver) SetStatusError(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.statusEr = err
}

// MarkStopped reports bot fully stopped.
func (d *Driver) MarkStopped(bot string) { d.SetStatus(bot, core.BotStatus{Stopped: true}) }

// Calls returns the recorded calls in order.
func (d *Driver) Calls() []Call {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Call(nil), d.calls...)
}

// CallsTo returns the recorded calls of method.
func (d *Driver) CallsTo(method string) []Call {
	var out []Call
	for _, c := range d.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

func (d *Driver) do(ctx context.Context, c Call, next core.BotStatus, change bool) error {
	d.mu.Lock()
	delay := d.delay
	err := d.errs[c.Method]
	delete(d.errs, c.Method)
	d.calls = append(d.calls, c)
	d.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err != nil {
		return err
	}
	if change {
		d.SetStatus(c.Bot, next)
	}
	return nil
}

// Start starts bot in mode.
func (d *Driver) Start(ctx context.Context, m core.BotMeta, mode lifecycle.Mode) error {
	return d.do(ctx, Call{Method: "Start", Bot: m.Bot, CommandID: m.CommandID, Mode: mode},
		core.BotStatus{Alive: true, Mode: mode}, true)
}

// Resume resumes bot in mode.
func (d *Driver) Resume(ctx context.Context, m core.BotMeta, mode lifecycle.Mode) error {
	return d.do(ctx, Call{Method: "Resume", Bot: m.Bot, CommandID: m.CommandID, Mode: mode},
		core.BotStatus{Alive: true, Mode: mode}, true)
}

// Pause pauses bot.
func (d *Driver) Pause(ctx context.Context, m core.BotMeta) error {
	d.mu.Lock()
	st := d.status[m.Bot]
	d.mu.Unlock()
	st.Paused = true
	return d.do(ctx, Call{Method: "Pause", Bot: m.Bot, CommandID: m.CommandID}, st, true)
}

// Stop stops bot (at once unless SlowStop).
func (d *Driver) Stop(ctx context.Context, m core.BotMeta) error {
	d.mu.Lock()
	slow := d.slowStop
	d.mu.Unlock()
	return d.do(ctx, Call{Method: "Stop", Bot: m.Bot, CommandID: m.CommandID}, core.BotStatus{Stopped: true}, !slow)
}

// Apply applies configRef to bot.
func (d *Driver) Apply(ctx context.Context, m core.BotMeta, configRef string) error {
	return d.do(ctx, Call{Method: "Apply", Bot: m.Bot, CommandID: m.CommandID, ConfigRef: configRef}, core.BotStatus{}, false)
}

// Status reports bot's status.
func (d *Driver) Status(ctx context.Context, bot string) (core.BotStatus, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.statusEr != nil {
		return core.BotStatus{}, d.statusEr
	}
	return d.status[bot], nil
}

// Actions is a recording fake core.Actions.
type Actions struct {
	mu     sync.Mutex
	reqs   []core.ActionRequest
	err    error
	absent map[core.Op]bool
}

// Configured reports every op configured but those Unconfigure named.
func (a *Actions) Configured(op core.Op) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return !a.absent[op]
}

// Unconfigure makes ops have no action.
func (a *Actions) Unconfigure(ops ...core.Op) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.absent == nil {
		a.absent = map[core.Op]bool{}
	}
	for _, op := range ops {
		a.absent[op] = true
	}
}

// Run records req and returns the injected error, if any.
func (a *Actions) Run(ctx context.Context, req core.ActionRequest) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reqs = append(a.reqs, req)
	return a.err
}

// SetError makes every Run fail with err (nil clears).
func (a *Actions) SetError(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.err = err
}

// Requests returns the recorded requests.
func (a *Actions) Requests() []core.ActionRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]core.ActionRequest(nil), a.reqs...)
}

// Bundler is a fake core.Bundler returning fixed digests.
type Bundler struct {
	mu   sync.Mutex
	reqs []core.BundleRequest
	err  error
}

// Build records req and returns a bundle named after its command.
func (b *Bundler) Build(ctx context.Context, req core.BundleRequest) (core.BundleResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reqs = append(b.reqs, req)
	if b.err != nil {
		return core.BundleResult{}, b.err
	}
	return core.BundleResult{Path: "bundle-" + req.CommandID + ".tar.gz",
		SHA256: hex64('a'), ManifestSHA256: hex64('b')}, nil
}

// SetError makes every Build fail with err.
func (b *Bundler) SetError(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.err = err
}

// Requests returns the recorded requests.
func (b *Bundler) Requests() []core.BundleRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]core.BundleRequest(nil), b.reqs...)
}

func hex64(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

// ErrInjected is a convenient error for failure injection.
var ErrInjected = errors.New("injected failure")
