package sim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// Errors callers can branch on with errors.Is.
var (
	ErrUnknownBot  = errors.New("unknown bot")
	ErrInjected    = errors.New("injected failure")
	ErrState       = errors.New("not possible in the bot's current state")
	ErrNoCommandID = errors.New("command_id is required")
	ErrIDReused    = errors.New("command_id already used for another operation")
)

var _ core.Driver = (*Driver)(nil)

// maxCalls bounds the remembered command_ids per bot (idempotency window).
const maxCalls = 256

// Driver is the simulated bot driver. It is safe for concurrent use.
type Driver struct {
	clock Clock
	mu    sync.Mutex
	bots  map[string]*bot
}

// New returns a driver without bots; a nil clock means the wall clock.
func New(clock Clock) *Driver {
	if clock == nil {
		clock = SystemClock{}
	}
	return &Driver{clock: clock, bots: make(map[string]*bot)}
}

// Add registers a simulated bot, stopped. Adding an existing id is an error.
func (d *Driver) Add(id string, cfg Config) error {
	if id == "" {
		return fmt.Errorf("add bot: empty id")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.bots[id]; ok {
		return fmt.Errorf("add bot %s: already added", id)
	}
	d.bots[id] = &bot{id: id, cfg: cfg.withDefaults(), phase: phaseStopped,
		since: d.clock.Now(), calls: make(map[string]*call)}
	return nil
}

// FailNext makes the bot's next call of op (any op if op is empty) fail
// with ErrInjected and cause. The failed call has no effect.
func (d *Driver) FailNext(id string, op core.Op, cause string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.bots[id]
	if !ok {
		return fmt.Errorf("fail next on %s: %w", id, ErrUnknownBot)
	}
	b.failNext = &injection{op: op, cause: cause}
	return nil
}

// Crash makes the bot's simulated process die now, as a real one would:
// Status then reports it neither alive nor paused. A stopped bot cannot
// crash; Crash on one returns ErrState.
func (d *Driver) Crash(id, cause string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.bots[id]
	if !ok {
		return fmt.Errorf("crash %s: %w", id, ErrUnknownBot)
	}
	now := d.clock.Now()
	b.advance(now)
	if b.phase == phaseStopped || b.phase == phaseCrashed {
		return fmt.Errorf("crash %s (%s): %w", id, b.phase, ErrState)
	}
	b.crash(now, cause)
	return nil
}

// Start runs the bot in mode. It blocks for the bot's StartDelay (or until
// ctx ends, which leaves the bot stopped) and returns once it runs.
func (d *Driver) Start(ctx context.Context, m core.BotMeta, mode lifecycle.Mode) error {
	if _, err := lifecycle.ParseMode(string(mode)); err != nil {
		return fmt.Errorf("start %s: %w", m.Bot, err)
	}
	return d.run(ctx, m, core.OpStart, func(b *bot, now time.Time) (bool, error) {
		if b.phase != phaseStopped && b.phase != phaseCrashed {
			return false, fmt.Errorf("start %s while %s: %w", b.id, b.phase, ErrState)
		}
		b.set(now, phaseStarting, mode)
		return true, nil
	})
}

// Stop asks the bot to stop gracefully and returns at once; Status reports
// Stopped after the bot's StopDelay. Stopping a stopped bot is a no-op.
func (d *Driver) Stop(ctx context.Context, m core.BotMeta) error {
	return d.run(ctx, m, core.OpStop, func(b *bot, now time.Time) (bool, error) {
		switch b.phase {
		case phaseStopped, phaseStopping:
		case phaseCrashed:
			b.set(now, phaseStopped, "")
		default:
			b.set(now, phaseStopping, b.mode)
		}
		return false, nil
	})
}

// Pause pauses a running bot.
func (d *Driver) Pause(ctx context.Context, m core.BotMeta) error {
	return d.run(ctx, m, core.OpPause, func(b *bot, now time.Time) (bool, error) {
		if b.phase != phaseRunning {
			return false, fmt.Errorf("pause %s while %s: %w", b.id, b.phase, ErrState)
		}
		b.set(now, phasePaused, b.mode)
		return false, nil
	})
}

// Resume runs a paused bot again, in mode (named again, never inherited).
func (d *Driver) Resume(ctx context.Context, m core.BotMeta, mode lifecycle.Mode) error {
	if _, err := lifecycle.ParseMode(string(mode)); err != nil {
		return fmt.Errorf("resume %s: %w", m.Bot, err)
	}
	return d.run(ctx, m, core.OpResume, func(b *bot, now time.Time) (bool, error) {
		if b.phase != phasePaused {
			return false, fmt.Errorf("resume %s while %s: %w", b.id, b.phase, ErrState)
		}
		b.set(now, phaseRunning, mode)
		return false, nil
	})
}

// Apply records configRef as the bot's configuration. It is refused while
// the bot starts, stops or lies crashed.
func (d *Driver) Apply(ctx context.Context, m core.BotMeta, configRef string) error {
	if configRef == "" {
		return fmt.Errorf("apply %s: config_ref is required", m.Bot)
	}
	return d.run(ctx, m, core.OpApply, func(b *bot, _ time.Time) (bool, error) {
		switch b.phase {
		case phaseStopped, phaseRunning, phasePaused:
			b.configRef = configRef
			return false, nil
		}
		return false, fmt.Errorf("apply %s while %s: %w", b.id, b.phase, ErrState)
	})
}

// Status reports the bot's simulated process as of the clock's now.
func (d *Driver) Status(ctx context.Context, id string) (core.BotStatus, error) {
	if err := ctx.Err(); err != nil {
		return core.BotStatus{}, fmt.Errorf("status %s: %w", id, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.bots[id]
	if !ok {
		return core.BotStatus{}, fmt.Errorf("status %s: %w", id, ErrUnknownBot)
	}
	b.advance(d.clock.Now())
	return b.status(), nil
}

// run executes one idempotent call: a repeated command_id waits for and
// returns the first call's result; fn changes the bot under the lock and
// reports whether it began a start, which then waits out StartDelay.
func (d *Driver) run(ctx context.Context, m core.BotMeta, op core.Op, fn func(*bot, time.Time) (bool, error)) error {
	b, c, first, err := d.begin(m, op)
	if err != nil {
		return err
	}
	if !first {
		select {
		case <-c.done:
			return c.err
		case <-ctx.Done():
			return fmt.Errorf("%s %s: %w", op, m.Bot, ctx.Err())
		}
	}
	starting, err := d.apply(b, op, fn)
	if err == nil && starting {
		err = d.waitStarted(ctx, b, b.cfg.StartDelay)
	}
	d.mu.Lock()
	b.finish(c, d.clock.Now(), err)
	d.mu.Unlock()
	return err
}

// begin finds the bot and registers the call, or returns the earlier call
// with the same command_id (first false).
func (d *Driver) begin(m core.BotMeta, op core.Op) (*bot, *call, bool, error) {
	if m.CommandID == "" {
		return nil, nil, false, fmt.Errorf("%s %s: %w", op, m.Bot, ErrNoCommandID)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.bots[m.Bot]
	if !ok {
		return nil, nil, false, fmt.Errorf("%s %s: %w", op, m.Bot, ErrUnknownBot)
	}
	if c, ok := b.calls[m.CommandID]; ok {
		if c.op != op {
			return nil, nil, false, fmt.Errorf("%s %s: command_id %s was %s: %w", op, m.Bot, m.CommandID, c.op, ErrIDReused)
		}
		return b, c, false, nil
	}
	c := &call{id: m.CommandID, op: op, trace: m.TraceID, done: make(chan struct{})}
	b.remember(c)
	return b, c, true, nil
}

// apply checks injected failures, then lets fn change the bot.
func (d *Driver) apply(b *bot, op core.Op, fn func(*bot, time.Time) (bool, error)) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock.Now()
	b.advance(now)
	if inj := b.failNext; inj != nil && (inj.op == "" || inj.op == op) {
		b.failNext = nil
		return false, fmt.Errorf("%s %s: %s: %w", op, b.id, inj.cause, ErrInjected)
	}
	if slices.Contains(b.cfg.FailOps, op) {
		return false, fmt.Errorf("%s %s: configured to fail: %w", op, b.id, ErrInjected)
	}
	return fn(b, now)
}

// waitStarted waits out the start delay; a cancelled start leaves the bot
// stopped, and a bot stopped or crashed meanwhile is not revived.
func (d *Driver) waitStarted(ctx context.Context, b *bot, wait time.Duration) error {
	var err error
	if wait > 0 {
		select {
		case <-d.clock.After(wait):
		case <-ctx.Done():
			err = fmt.Errorf("start %s: %w", b.id, ctx.Err())
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock.Now()
	switch {
	case b.phase != phaseStarting:
		if err == nil {
			err = fmt.Errorf("start %s: ended %s while starting: %w", b.id, b.phase, ErrState)
		}
	case err != nil:
		b.set(now, phaseStopped, "")
	default:
		b.set(now, phaseRunning, b.mode)
	}
	return err
}
