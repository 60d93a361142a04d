package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/botwarden/botwarden/docs/contracts"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// validParams are params each op accepts.
var validParams = map[Op]Params{
	OpStart:             {Mode: lifecycle.Live},
	OpResume:            {Mode: lifecycle.Paper},
	OpApply:             {Mode: lifecycle.Shadow, ConfigRef: "git:configs/alpha@v12"},
	OpKillSwitchSet:     {Level: "halt"},
	OpKillSwitchRelease: {Level: "off"},
	OpGateOverride:      {Gate: "risk_limits", Duration: "1h30m"},
	OpMonitoringDisable: {Duration: "15m"},
	OpSecretRotate:      {SecretRef: "vault:trading/alpha/api_key"},
	OpDataOp:            {DataAction: "compact"},
}

// validCommand returns a command the schema accepts for op.
func validCommand(op Op) Command {
	return Command{SchemaVersion: SchemaVersion, CommandID: "c1", Actor: "U0OPERATOR", Target: "alpha",
		Op: op, RequestedTransition: string(op), Environment: "dev", TraceID: "t", RunID: "r",
		Params: validParams[op]}
}

// schemaCheck returns the schema validator's verdict on json.Marshal(cmd).
func schemaCheck(t testing.TB, v *contracts.Validator, cmd *Command) error {
	t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return v.Validate(contracts.Command, b)
}

