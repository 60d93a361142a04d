package execdriver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// Errors callers can branch on with errors.Is.
var (
	ErrUnknownBot    = errors.New("unknown bot")
	ErrNotConfigured = errors.New("no command configured for operation")
	ErrTimeout       = errors.New("command timed out")
	ErrExit          = errors.New("command failed")
	ErrNotStarted    = errors.New("command could not be started")
	ErrSecret        = errors.New("secret unavailable")
	ErrSecretInArgv  = errors.New("secret in command line refused")
	ErrBadStatus     = errors.New("status command gave no usable answer")
)

var _ core.Driver = (*Driver)(nil)

// maxDone bounds the remembered successful command_ids per bot.
const maxDone = 256

// Options tune a Driver; zero fields take defaults.
type Options struct {
	Getenv   func(string) string          // resolves secret_env; default os.Getenv
	ReadFile func(string) ([]byte, error) // resolves secret_files; default os.ReadFile
	Path     string                       // PATH the commands get; default Botwarden's PATH
	Now      func() time.Time             // default time.Now
}

func (o Options) withDefaults() Options {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.ReadFile == nil {
		o.ReadFile = os.ReadFile
	}
	if o.Path == "" {
		o.Path = o.Getenv("PATH")
	}
	if o.Path == "" {
		o.Path = "/usr/local/bin:/usr/bin:/bin"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Driver is the exec bot driver. It is safe for concurrent use; the
// operations on one bot run one at a time (Status is not held up by them).
type Driver struct {
	opts Options
	mu   sync.Mutex
	bots map[string]*bot
}

type bot struct {
	cfg  Config
	opMu sync.Mutex // serialises operations on the bot

	mu    sync.Mutex // guards the fields below
	done  map[string]core.Op
	order []string
	last  map[core.Op]Result
}

// New returns a driver without bots.
func New(opts Options) *Driver {
	return &Driver{opts: opts.withDefaults(), bots: make(map[string]*bot)}
}

// Add registers a bot's commands.
func (d *Driver) Add(id string, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return fmt.Errorf("add bot %s: %w", id, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.bots[id]; ok {
		return fmt.Errorf("add bot %s: already added", id)
	}
	d.bots[id] = &bot{cfg: cfg.withDefaults(), done: map[string]core.Op{}, last: map[core.Op]Result{}}
	return nil
}

func (d *Driver) bot(id string) (*bot, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.bots[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownBot, id)
	}
	return b, nil
}

// Start runs the start command; it should return once the bot runs.
func (d *Driver) Start(ctx context.Context, m core.BotMeta, mode lifecycle.Mode) error {
	return d.control(ctx, job{op: core.OpStart, meta: m, mode: mode})
}

// Stop runs the stop command; it may return before the bot has stopped.
func (d *Driver) Stop(ctx context.Context, m core.BotMeta) error {
	return d.control(ctx, job{op: core.OpStop, meta: m})
}

// Pause runs the pause command.
func (d *Driver) Pause(ctx context.Context, m core.BotMeta) error {
	return d.control(ctx, job{op: core.OpPause, meta: m})
}

// Resume runs the resume command with the mode named again.
func (d *Driver) Resume(ctx context.Context, m core.BotMeta, mode lifecycle.Mode) error {
	return d.control(ctx, job{op: core.OpResume, meta: m, mode: mode})
}

// Apply runs the apply command with BOTWARDEN_CONFIG_REF set.
func (d *Driver) Apply(ctx context.Context, m core.BotMeta, configRef string) error {
	return d.control(ctx, job{op: core.OpApply, meta: m, configRef: configRef})
}

// control runs one operation. A command_id that already succeeded on the
// bot is not run again; a failed one may be retried and runs again (the
// command sees the same BOTWARDEN_COMMAND_ID and must be idempotent).
func (d *Driver) control(ctx context.Context, j job) error {
	if j.meta.CommandID == "" {
		return fmt.Errorf("%s %s: command_id is required", j.op, j.meta.Bot)
	}
	b, err := d.bot(j.meta.Bot)
	if err != nil {
		return fmt.Errorf("%s: %w", j.op, err)
	}
	b.opMu.Lock()
	defer b.opMu.Unlock()
	if op, ok := b.succeeded(j.meta.CommandID); ok {
		if op != j.op {
			return fmt.Errorf("%s %s: command_id %s was used for %s", j.op, j.meta.Bot, j.meta.CommandID, op)
		}
		return nil
	}
	res, _, err := d.run(ctx, b.cfg.command(j.op), j.op, j.meta.CommandID, j.vars())
	b.record(res, err == nil)
	if err != nil {
		return fmt.Errorf("%s %s: %w%s", j.op, j.meta.Bot, err, outputSuffix(res.Output))
	}
	return nil
}

func outputSuffix(out string) string {
	if out == "" {
		return ""
	}
	return "; output: " + out
}

func (b *bot) succeeded(id string) (core.Op, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	op, ok := b.done[id]
	return op, ok
}

func (b *bot) record(res Result, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.last[res.Op] = res
	if !ok || res.Op == core.OpStatus {
		return
	}
	b.done[res.CommandID] = res.Op
	b.order = append(b.order, res.CommandID)
	if len(b.order) > maxDone {
		delete(b.done, b.order[0])
		b.order = b.order[1:]
	}
}

// Diagnostics returns the last result of each operation run on the bot,
// redacted, for support bundles.
func (d *Driver) Diagnostics(id string) (map[core.Op]Result, error) {
	b, err := d.bot(id)
	if err != nil {
		return nil, fmt.Errorf("diagnostics: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[core.Op]Result, len(b.last))
	for op, r := range b.last {
		out[op] = r
	}
	return out, nil
}
