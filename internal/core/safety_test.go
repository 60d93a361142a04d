package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

func TestGates_DenyStartResumeApply(t *testing.T) {
	cases := []struct {
		name  string
		setup func(h *coretest.Harness)
		want  core.Reason
	}{
		{"no gate data at all", func(h *coretest.Harness) { h.SetSafety(core.SafetyNormal) }, core.ReasonGateUnknown},
		{"gate FAIL on group", func(h *coretest.Harness) { h.Healthy(); h.SetGate("risk", "group:majors", core.GateFail) }, core.ReasonGateFail},
		{"gate UNKNOWN on bot", func(h *coretest.Harness) { h.Healthy(); h.SetGate("feed", "alpha", core.GateUnknown) }, core.ReasonGateUnknown},
		{"stale gate", func(h *coretest.Harness) {
			h.SetSafety(core.SafetyNormal)
			_ = h.Engine.SetGates(context.Background(), core.GatesDoc{SchemaVersion: "1.0", Source: "t", Results: []core.GateResult{
				{Gate: "risk", Scope: "global", Status: core.GatePass, EvaluatedAt: h.Clock.Now(), TTLSeconds: 30}}})
			h.Clock.Advance(31 * time.Second)
		}, core.ReasonGateUnknown},
		{"stale safety", func(h *coretest.Harness) {
			h.Healthy()
			_ = h.Engine.SetSafety(context.Background(), core.SafetyDoc{SchemaVersion: "1.0", Mode: core.SafetyNormal,
				Source: "t", UpdatedAt: h.Clock.Now(), TTLSeconds: 10})
			h.Clock.Advance(11 * time.Second)
		}, core.ReasonSafety},
	}
	ops := []struct {
		op core.Op
		p  core.Params
	}{{core.OpStart, core.Params{Mode: lifecycle.Paper}}, {core.OpApply, core.Params{ConfigRef: "v2"}}}
	for _, tc := range cases {
		for _, op := range ops {
			t.Run(tc.name+"/"+string(op.op), func(t *testing.T) {
				h := coretest.NewEngine(t)
				tc.setup(h)
				o := h.Submit(h.Cmd(coretest.Operator, "alpha", op.op, op.p))
				if o.Status != core.StatusDenied || o.Reason != tc.want {
					t.Fatalf("got %s/%s (%s), want denied/%s", o.Status, o.Reason, o.Detail, tc.want)
				}
				if len(h.Driver.Calls()) != 0 {
					t.Fatal("driver called")
				}
			})
		}
	}
}

func TestTick_StaleDataRecordedUnknown(t *testing.T) {
	h := coretest.NewEngine(t)
	ctx := context.Background()
	_ = h.Engine.SetSafety(ctx, core.SafetyDoc{SchemaVersion: "1.0", Mode: core.SafetyNormal, Source: "t", UpdatedAt: h.Clock.Now(), TTLSeconds: 10})
	_ = h.Engine.SetGates(ctx, core.GatesDoc{SchemaVersion: "1.0", Source: "t", Results: []core.GateResult{
		{Gate: "risk", Scope: "global", Status: core.GatePass, EvaluatedAt: h.Clock.Now(), TTLSeconds: 10}}})
	h.Clock.Advance(11 * time.Second)
	h.Engine.Tick(ctx)
	h.Engine.Tick(ctx) // no second transition
	s := h.Engine.Snapshot()
	if s.Safety.Mode != core.SafetyUnknown || s.Gates[0].Status != core.GateUnknown || !s.Gates[0].Stale {
		t.Fatalf("snapshot: %+v", s)
	}
	saf := h.EventsOf(core.EvSafety)
	if len(saf) != 2 || saf[1].Safety.Mode != core.SafetyUnknown || saf[1].Safety.Previous != core.SafetyNormal {
		t.Fatalf("safety events: %+v", saf)
	}
	if g := h.EventsOf(core.EvGate); len(g) != 2 || !g[1].Gate.Stale {
		t.Fatalf("gate events: %+v", g)
	}
	// Fresh data brings it back, recorded.
	h.Healthy()
	if s := h.Engine.Snapshot(); s.Safety.Mode != core.SafetyNormal || s.Gates[0].Status != core.GatePass {
		t.Fatalf("after refresh: %+v", s)
	}
	h.ValidateEvents()
}