// newSchemaValidator compiles the contracts once per test.
func newSchemaValidator(t testing.TB) *contracts.Validator {
	t.Helper()
	v, err := contracts.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkCase edits a valid command for op and says whether the result is
// valid.
type checkCase struct {
	name string
	op   Op
	edit func(*Command)
	ok   bool
}

// checkCases has one row per rule of command.schema.json, accepted and
// refused on each side of it.
func checkCases() []checkCase {
	r := strings.Repeat
	p := func(f func(*Params)) func(*Command) { return func(c *Command) { f(&c.Params) } }
	cases := []checkCase{
		{"version empty", OpStatus, func(c *Command) { c.SchemaVersion = "" }, false},
		{"version other", OpStatus, func(c *Command) { c.SchemaVersion = "1.1" }, false},
		{"id 128", OpStatus, func(c *Command) { c.CommandID = r("a", 128) }, true},
		{"id 129", OpStatus, func(c *Command) { c.CommandID = r("a", 129) }, false},
		{"id empty", OpStatus, func(c *Command) { c.CommandID = "" }, false},
		{"id punct", OpStatus, func(c *Command) { c.CommandID = "c.1_2:3-4" }, true},
		{"id leading punct", OpStatus, func(c *Command) { c.CommandID = "-c" }, false},
		{"id at", OpStatus, func(c *Command) { c.CommandID = "c@1" }, false},
		{"id non-ascii", OpStatus, func(c *Command) { c.CommandID = "cé" }, false},
		{"id invalid utf8", OpStatus, func(c *Command) { c.CommandID = "c\xff" }, false},
		{"trace id space", OpStatus, func(c *Command) { c.TraceID = "t 1" }, false},
		{"run id empty", OpStatus, func(c *Command) { c.RunID = "" }, false},
		{"actor at", OpStatus, func(c *Command) { c.Actor = "api@host" }, true},
		{"actor leading at", OpStatus, func(c *Command) { c.Actor = "@api" }, false},
		{"actor 129", OpStatus, func(c *Command) { c.Actor = r("U", 129) }, false},
		{"target global", OpStatus, func(c *Command) { c.Target = "global" }, true},
		{"target group", OpStop, func(c *Command) { c.Target = "group:majors" }, true},
		{"target group empty", OpStop, func(c *Command) { c.Target = "group:" }, false},
		{"target group punct", OpStop, func(c *Command) { c.Target = "group:-x" }, false},
		{"target group 64", OpStop, func(c *Command) { c.Target = "group:" + r("g", 64) }, true},
		{"target group 65", OpStop, func(c *Command) { c.Target = "group:" + r("g", 65) }, false},
		{"target bot 64", OpStop, func(c *Command) { c.Target = r("b", 64) }, true},
		{"target bot 65", OpStop, func(c *Command) { c.Target = r("b", 65) }, false},
		{"target colon", OpStop, func(c *Command) { c.Target = "global:x" }, false},
		{"target empty", OpStop, func(c *Command) { c.Target = "" }, false},
		{"op empty", OpStatus, func(c *Command) { c.Op = "" }, false},
		{"op unknown", OpStatus, func(c *Command) { c.Op = "reboot" }, false},
		{"op case", OpStatus, func(c *Command) { c.Op = "Status" }, false},
		{"transition arrow", OpStart, func(c *Command) { c.RequestedTransition = "IDLE->RUNNING_LIVE" }, true},
		{"transition side 3", OpStart, func(c *Command) { c.RequestedTransition = "IDL->RUNNING_LIVE" }, false},
		{"transition side 16", OpStart, func(c *Command) { c.RequestedTransition = r("A", 16) + "->" + r("_", 16) }, true},
		{"transition side 17", OpStart, func(c *Command) { c.RequestedTransition = "IDLE->" + r("B", 17) }, false},
		{"transition two arrows", OpStart, func(c *Command) { c.RequestedTransition = "IDLE->IDLE->IDLE" }, false},
		{"transition lower arrow", OpStart, func(c *Command) { c.RequestedTransition = "idle->live" }, false},
		{"transition name 3", OpStart, func(c *Command) { c.RequestedTransition = "abc" }, true},
		{"transition name 2", OpStart, func(c *Command) { c.RequestedTransition = "ab" }, false},
		{"transition name 32", OpStart, func(c *Command) { c.RequestedTransition = r("z", 32) }, true},
		{"transition name 33", OpStart, func(c *Command) { c.RequestedTransition = r("z", 33) }, false},
		{"transition digit", OpStart, func(c *Command) { c.RequestedTransition = "start1" }, false},
		{"environment stage", OpStatus, func(c *Command) { c.Environment = "stage" }, true},
		{"environment case", OpStatus, func(c *Command) { c.Environment = "Prod" }, false},
		{"environment empty", OpStatus, func(c *Command) { c.Environment = "" }, false},
		{"reason 500 runes", OpStatus, func(c *Command) { c.Reason = r("é", 500) }, true},
		{"reason 501 runes", OpStatus, func(c *Command) { c.Reason = r("é", 501) }, false},
		{"reason 500 invalid bytes", OpStatus, func(c *Command) { c.Reason = r("\xff", 500) }, true},
		{"reason 501 invalid bytes", OpStatus, func(c *Command) { c.Reason = r("\xff", 501) }, false},
		{"reason 500 with cut rune", OpStatus, func(c *Command) { c.Reason = r("é", 498) + "\xe2\x82" }, true},
		{"reason 501 with cut rune", OpStatus, func(c *Command) { c.Reason = r("é", 499) + "\xe2\x82" }, false},
		{"channel", OpStatus, func(c *Command) { c.Channel = "slack:C0123.x-y_z" }, true},
		{"channel punct only", OpStatus, func(c *Command) { c.Channel = ":" }, true},
		{"channel 64", OpStatus, func(c *Command) { c.Channel = r("c", 64) }, true},
		{"channel 65", OpStatus, func(c *Command) { c.Channel = r("c", 65) }, false},
		{"channel slash", OpStatus, func(c *Command) { c.Channel = "a/b" }, false},
		{"start no mode", OpStart, p(func(x *Params) { x.Mode = "" }), true},
		{"start bad mode", OpStart, p(func(x *Params) { x.Mode = "LIVE" }), false},
		{"start level", OpStart, p(func(x *Params) { x.Level = "halt" }), false},
		{"resume gate", OpResume, p(func(x *Params) { x.Gate = "risk" }), false},
		{"status mode", OpStatus, p(func(x *Params) { x.Mode = lifecycle.Paper }), false},
		{"stop duration", OpStop, p(func(x *Params) { x.Duration = "1h" }), false},
		{"bundle data action", OpBundle, p(func(x *Params) { x.DataAction = "delete" }), false},
		{"apply no config ref", OpApply, p(func(x *Params) { x.ConfigRef = "" }), false},
		{"apply no mode", OpApply, p(func(x *Params) { x.Mode = "" }), true},
		{"apply config ref slash first", OpApply, p(func(x *Params) { x.ConfigRef = "/etc/x" }), false},
		{"apply config ref 128", OpApply, p(func(x *Params) { x.ConfigRef = r("c", 128) }), true},
		{"apply config ref 129", OpApply, p(func(x *Params) { x.ConfigRef = r("c", 129) }), false},
		{"apply level", OpApply, p(func(x *Params) { x.Level = "off" }), false},
		{"killswitch no level", OpKillSwitchSet, p(func(x *Params) { x.Level = "" }), false},
		{"killswitch bad level", OpKillSwitchSet, p(func(x *Params) { x.Level = "on" }), false},
		{"killswitch reduce only", OpKillSwitchRelease, p(func(x *Params) { x.Level = "reduce_only" }), true},
		{"killswitch duration", OpKillSwitchRelease, p(func(x *Params) { x.Duration = "1h" }), false},
		{"gate no duration", OpGateOverride, p(func(x *Params) { x.Duration = "" }), false},
		{"gate no gate", OpGateOverride, p(func(x *Params) { x.Gate = "" }), false},
		{"gate upper", OpGateOverride, p(func(x *Params) { x.Gate = "Risk" }), false},
		{"gate 64", OpGateOverride, p(func(x *Params) { x.Gate = r("g", 64) }), true},
		{"gate 65", OpGateOverride, p(func(x *Params) { x.Gate = r("g", 65) }), false},
		{"gate mode", OpGateOverride, p(func(x *Params) { x.Mode = lifecycle.Live }), false},
		{"monitoring no duration", OpMonitoringDisable, p(func(x *Params) { x.Duration = "" }), false},
		{"monitoring gate", OpMonitoringDisable, p(func(x *Params) { x.Gate = "risk" }), false},
		{"secret no ref", OpSecretRotate, p(func(x *Params) { x.SecretRef = "" }), false},
		{"secret at", OpSecretRotate, p(func(x *Params) { x.SecretRef = "vault:k@v2" }), false},
		{"data no action", OpDataOp, p(func(x *Params) { x.DataAction = "" }), false},
		{"data bad action", OpDataOp, p(func(x *Params) { x.DataAction = "drop" }), false},
		{"data restore", OpDataOp, p(func(x *Params) { x.DataAction = "restore" }), true},
		{"unknown op any params", OpStatus, func(c *Command) { c.Op = "reboot"; c.Params.Gate = "risk" }, false},
	}
	for _, d := range []struct {
		dur string
		ok  bool
	}{
		{"1.5ms", true}, {"10m5s", true}, {"1m", true}, {"1h30m0.25s", true}, {"0s", true}, {"007h", true},
		{"ms", false}, {"1.s", false}, {".5s", false}, {"1", false}, {"1us", false}, {"1ms1", false},
		{"1msm", false}, {"1sms", false}, {"1.5.5s", false}, {"1 h", false}, {"-1h", false}, {"1H", false},
	} {
		dur := d.dur
		edit := p(func(x *Params) { x.Duration = dur })
		cases = append(cases, checkCase{"duration " + dur, OpMonitoringDisable, edit, d.ok})
	}
	for op := range opRules {
		cases = append(cases, checkCase{"valid " + string(op), op, func(*Command) {}, true})
	}
	return cases
}

// TestCheckCommand_Rules checks one accepted or refused command per schema
// rule against the expected verdict and the schema validator's.
func TestCheckCommand_Rules(t *testing.T) {
	t.Parallel()
	v := newSchemaValidator(t)
	for _, tc := range checkCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := validCommand(tc.op)
			tc.edit(&cmd)
			got, schema := checkCommand(&cmd), schemaCheck(t, v, &cmd)
			if (got == nil) != tc.ok || (schema == nil) != tc.ok {
				t.Fatalf("want ok=%v; checkCommand: %v; schema: %v", tc.ok, got, schema)
			}
			if got != nil && !strings.HasPrefix(got.Error(), "at /") {
				t.Fatalf("checkCommand's message does not name the field: %v", got)
			}
		})
	}
}

