package coretest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/botwarden/botwarden/docs/contracts"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
	"github.com/botwarden/botwarden/internal/policy"
)

// Epoch is where the harness clock starts.
var Epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// The demo actors (internal/policy/testdata/demo.yaml).
const (
	Operator  = "U0OPERATOR"
	Approver  = "U0APPROVER"
	Approver2 = "U0APPROVER2"
	Viewer    = "U0VIEWER"
	Auditor   = "U0AUDITOR"
	Admin     = "U0ADMIN"
)

// Harness is a real core.Engine wired to fakes.
type Harness struct {
	T        testing.TB
	Engine   *core.Engine
	Auditor  *MemAuditor
	Clock    *Clock
	Driver   *Driver
	Actions  *Actions
	Bundler  *Bundler
	Registry *prometheus.Registry
	Config   core.Config
	Deps     core.Deps
	ids      atomic.Uint64
	valid    *contracts.Validator
	scrubber core.Scrubber
	spill    core.Spill
}

// Option adjusts the harness before the engine is built.
type Option func(*Harness)

// WithAuditor shares an auditor (e.g. to restart on the same ledger).
func WithAuditor(a *MemAuditor) Option { return func(h *Harness) { h.Auditor = a } }

// WithClock shares a clock.
func WithClock(c *Clock) Option { return func(h *Harness) { h.Clock = c } }

// WithDriver shares a driver.
func WithDriver(d *Driver) Option { return func(h *Harness) { h.Driver = d } }

// WithPolicy replaces the demo policy.
func WithPolicy(p *policy.Policy) Option { return func(h *Harness) { h.Config.Policy = p } }

// WithScrubber sets Deps.Scrubber.
func WithScrubber(sc core.Scrubber) Option { return func(h *Harness) { h.scrubber = sc } }

// WithSpill gives the engine a spill for unaudited effects (a MemSpill).
func WithSpill(s core.Spill) Option { return func(h *Harness) { h.spill = s } }

// WithoutBundler leaves the Bundler out (support bundles are then denied).
func WithoutBundler() Option { return func(h *Harness) { h.Bundler = nil } }

// WithoutActions leaves Actions out.
func WithoutActions() Option { return func(h *Harness) { h.Actions = nil } }

// WithConfig edits the engine config (bots are already set).
func WithConfig(f func(*core.Config)) Option { return func(h *Harness) { f(&h.Config) } }

// NewEngine builds an engine for environment dev with the demo policy and
// three bots sharing one fake driver: alpha and beta (group majors) and
// gamma (group alts). Challenge ids are ch-1, ch-2, ... The engine's
// state is rebuilt from the auditor, as in production.
func NewEngine(t testing.TB, opts ...Option) *Harness {
	t.Helper()
	h := &Harness{T: t, Auditor: NewMemAuditor(), Clock: NewClock(Epoch), Driver: NewDriver(),
		Actions: &Actions{}, Bundler: &Bundler{}, Registry: prometheus.NewRegistry()}
	h.Config = core.Config{Environment: "dev", Policy: policy.Demo(), StopTimeout: 20 * time.Second}
	for _, o := range opts {
		o(h)
	}
	if len(h.Config.Bots) == 0 {
		for _, b := range [][2]string{{"alpha", "majors"}, {"beta", "majors"}, {"gamma", "alts"}} {
			h.Config.Bots = append(h.Config.Bots, core.BotConfig{ID: b[0], Group: b[1], Driver: h.Driver})
		}
	}
	h.Deps = core.Deps{Auditor: h.Auditor, Actions: h.Actions, Bundler: h.Bundler, Clock: h.Clock,
		Registerer: h.Registry, NewID: func() string { return fmt.Sprintf("ch-%d", h.ids.Add(1)) }, Scrubber: h.scrubber, Spill: h.spill}
	if h.Actions == nil {
		h.Deps.Actions = nil
	}
	if h.Bundler == nil {
		h.Deps.Bundler = nil
	}
	e, err := core.New(context.Background(), h.Config, h.Deps)
	if err != nil {
		t.Fatalf("core.New: %v", err)
	}
	h.Engine = e
	return h
}

// Restart builds a new engine on the same auditor, clock and driver, as a
// process restart would, and returns it in a new harness.
func (h *Harness) Restart() *Harness {
	h.T.Helper()
	n := &Harness{T: h.T, Auditor: h.Auditor, Clock: h.Clock, Driver: h.Driver, Actions: h.Actions,
		Bundler: h.Bundler, Registry: prometheus.NewRegistry(), Config: h.Config, Deps: h.Deps}
	n.Deps.Registerer = n.Registry
	n.ids.Store(h.ids.Load() + 1000)
	n.Deps.NewID = func() string { return fmt.Sprintf("ch-%d", n.ids.Add(1)) }
	e, err := core.New(context.Background(), n.Config, n.Deps)
	if err != nil {
		h.T.Fatalf("core.New on restart: %v", err)
	}
	n.Engine = e
	return n
}