func TestSetSafety_ValidatesContract(t *testing.T) {
	h := coretest.NewEngine(t)
	err := h.Engine.SetSafety(context.Background(), core.SafetyDoc{SchemaVersion: "1.0", Mode: "FINE", Source: "t", UpdatedAt: h.Clock.Now()})
	if err == nil {
		t.Fatal("bad safety mode accepted")
	}
	err = h.Engine.SetGates(context.Background(), core.GatesDoc{SchemaVersion: "1.0", Source: "t", Results: []core.GateResult{
		{Gate: "risk", Scope: "global", Status: "OK", EvaluatedAt: h.Clock.Now(), TTLSeconds: 10}}})
	if err == nil {
		t.Fatal("bad gate status accepted")
	}
	// A refresh with the same mode records nothing new.
	h.SetSafety(core.SafetyNormal)
	n := h.Auditor.Len()
	h.SetSafety(core.SafetyNormal)
	if h.Auditor.Len() != n {
		t.Fatal("refresh recorded an event")
	}
}

func TestKillSwitch_TightenLoosen(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	set := func(actor, target string, op core.Op, lv string) core.Outcome {
		return h.Submit(h.Cmd(actor, target, op, core.Params{Level: lv}))
	}
	if o := set(coretest.Operator, "group:majors", core.OpKillSwitchSet, "reduce_only"); o.Status != core.StatusApplied {
		t.Fatalf("tighten: %+v", o)
	}
	if o := set(coretest.Operator, "group:majors", core.OpKillSwitchSet, "off"); o.Reason != core.ReasonLevel {
		t.Fatalf("set used to loosen: %+v", o)
	}
	if o := set(coretest.Operator, "group:majors", core.OpKillSwitchRelease, "off"); o.Reason != core.ReasonForbidden {
		t.Fatalf("operator loosening: %+v", o)
	}
	// Live is refused under any engaged level; paper is not.
	if o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Live})); o.Reason != core.ReasonKillSwitch {
		t.Fatalf("live under kill-switch: %+v", o)
	}
	if o := h.Submit(h.Cmd(coretest.Operator, "gamma", core.OpStart, core.Params{Mode: lifecycle.Live})); o.Status != core.StatusChallenged {
		t.Fatalf("other group's live start: %+v", o)
	}
	if s := h.Engine.Snapshot(); s.Bots[0].KillSwitch != core.LevelReduceOnly || s.Bots[2].KillSwitch != core.LevelOff {
		t.Fatalf("effective levels: %+v", s.Bots)
	}
	rel := set(coretest.Admin, "group:majors", core.OpKillSwitchRelease, "off")
	if rel.Status != core.StatusChallenged {
		t.Fatalf("release must be challenged: %+v", rel)
	}
	if c := h.Confirm(rel.Challenge.ID, coretest.Approver); c.Status != core.StatusApplied {
		t.Fatalf("confirmed release: %+v", c)
	}
	ks := h.EventsOf(core.EvKillSwitch)
	if len(ks) != 2 || ks[1].KillSwitch.Level != core.LevelOff || ks[1].KillSwitch.Previous != core.LevelReduceOnly {
		t.Fatalf("kill-switch events: %+v", ks)
	}
	if len(h.Actions.Requests()) != 2 {
		t.Fatalf("actions: %+v", h.Actions.Requests())
	}
	h.ValidateEvents()
}

func TestKillSwitch_TightenRecordedEvenIfPushFails(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.Actions.SetError(coretest.ErrInjected)
	o := h.Submit(h.Cmd(coretest.Operator, "global", core.OpKillSwitchSet, core.Params{Level: "halt"}))
	if o.Status != core.StatusFailed || h.Engine.Snapshot().KillSwitch["global"] != core.LevelHalt {
		t.Fatalf("got %+v / %+v", o, h.Engine.Snapshot().KillSwitch)
	}
}

func TestGateOverride_BoundedAndExpires(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.SetGate("feed", "alpha", core.GateFail)
	if o := h.Submit(h.Cmd(coretest.Admin, "alpha", core.OpGateOverride, core.Params{Gate: "feed", Duration: "2h"})); o.Reason != core.ReasonPolicyLimit {
		t.Fatalf("beyond policy bound: %+v", o)
	}
	o := h.Submit(h.Cmd(coretest.Admin, "alpha", core.OpGateOverride, core.Params{Gate: "feed", Duration: "10m"}))
	if c := h.Confirm(o.Challenge.ID, coretest.Approver); c.Status != core.StatusApplied {
		t.Fatalf("override: %+v", c)
	}
	if o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status != core.StatusApplied {
		t.Fatalf("start under override: %+v", o)
	}
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpPause, core.Params{}))
	h.Clock.Advance(11 * time.Minute)
	h.Engine.Tick(context.Background())
	if len(h.EventsOf(core.EvOverrideExpired)) != 1 {
		t.Fatal("override expiry not recorded")
	}
	if o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpResume, core.Params{Mode: lifecycle.Paper})); o.Reason != core.ReasonGateFail {
		t.Fatalf("resume after override expired: %+v", o)
	}
	h.ValidateEvents()
}

