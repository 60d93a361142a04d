package core

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/botwarden/botwarden/docs/contracts"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// fuzzFields are a command's string fields in FuzzCheckCommand's argument
// order: the 11 command strings, then the 7 params.
type fuzzFields [18]string

// fuzzFieldNames are the JSON locations of the fuzzFields.
var fuzzFieldNames = fuzzFields{"schema_version", "command_id", "actor", "target", "op", "requested_transition",
	"environment", "trace_id", "run_id", "reason", "channel", "params.mode", "params.config_ref", "params.level",
	"params.gate", "params.duration", "params.secret_ref", "params.data_action"}

// fields returns c's string fields.
func fields(c *Command) fuzzFields {
	p := &c.Params
	return fuzzFields{c.SchemaVersion, c.CommandID, c.Actor, c.Target, string(c.Op), c.RequestedTransition,
		c.Environment, c.TraceID, c.RunID, c.Reason, c.Channel,
		string(p.Mode), p.ConfigRef, p.Level, p.Gate, p.Duration, p.SecretRef, p.DataAction}
}

// command builds the command with fields f.
func (f *fuzzFields) command() Command {
	return Command{SchemaVersion: f[0], CommandID: f[1], Actor: f[2], Target: f[3], Op: Op(f[4]),
		RequestedTransition: f[5], Environment: f[6], TraceID: f[7], RunID: f[8], Reason: f[9], Channel: f[10],
		Params: Params{Mode: lifecycle.Mode(f[11]), ConfigRef: f[12], Level: f[13], Gate: f[14], Duration: f[15],
			SecretRef: f[16], DataAction: f[17]}}
}

// fuzzPicks lists, per field, values on both sides of the schema's rules.
// Random bytes almost never spell an op, an enum value or a boundary
// length, so FuzzCheckCommand's selector draws fields from here.
func fuzzPicks() [18][]string {
	r := strings.Repeat
	ids := []string{"c1", "a", r("a", 128), r("a", 129), "", "-c", "c 1", "cé", "c\xff", "c.1_2:3-4", "c@1", "c/1"}
	var ops []string
	for _, op := range sortedOps() {
		ops = append(ops, string(op))
	}
	return [18][]string{
		{"1.0", "1.1", "", "1.0 ", "1"},
		ids,
		append([]string{"api@host", "@x", r("U", 128) + "@"}, ids...),
		{"alpha", "global", "group:majors", "group:", "group:-x", "group:" + r("g", 64), "group:" + r("g", 65),
			r("b", 64), r("b", 65), "global:x", "", "Global", "group:a:b", "group:global", "a/b"},
		append(ops, "", "reboot", "Start", "start "),
		{"IDLE->RUNNING_LIVE", "start", "stop", "ab", "abc", "IDL->RUNNING", r("A", 16) + "->" + r("_", 16),
			r("A", 17) + "->IDLE", "a->b", "IDLE->IDLE->IDLE", r("z", 32), r("z", 33), "start1", "", "IDLE->"},
		{"dev", "stage", "prod", "", "Dev", "dev "},
		ids,
		ids,
		{"", "why", r("é", 500), r("é", 501), r("\xff", 500), r("\xff", 501), r("a", 501), r("é", 499) + "\xff\xff"},
		{"", "slack", ":", r("c", 64), r("c", 65), "a b", "a/b", "é"},
		{"", "paper", "shadow", "live", "LIVE", "paper "},
		{"", "git:configs/alpha@v12", "/x", r("c", 128), r("c", 129), "a b"},
		{"", "off", "reduce_only", "halt", "on"},
		{"", "risk_limits", "Risk", "-x", r("g", 64), r("g", 65), "a.b-c_d"},
		{"", "1h", "1.5ms", "10m5s", "1m", "ms", "1.s", "1", ".5s", "1h1", "1us", "0s", "1ms1", "1msm", "1sms", "1.5.5s",
			"2h45m0.5s", "100ms", "1mss", "1m1s1ms", "1e3s"},
		{"", "vault:trading/alpha/api_key", "vault:k@v2", "/k", r("k", 128), r("k", 129)},
		{"", "delete", "restore", "compact", "drop"},
	}
}

// sortedOps lists the schema's ops in a stable order.
func sortedOps() []Op {
	return slices.Sorted(maps.Keys(opRules))
}

// fuzzCommand builds FuzzCheckCommand's command. An empty sel takes every
// field from raw. Otherwise sel[0] picks the op whose valid command is
// the base, and each following pair (field, value) replaces that field
// (modulo 18) by raw[field] when value is 0, else by picks[field][value-1]
// (modulo its length). So one byte edit of sel moves a valid command of
// any op one field away, often to the edge of a rule.
func fuzzCommand(sel []byte, raw *fuzzFields, picks *[18][]string, ops []Op) Command {
	if len(sel) == 0 {
		return raw.command()
	}
	base := validCommand(ops[int(sel[0])%len(ops)])
	f := fields(&base)
	for k := 1; k+1 < len(sel); k += 2 {
		i := int(sel[k]) % len(f)
		if v := sel[k+1]; v == 0 {
			f[i] = raw[i]
		} else {
			f[i] = picks[i][int(v-1)%len(picks[i])]
		}
	}
	return f.command()
}