// Cmd builds a well-formed command with a fresh command_id.
func (h *Harness) Cmd(actor, target string, op core.Op, p core.Params) core.Command {
	n := h.ids.Add(1)
	return core.Command{SchemaVersion: core.SchemaVersion, CommandID: fmt.Sprintf("cmd-%d", n),
		Actor: actor, Target: target, Op: op, RequestedTransition: string(op), Environment: "dev",
		TraceID: fmt.Sprintf("tr-%d", n), RunID: "run-1", Params: p}
}

// Healthy publishes safety NORMAL and PASS for gate "risk" on global,
// both valid for an hour of fake time.
func (h *Harness) Healthy() {
	h.T.Helper()
	h.SetSafety(core.SafetyNormal)
	h.SetGate("risk", "global", core.GatePass)
}

// SetSafety publishes a safety mode (ttl one hour).
func (h *Harness) SetSafety(m core.SafetyMode) {
	h.T.Helper()
	err := h.Engine.SetSafety(context.Background(), core.SafetyDoc{SchemaVersion: core.SchemaVersion,
		Mode: m, Source: "test", UpdatedAt: h.Clock.Now(), TTLSeconds: 3600})
	if err != nil {
		h.T.Fatalf("SetSafety: %v", err)
	}
}

// SetGate publishes one gate result (ttl one hour).
func (h *Harness) SetGate(gate, scope string, st core.GateStatus) {
	h.T.Helper()
	err := h.Engine.SetGates(context.Background(), core.GatesDoc{SchemaVersion: core.SchemaVersion, Source: "test",
		Results: []core.GateResult{{Gate: gate, Scope: scope, Status: st, EvaluatedAt: h.Clock.Now(), TTLSeconds: 3600}}})
	if err != nil {
		h.T.Fatalf("SetGates: %v", err)
	}
}

// Submit submits cmd and fails the test on an error.
func (h *Harness) Submit(cmd core.Command) core.Outcome {
	h.T.Helper()
	o, err := h.Engine.Submit(context.Background(), cmd)
	if err != nil {
		h.T.Fatalf("Submit(%s %s): %v", cmd.Op, cmd.Target, err)
	}
	return o
}

// Confirm confirms a challenge as actor, typing its target.
func (h *Harness) Confirm(id, actor string) core.Outcome {
	h.T.Helper()
	ch, ok := h.Engine.Challenge(id)
	if !ok {
		h.T.Fatalf("no challenge %s", id)
	}
	o, err := h.Engine.Confirm(context.Background(), core.ConfirmRequest{ChallengeID: id, Actor: actor,
		Reason: "checked", TypedTarget: ch.Requires.TypedTarget})
	if err != nil {
		h.T.Fatalf("Confirm: %v", err)
	}
	return o
}

// State returns a bot's recorded state.
func (h *Harness) State(bot string) lifecycle.State {
	for _, b := range h.Engine.Snapshot().Bots {
		if b.ID == bot {
			return b.State
		}
	}
	return ""
}

// Events decodes every recorded event.
func (h *Harness) Events() []core.Event {
	h.T.Helper()
	var out []core.Event
	for _, raw := range h.Auditor.Raw() {
		var ev core.Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			h.T.Fatalf("decode event: %v", err)
		}
		out = append(out, ev)
	}
	return out
}

// EventsOf returns the recorded events of one type.
func (h *Harness) EventsOf(typ string) []core.Event {
	var out []core.Event
	for _, ev := range h.Events() {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// ValidateEvents checks every recorded event against
// docs/contracts/audit_event.schema.json.
func (h *Harness) ValidateEvents() {
	h.T.Helper()
	if h.valid == nil {
		v, err := contracts.NewValidator()
		if err != nil {
			h.T.Fatal(err)
		}
		h.valid = v
	}
	for i, raw := range h.Auditor.Raw() {
		if err := h.valid.Validate(contracts.AuditEvent, raw); err != nil {
			h.T.Fatalf("event seq %d invalid: %v\n%s", i+1, err, raw)
		}
	}
}

// Ticks runs the engine's Tick n times: core.DeadReadings ticks find a
// dead bot dead enough for ERROR.
func (h *Harness) Ticks(n int) {
	for range n {
		h.Engine.Tick(context.Background())
	}
}