func TestActions_OpsRecordedWithoutSecrets(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	o := h.Submit(h.Cmd(coretest.Admin, "alpha", core.OpSecretRotate, core.Params{SecretRef: "vault:trading/alpha/key"}))
	h.Confirm(o.Challenge.ID, coretest.Approver)
	o = h.Submit(h.Cmd(coretest.Admin, "global", core.OpMonitoringDisable, core.Params{Duration: "15m"}))
	h.Confirm(o.Challenge.ID, coretest.Approver)
	if n := len(h.Actions.Requests()); n != 2 {
		t.Fatalf("actions run: %d", n)
	}
	if len(h.EventsOf(core.EvMonitoring)) != 1 {
		t.Fatal("monitoring.disabled not recorded")
	}
	h.ValidateEvents()
}

func TestActions_MissingBackendsDenied(t *testing.T) {
	h := coretest.NewEngine(t, coretest.WithoutBundler(), coretest.WithoutActions())
	h.Healthy()
	if o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpBundle, core.Params{})); o.Reason != core.ReasonUnavailable {
		t.Fatalf("bundle without bundler: %+v", o)
	}
	if o := h.Submit(h.Cmd(coretest.Admin, "alpha", core.OpSecretRotate, core.Params{SecretRef: "vault:x"})); o.Reason != core.ReasonUnavailable {
		t.Fatalf("secret rotate without actions: %+v", o)
	}
}

func TestBundle_Recorded(t *testing.T) {
	h := coretest.NewEngine(t)
	o := h.Submit(h.Cmd(coretest.Auditor, "alpha", core.OpBundle, core.Params{}))
	if o.Status != core.StatusApplied || len(h.EventsOf(core.EvBundle)) != 1 {
		t.Fatalf("bundle: %+v", o)
	}
	h.Bundler.SetError(errors.New("disk full"))
	if o := h.Submit(h.Cmd(coretest.Auditor, "alpha", core.OpBundle, core.Params{})); o.Status != core.StatusFailed {
		t.Fatalf("failed bundle: %+v", o)
	}
	// A secret found by the bundle's proof is a denial naming the rule.
	h.Bundler.SetError(fmt.Errorf("bundle x: %w: secret found by rule slack_token in logs/service.log", core.ErrBundleLeak))
	o = h.Submit(h.Cmd(coretest.Auditor, "alpha", core.OpBundle, core.Params{}))
	if o.Status != core.StatusDenied || o.Reason != core.ReasonBundleLeak || !strings.Contains(o.Detail, "slack_token") {
		t.Fatalf("leaking bundle: %+v, want denied %s naming the rule", o, core.ReasonBundleLeak)
	}
	denied := h.EventsOf(core.EvDenied)
	if len(denied) == 0 || denied[len(denied)-1].Reason != core.ReasonBundleLeak {
		t.Fatalf("the refused bundle is not audited as denied: %+v", denied)
	}
	h.ValidateEvents()
}

// An override counts a gate's FAIL as PASS, never its absence: once the
// gate's data goes stale under an active override, it is UNKNOWN again
// and blocks a start (spec §5.2: unobservable is not healthy).
func TestGateOverride_NeverCoversUnknown(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	err := h.Engine.SetGates(t.Context(), core.GatesDoc{SchemaVersion: core.SchemaVersion, Source: "test",
		Results: []core.GateResult{{Gate: "feed", Scope: "alpha", Status: core.GateFail, EvaluatedAt: h.Clock.Now(), TTLSeconds: 60}}})
	if err != nil {
		t.Fatal(err)
	}
	o := h.Submit(h.Cmd(coretest.Admin, "alpha", core.OpGateOverride, core.Params{Gate: "feed", Duration: "30m"}))
	if c := h.Confirm(o.Challenge.ID, coretest.Approver); c.Status != core.StatusApplied {
		t.Fatalf("override: %+v", c)
	}
	h.Clock.Advance(2 * time.Minute) // the FAIL result is stale; the override has 28 minutes left
	h.Engine.Tick(t.Context())
	if o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Reason != core.ReasonGateUnknown {
		t.Fatalf("start under an override of a stale gate: %+v, want denied gate_unknown", o)
	}
	h.SetGate("feed", "alpha", core.GateFail) // fresh data again: the override covers it
	if o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status != core.StatusApplied {
		t.Fatalf("start under the override of a fresh FAIL: %+v", o)
	}
	h.ValidateEvents()
}

