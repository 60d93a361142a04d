package core

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/botwarden/botwarden/docs/contracts"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// schemaNode is the part of a JSON Schema node the checks below read.
type schemaNode struct {
	Const      *string               `json:"const"`
	Enum       []string              `json:"enum"`
	Pattern    string                `json:"pattern"`
	MaxLength  int                   `json:"maxLength"`
	Properties map[string]schemaNode `json:"properties"`
}

// commandSchema is command.schema.json as far as checkCommand mirrors it.
type commandSchema struct {
	Properties map[string]schemaNode `json:"properties"`
	AllOf      json.RawMessage       `json:"allOf"`
	Defs       map[string]schemaNode `json:"$defs"`
}

// opParamsRule is one allOf entry. It is decoded strictly, so a keyword
// added to a rule is reported instead of ignored.
type opParamsRule struct {
	If struct {
		Properties struct {
			Op struct {
				Const *string  `json:"const"`
				Enum  []string `json:"enum"`
			} `json:"op"`
		} `json:"properties"`
	} `json:"if"`
	Then struct {
		Properties struct {
			Params struct {
				Required      []string `json:"required"`
				PropertyNames *struct {
					Enum []string `json:"enum"`
				} `json:"propertyNames"`
				MaxProperties *int `json:"maxProperties"`
			} `json:"params"`
		} `json:"properties"`
	} `json:"then"`
}

// implementedPatterns are the patterns checkCommand implements, by where
// they sit in the schema ($defs name, property, or params/property).
var implementedPatterns = map[string]string{
	"id":                   `^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`,
	"actor":                `^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`,
	"target":               `^(global|group:[A-Za-z0-9][A-Za-z0-9._-]{0,63}|[A-Za-z0-9][A-Za-z0-9._-]{0,63})$`,
	"requested_transition": `^(([A-Z_]{4,16}->[A-Z_]{4,16})|[a-z_]{3,32})$`,
	"channel":              `^[A-Za-z0-9._:-]{1,64}$`,
	"params/config_ref":    `^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$`,
	"params/gate":          `^[a-z0-9][a-z0-9_.-]{0,63}$`,
	"params/duration":      `^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`,
	"params/secret_ref":    `^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$`,
}

// schemaMismatches lists where the command schema raw says something
// checkCommand's tables do not: enums, const, limits, patterns, op rules.
func schemaMismatches(raw []byte) ([]string, error) {
	var doc commandSchema
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse command schema: %w", err)
	}
	var rules []opParamsRule
	dec := json.NewDecoder(strings.NewReader(string(doc.AllOf)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rules); err != nil {
		return nil, fmt.Errorf("parse allOf (a new keyword needs checkCommand updated): %w", err)
	}
	diffs := enumMismatches(&doc)
	diffs = append(diffs, patternMismatches(&doc)...)
	ruleDiffs, err := opRuleMismatches(doc.Defs["op"].Enum, rules)
	return append(diffs, ruleDiffs...), err
}

// enumMismatches compares the enums, the const and reason's limit.
func enumMismatches(doc *commandSchema) []string {
	var diffs []string
	params := doc.Defs["params"].Properties
	for name, eq := range map[string]bool{
		"op":          sameSet(doc.Defs["op"].Enum, slices.Collect(maps.Keys(opRules))),
		"environment": sameSet(doc.Defs["environment"].Enum, environments),
		"mode":        sameSet(doc.Defs["mode"].Enum, modes),
		"level":       sameSet(doc.Defs["level"].Enum, levels),
		"data_action": sameSet(params["data_action"].Enum, dataActions),
		"params":      sameSet(slices.Collect(maps.Keys(params)), paramNames[:]),
	} {
		if !eq {
			diffs = append(diffs, "enum "+name+" differs from checkCommand's table")
		}
	}
	if c := doc.Properties["schema_version"].Const; c == nil || *c != SchemaVersion {
		diffs = append(diffs, fmt.Sprintf("schema_version const is not %q", SchemaVersion))
	}
	if n := doc.Properties["reason"].MaxLength; n != maxReason {
		diffs = append(diffs, fmt.Sprintf("reason maxLength is %d, checkCommand allows %d", n, maxReason))
	}
	return diffs
}

// patternMismatches compares the schema's patterns with implementedPatterns.
func patternMismatches(doc *commandSchema) []string {
	var diffs []string
	for where, want := range implementedPatterns {
		got := doc.Properties[where].Pattern
		if d, ok := doc.Defs[where]; ok {
			got = d.Pattern
		}
		if p, ok := strings.CutPrefix(where, "params/"); ok {
			got = doc.Defs["params"].Properties[p].Pattern
		}
		if got != want {
			diffs = append(diffs, fmt.Sprintf("pattern of %s is %q, checkCommand implements %q", where, got, want))
		}
	}
	return diffs
}