// TestValidateCommand_SchemaMessage checks that a refused command still
// gets the schema's detailed message, wrapped in ErrInvalidCommand.
func TestValidateCommand_SchemaMessage(t *testing.T) {
	t.Parallel()
	v, err := newValidator()
	if err != nil {
		t.Fatal(err)
	}
	cmd := validCommand(OpStart)
	cmd.Params.Mode = "LIVE"
	cmd.Params.Gate = "risk"
	err = v.validateCommand(&cmd)
	if !errors.Is(err, ErrInvalidCommand) {
		t.Fatalf("want ErrInvalidCommand, got %v", err)
	}
	for _, want := range []string{"does not satisfy its contract", "at /params/mode: value must be one of"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("message lacks %q: %v", want, err)
		}
	}
	ok := validCommand(OpStart)
	if err := v.validateCommand(&ok); err != nil {
		t.Fatalf("valid start refused: %v", err)
	}
}

// TestValidator_ExplainFailsClosed checks that a command checkCommand
// refused stays refused, with checkCommand's message, should the schema
// accept it.
func TestValidator_ExplainFailsClosed(t *testing.T) {
	t.Parallel()
	v, err := newValidator()
	if err != nil {
		t.Fatal(err)
	}
	cmd := validCommand(OpStatus) // the schema accepts it
	refusal := fieldError("op", "refused for the test")
	if err := v.explain(&cmd, refusal); !errors.Is(err, refusal) {
		t.Fatalf("want the refusal back, got %v", err)
	}
}