// A gate override with an action configured is pushed first and made
// only if the push succeeded; kill-switch changes and overrides without
// an action are the core's alone; the other ops without their action are
// denied before any challenge.
func TestActions_ConfiguredPerOp(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.SetGate("feed", "alpha", core.GateFail)
	h.Actions.SetError(errors.New("gate service down"))
	o := h.Submit(h.Cmd(coretest.Admin, "alpha", core.OpGateOverride, core.Params{Gate: "feed", Duration: "10m"}))
	if c := h.Confirm(o.Challenge.ID, coretest.Approver); c.Status != core.StatusFailed || len(h.EventsOf(core.EvOverride)) != 0 {
		t.Fatalf("override whose push failed: %+v", c)
	}
	if o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Reason != core.ReasonGateFail {
		t.Fatalf("start after a failed override: %+v", o)
	}
	h.Actions.SetError(nil)
	h.Actions.Unconfigure(core.OpGateOverride, core.OpKillSwitchSet, core.OpKillSwitchRelease, core.OpMonitoringDisable)
	pushed := len(h.Actions.Requests())
	o = h.Submit(h.Cmd(coretest.Admin, "alpha", core.OpGateOverride, core.Params{Gate: "feed", Duration: "10m"}))
	if c := h.Confirm(o.Challenge.ID, coretest.Approver); c.Status != core.StatusApplied {
		t.Fatalf("override without an action: %+v", c)
	}
	if o := h.Submit(h.Cmd(coretest.Admin, "global", core.OpKillSwitchSet, core.Params{Level: "halt"})); o.Status != core.StatusApplied {
		t.Fatalf("kill-switch without an action: %+v", o)
	}
	if got := len(h.Actions.Requests()); got != pushed {
		t.Fatalf("%d actions run for ops that have none", got-pushed)
	}
	if o := h.Submit(h.Cmd(coretest.Admin, "global", core.OpMonitoringDisable, core.Params{Duration: "15m"})); o.Reason != core.ReasonUnavailable || o.Challenge != nil {
		t.Fatalf("monitoring disable without its action: %+v, want denied unavailable, no challenge", o)
	}
	h.ValidateEvents()
}

// A safety document without ttl_seconds counts for DefaultSafetyTTL, not
// for ever: a publisher that dies leaves the fleet UNKNOWN, and nothing
// starts.
func TestSafety_NoTTLExpiresAfterDefault(t *testing.T) {
	h := coretest.NewEngine(t)
	h.SetGate("risk", "global", core.GatePass)
	if err := h.Engine.SetSafety(t.Context(), core.SafetyDoc{SchemaVersion: core.SchemaVersion,
		Mode: core.SafetyNormal, Source: "test", UpdatedAt: h.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status != core.StatusApplied {
		t.Fatalf("start under a fresh NORMAL: %+v", o)
	}
	h.Clock.Advance(core.DefaultSafetyTTL + time.Second)
	h.Engine.Tick(t.Context())
	if got := h.Engine.Snapshot().Safety.Mode; got != core.SafetyUnknown {
		t.Fatalf("safety %s after the default TTL, want UNKNOWN", got)
	}
	if o := h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Reason != core.ReasonSafety {
		t.Fatalf("start once the TTL-less document went stale: %+v", o)
	}
	h.ValidateEvents()
}

// A driver or action error that echoes a secret reaches the ledger with
// the secret replaced: the ledger is immutable and read by many.
func TestDriverError_SecretScrubbedFromLedger(t *testing.T) {
	const secret = "xoxb-1234567890-abcdefghijklmnop"
	h := coretest.NewEngine(t, coretest.WithScrubber(fixedScrubber{secret}))
	h.Healthy()
	h.Driver.FailNext("Start", errors.New("HTTP 401: bad auth "+secret))
	if o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status != core.StatusFailed || strings.Contains(o.Detail, secret) {
		t.Fatalf("start whose driver echoed a secret: %+v", o)
	}
	for _, raw := range h.Auditor.Raw() {
		if strings.Contains(string(raw), secret) {
			t.Fatalf("the secret reached the ledger: %s", raw)
		}
	}
}

// fixedScrubber replaces one known secret.
type fixedScrubber struct{ secret string }

func (s fixedScrubber) Redact(text string) string {
	return strings.ReplaceAll(text, s.secret, "[REDACTED]")
}
func (s fixedScrubber) IsSecret(ref string) bool { return ref == s.secret }