// addSeed adds sel and c's fields to f's seed corpus.
func addSeed(f *testing.F, sel []byte, c Command) {
	x := fields(&c)
	f.Add(sel, x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8], x[9], x[10], x[11], x[12],
		x[13], x[14], x[15], x[16], x[17])
}

// FuzzCheckCommand fails when checkCommand and the schema validator
// disagree on a command built from fuzzed string fields, or from a valid
// command with fields swapped for fuzzed strings or fuzzPicks (the
// selector sel, see fuzzCommand).
func FuzzCheckCommand(f *testing.F) {
	ops := sortedOps()
	for i, op := range ops {
		addSeed(f, nil, validCommand(op))
		bad := validCommand(op)
		bad.Params.Gate, bad.Params.Duration = "Risk", "1.s"
		addSeed(f, nil, bad)
		none := validCommand(op)
		none.Params = Params{}
		addSeed(f, nil, none)
		// The base for op with the duration, then the gate, from raw.
		addSeed(f, []byte{byte(i), 15, 0, 14, 0}, bad)
	}
	v := newSchemaValidator(f)
	picks := fuzzPicks()
	f.Fuzz(func(t *testing.T, sel []byte, version, id, actor, target, op, transition, env, trace, run,
		reason, channel, mode, configRef, level, gate, duration, secretRef, dataAction string) {
		raw := fuzzFields{version, id, actor, target, op, transition, env, trace, run, reason, channel,
			mode, configRef, level, gate, duration, secretRef, dataAction}
		assertSameVerdict(t, v, fuzzCommand(sel, &raw, &picks, ops))
	})
}

// assertSameVerdict fails t unless checkCommand and the schema agree on
// cmd.
func assertSameVerdict(t testing.TB, v *contracts.Validator, cmd Command) {
	t.Helper()
	got, schema := checkCommand(&cmd), schemaCheck(t, v, &cmd)
	if (got == nil) != (schema == nil) {
		b, _ := json.Marshal(&cmd)
		t.Fatalf("checkCommand: %v; schema: %v\n%s", got, schema, b)
	}
}

// TestCheckCommand_PicksAgainstSchema compares checkCommand with the
// schema on each op's valid command with one field swapped for each of
// its fuzzPicks, then with two params swapped at once. It sweeps what a
// fuzzer would only find by luck: every value at every rule's edge.
func TestCheckCommand_PicksAgainstSchema(t *testing.T) {
	t.Parallel()
	v := newSchemaValidator(t)
	picks := fuzzPicks()
	for _, op := range sortedOps() {
		t.Run(string(op), func(t *testing.T) {
			t.Parallel()
			valid := validCommand(op)
			base := fields(&valid)
			for i := range base {
				for _, x := range picks[i] {
					f := base
					f[i] = x
					assertSameVerdict(t, v, f.command())
				}
			}
			const firstParam = 11
			for i := firstParam; i < len(base); i++ {
				for j := i + 1; j < len(base); j++ {
					for _, x := range picks[i] {
						for _, y := range picks[j] {
							f := base
							f[i], f[j] = x, y
							assertSameVerdict(t, v, f.command())
						}
					}
				}
			}
		})
	}
}

// TestCheckCommand_BytesAgainstSchema compares checkCommand with the
// schema on a valid command with one field edited by every byte, and a
// few multi-byte runes, put before, inside, after or instead of its
// value: the character classes of every pattern, exhaustively.
func TestCheckCommand_BytesAgainstSchema(t *testing.T) {
	t.Parallel()
	v := newSchemaValidator(t)
	chars := []string{"é", "\u00a0", "\u212a", "\u2028", "\ufffd", "\U0001F600"}
	for b := range 256 {
		chars = append(chars, string([]byte{byte(b)}))
	}
	// Valid values of other shapes than validCommand's, to edit too.
	moreBases := map[string][]string{
		"target":               {"global", "group:majors"},
		"requested_transition": {"IDLE->RUNNING_LIVE"},
		"params.duration":      {"1.5ms", "2h45m0.5s"},
	}
	// The op under which each params field (11 on) is allowed.
	paramOps := []Op{OpStart, OpApply, OpKillSwitchSet, OpGateOverride, OpMonitoringDisable, OpSecretRotate, OpDataOp}
	for i := range len(fuzzFields{}) {
		t.Run(fuzzFieldNames[i], func(t *testing.T) {
			t.Parallel()
			cmd := validCommand(OpStatus)
			if i >= 11 {
				cmd = validCommand(paramOps[i-11])
			}
			cmd.Reason, cmd.Channel = "why", "slack:C1"
			base := fields(&cmd)
			for _, val := range append([]string{base[i]}, moreBases[fuzzFieldNames[i]]...) {
				for _, c := range chars {
					for _, edited := range []string{c + val, val[:len(val)/2] + c + val[len(val)/2:], val + c, c} {
						f := base
						f[i] = edited
						assertSameVerdict(t, v, f.command())
					}
				}
			}
		})
	}
}