// TestCheckCommand_NoAllocs checks that accepting a command allocates
// nothing: it runs on every command the API takes.
func TestCheckCommand_NoAllocs(t *testing.T) {
	cmd := validCommand(OpGateOverride)
	cmd.Reason, cmd.Channel, cmd.Target = "override for the incident", "slack:C0123", "group:majors"
	if n := testing.AllocsPerRun(100, func() {
		if err := checkCommand(&cmd); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("checkCommand allocates %v times per call", n)
	}
}

// oldValidateCommand is validateCommand as it was before checkCommand:
// every command marshalled and run through the schema.
func oldValidateCommand(v *validator, cmd *Command) error {
	b, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	if err := v.v.Validate(contracts.Command, b); err != nil {
		return err
	}
	if d := cmd.Params.Duration; d != "" {
		if x, err := time.ParseDuration(d); err != nil || x <= 0 {
			return fmt.Errorf("params.duration %q is not a positive duration", d)
		}
	}
	return checkTransitionShape(cmd)
}

// BenchmarkValidateCommand compares validating a typical start command
// the old way (marshal + schema) and the new (checkCommand).
func BenchmarkValidateCommand(b *testing.B) {
	v, err := newValidator()
	if err != nil {
		b.Fatal(err)
	}
	cmd := validCommand(OpStart)
	cmd.RequestedTransition, cmd.Reason, cmd.Channel = "IDLE->RUNNING_LIVE", "deploy v12 after review", "slack:C0123ABC"
	for _, bc := range []struct {
		name  string
		check func(*validator, *Command) error
	}{
		{"old=marshal+schema", oldValidateCommand},
		{"new=checkCommand", (*validator).validateCommand},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.check(v, &cmd); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
