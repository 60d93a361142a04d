package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/driver/execdriver"
	"github.com/botwarden/botwarden/internal/driver/httpdriver"
)

// Errors callers can branch on with errors.Is.
var (
	ErrNotConfigured = errors.New("no action configured for operation")
	ErrInvalid       = errors.New("invalid action request")
)

var _ core.Actions = (*Actions)(nil)

// maxDone bounds the remembered successful command_ids.
const maxDone = 1024

// Request is the JSON body POSTed to an HTTP action, and the source of the
// exec action's BOTWARDEN_* variables. Every key is always present.
type Request struct {
	Op         core.Op `json:"op"`
	Target     string  `json:"target"`
	Level      string  `json:"level"`
	Gate       string  `json:"gate"`
	Duration   string  `json:"duration"`
	SecretRef  string  `json:"secret_ref"`
	DataAction string  `json:"data_action"`
	CommandID  string  `json:"command_id"`
	TraceID    string  `json:"trace_id"`
	Actor      string  `json:"actor"`
}

// Options tune Actions; zero fields take defaults.
type Options struct {
	Getenv   func(string) string          // default os.Getenv
	ReadFile func(string) ([]byte, error) // default os.ReadFile
	Now      func() time.Time             // default time.Now
	HTTP     httpdriver.Options
	Exec     execdriver.Options
}

// Record is the last run of an action, for support bundles.
type Record struct {
	Op        core.Op   `json:"op"`
	CommandID string    `json:"command_id"`
	Target    string    `json:"target"`
	At        time.Time `json:"at"`
	Error     string    `json:"error,omitempty"` // redacted by the drivers
}

// Actions runs the configured actions. It is safe for concurrent use.
type Actions struct {
	exec  map[core.Op]execdriver.Command
	http  map[core.Op]httpdriver.Bot
	xd    *execdriver.Driver
	hd    *httpdriver.Driver
	now   func() time.Time
	opMu  map[core.Op]*sync.Mutex // one run per op at a time; a slow data op does not hold up a kill-switch push
	mu    sync.Mutex
	done  map[string]core.Op
	order []string
	last  map[core.Op]Record
}

// New validates cfg, resolves the HTTP actions' secrets and returns the
// actions.
func New(cfg Config, opts Options) (*Actions, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Exec.Getenv == nil {
		opts.Exec.Getenv, opts.Exec.ReadFile = opts.Getenv, opts.ReadFile
	}
	a := &Actions{exec: map[core.Op]execdriver.Command{}, http: map[core.Op]httpdriver.Bot{},
		xd: execdriver.New(opts.Exec), hd: httpdriver.New(opts.HTTP), now: opts.Now,
		done: map[string]core.Op{}, last: map[core.Op]Record{}, opMu: map[core.Op]*sync.Mutex{}}
	for name, s := range cfg {
		for _, op := range opsOf[name] {
			a.opMu[op] = &sync.Mutex{}
			if s.Exec != nil {
				a.exec[op] = *s.Exec
				continue
			}
			b, err := s.HTTP.Bot(opts.Getenv, opts.ReadFile)
			if err != nil {
				return nil, fmt.Errorf("action %q: %w", name, err)
			}
			a.http[op] = b
		}
	}
	return a, nil
}

// Configured reports whether op has an action.
func (a *Actions) Configured(op core.Op) bool {
	_, x := a.exec[op]
	_, h := a.http[op]
	return x || h
}

// Run carries out req through its configured action. A command_id that
// already succeeded is not run again.
func (a *Actions) Run(ctx context.Context, req core.ActionRequest) error {
	r, err := request(req)
	if err != nil {
		return err
	}
	if !a.Configured(req.Op) {
		return fmt.Errorf("%w: %s", ErrNotConfigured, req.Op)
	}
	a.opMu[req.Op].Lock()
	defer a.opMu[req.Op].Unlock()
	if op, ok := a.succeeded(req.CommandID); ok {
		if op != req.Op {
			return fmt.Errorf("%w: command_id %s was used for %s", ErrInvalid, req.CommandID, op)
		}
		return nil
	}
	err = a.run(ctx, r)
	a.record(r, err)
	if err != nil {
		return fmt.Errorf("action %s on %s: %w", req.Op, req.Target, err)
	}
	return nil
}

func (a *Actions) run(ctx context.Context, r Request) error {
	if c, ok := a.exec[r.Op]; ok {
		_, err := a.xd.Exec(ctx, c, r.Op, r.CommandID, r.vars())
		return err
	}
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return a.hd.Post(ctx, "action:"+string(r.Op), a.http[r.Op], r.CommandID, body)
}

// request checks req and turns it into the wire Request.
func request(req core.ActionRequest) (Request, error) {
	if req.CommandID == "" || req.Target == "" {
		return Request{}, fmt.Errorf("%w: command_id and target are required", ErrInvalid)
	}
	if req.Op == core.OpKillSwitchSet || req.Op == core.OpKillSwitchRelease {
		switch core.Level(req.Params.Level) {
		case core.LevelOff, core.LevelReduceOnly, core.LevelHalt:
		default:
			return Request{}, fmt.Errorf("%w: kill-switch level %q", ErrInvalid, req.Params.Level)
		}
	}
	p := req.Params
	return Request{Op: req.Op, Target: req.Target, Level: p.Level, Gate: p.Gate, Duration: p.Duration,
		SecretRef: p.SecretRef, DataAction: p.DataAction, CommandID: req.CommandID, TraceID: req.TraceID,
		Actor: req.Actor}, nil
}

// vars are the exec action's BOTWARDEN_* variables.
func (r Request) vars() map[string]string {
	return map[string]string{
		"BOTWARDEN_OP": string(r.Op), "BOTWARDEN_TARGET": r.Target, "BOTWARDEN_LEVEL": r.Level,
		"BOTWARDEN_GATE": r.Gate, "BOTWARDEN_DURATION": r.Duration, "BOTWARDEN_SECRET_REF": r.SecretRef,
		"BOTWARDEN_DATA_ACTION": r.DataAction, "BOTWARDEN_COMMAND_ID": r.CommandID,
		"BOTWARDEN_TRACE_ID": r.TraceID, "BOTWARDEN_ACTOR": r.Actor,
	}
}

func (a *Actions) succeeded(id string) (core.Op, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	op, ok := a.done[id]
	return op, ok
}

func (a *Actions) record(r Request, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rec := Record{Op: r.Op, CommandID: r.CommandID, Target: r.Target, At: a.now()}
	if err != nil {
		rec.Error = err.Error()
		a.last[r.Op] = rec
		return
	}
	a.last[r.Op] = rec
	a.done[r.CommandID] = r.Op
	a.order = append(a.order, r.CommandID)
	if len(a.order) > maxDone {
		delete(a.done, a.order[0])
		a.order = a.order[1:]
	}
}

// Diagnostics returns the last run of each operation.
func (a *Actions) Diagnostics() map[core.Op]Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[core.Op]Record, len(a.last))
	for op, r := range a.last {
		out[op] = r
	}
	return out
}