// opRuleMismatches compares opRules with what the allOf if/then rules
// say about each op of the enum.
func opRuleMismatches(ops []string, rules []opParamsRule) ([]string, error) {
	var diffs []string
	for _, op := range ops {
		want := opRule{allowed: 1<<len(paramNames) - 1} // an op outside every if may set anything
		for _, r := range rules {
			on := r.If.Properties.Op
			if !slices.Contains(on.Enum, op) && (on.Const == nil || *on.Const != op) {
				continue
			}
			p := r.Then.Properties.Params
			req, err := paramSetOf(p.Required)
			if err != nil {
				return nil, err
			}
			want.required |= req
			if p.PropertyNames != nil {
				names, err := paramSetOf(p.PropertyNames.Enum)
				if err != nil {
					return nil, err
				}
				want.allowed &= names
			}
			if p.MaxProperties != nil && *p.MaxProperties == 0 {
				want.allowed = 0
			}
		}
		if got := opRules[Op(op)]; got != want {
			diffs = append(diffs, fmt.Sprintf("op %s: checkCommand allows [%s] requires [%s]; schema allows [%s] requires [%s]",
				op, got.allowed, got.required, want.allowed, want.required))
		}
	}
	return diffs, nil
}

// paramSetOf returns the set of the named params.
func paramSetOf(names []string) (paramSet, error) {
	var s paramSet
	for _, n := range names {
		i := slices.Index(paramNames[:], n)
		if i < 0 {
			return 0, fmt.Errorf("allOf names unknown param %q", n)
		}
		s |= 1 << i
	}
	return s, nil
}

// sameSet reports whether a and b hold the same strings.
func sameSet[T ~string](a []string, b []T) bool {
	y := make([]string, 0, len(b))
	for _, s := range b {
		y = append(y, string(s))
	}
	slices.Sort(y)
	return slices.Equal(slices.Sorted(slices.Values(a)), y)
}

// TestCheckCommand_MatchesSchemaDoc reads docs/contracts/command.schema.json
// and checks that checkCommand's tables are its enums, patterns and op
// rules, so a schema change fails here until commandcheck.go follows it.
func TestCheckCommand_MatchesSchemaDoc(t *testing.T) {
	t.Parallel()
	raw, err := contracts.Source(contracts.Command)
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := schemaMismatches(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
}

// TestCheckCommand_AcceptsSchemaEnums checks, by calling checkCommand,
// that it accepts every value of every enum in the schema.
func TestCheckCommand_AcceptsSchemaEnums(t *testing.T) {
	t.Parallel()
	raw, err := contracts.Source(contracts.Command)
	if err != nil {
		t.Fatal(err)
	}
	var doc commandSchema
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	try := func(name, value string, edit func(*Command)) {
		c := validCommand(OpStatus)
		edit(&c)
		if err := checkCommand(&c); err != nil {
			t.Errorf("%s %q refused: %v", name, value, err)
		}
	}
	for _, op := range doc.Defs["op"].Enum {
		try("op", op, func(c *Command) { *c = validCommand(Op(op)) })
	}
	for _, env := range doc.Defs["environment"].Enum {
		try("environment", env, func(c *Command) { c.Environment = env })
	}
	for _, m := range doc.Defs["mode"].Enum {
		try("mode", m, func(c *Command) { *c = validCommand(OpStart); c.Params.Mode = lifecycle.Mode(m) })
	}
	for _, l := range doc.Defs["level"].Enum {
		try("level", l, func(c *Command) { *c = validCommand(OpKillSwitchSet); c.Params.Level = l })
	}
	for _, a := range doc.Defs["params"].Properties["data_action"].Enum {
		try("data_action", a, func(c *Command) { *c = validCommand(OpDataOp); c.Params.DataAction = a })
	}
}

// TestSchemaMismatches_SeesChanges checks that schemaMismatches reports
// the schema changes checkCommand would have to follow.
func TestSchemaMismatches_SeesChanges(t *testing.T) {
	t.Parallel()
	raw, err := contracts.Source(contracts.Command)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, old, new string }{
		{"new op", `"data_op", "support_bundle"]`, `"data_op", "support_bundle", "reboot"]`},
		{"new environment", `["dev", "stage", "prod"]`, `["dev", "stage", "prod", "qa"]`},
		{"new mode", `["paper", "shadow", "live"]`, `["paper", "live"]`},
		{"new data action", `"compact"]`, `"compact", "purge"]`},
		{"new version", `{"const": "1.0"}`, `{"const": "1.1"}`},
		{"reason limit", `"maxLength": 500`, `"maxLength": 400`},
		{"gate pattern", `[a-z0-9_.-]{0,63}`, `[a-z0-9_.-]{0,31}`},
		{"duration pattern", `(ms|s|m|h)`, `(us|ms|s|m|h)`},
		{"transition pattern", `[a-z_]{3,32}`, `[a-z_]{3,40}`},
		{"rule requires mode", `"required": ["config_ref"]`, `"required": ["config_ref", "mode"]`},
		{"rule allows more", `"propertyNames": {"enum": ["duration"]}`, `"propertyNames": {"enum": ["duration", "gate"]}`},
		{"rule new keyword", `{"maxProperties": 0}`, `{"maxProperties": 0, "minProperties": 0}`},
		{"op leaves a rule", `"pause", "quarantine", "quarantine_release"`, `"quarantine", "quarantine_release"`},
		{"new param", `"data_action": {"enum"`, `"note": {"type": "string"}, "data_action": {"enum"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(string(raw), tc.old) {
				t.Fatalf("schema has no %q to change", tc.old)
			}
			diffs, err := schemaMismatches([]byte(strings.Replace(string(raw), tc.old, tc.new, 1)))
			if err == nil && len(diffs) == 0 {
				t.Fatal("change not reported")
			}
		})
	}
}
