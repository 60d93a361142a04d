package core

// Why this file exists: docs/contracts/command.schema.json is the contract
// for commands, and the contracts package's validator is its reference
// implementation. Running that validator on every command (json.Marshal,
// decode, walk the compiled schema) cost about a fifth of the API server's
// CPU, so checkCommand is a compiled equivalent of the schema for the hot
// path: it accepts exactly the commands whose json.Marshal the schema
// accepts. validateCommand still asks the schema to explain a rejection.
//
// Tests keep the equivalence (commandcheck*_test.go): FuzzCheckCommand
// compares the two verdicts on fuzzed commands; the PicksAgainstSchema
// and BytesAgainstSchema sweeps compare them on every rule's edge values
// and every byte in every field; TestCheckCommand_MatchesSchemaDoc reads
// the schema's enums, patterns and op rules and compares them with the
// tables below. A change to command.schema.json must change this file in
// the same commit; those tests fail until it does.

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/botwarden/botwarden/internal/lifecycle"
)

// namePattern is a pattern of the form ^[FIRST][REST]{0,rest}$ where FIRST
// is an ASCII letter or digit and REST adds the punctuation in punct. The
// classes are ASCII-only, so a byte at or above 0x80 never matches and
// byte length equals character length for every string that can match.
type namePattern struct {
	lower bool   // letters are a-z only
	punct string // punctuation allowed after the first character
	rest  int    // most characters after the first
}

// The name patterns of the schema (constant tables).
var (
	idName        = namePattern{punct: "._:-", rest: 127}            // $defs.id
	actorName     = namePattern{punct: "._:@-", rest: 127}           // $defs.actor
	botName       = namePattern{punct: "._-", rest: 63}              // $defs.target, bot id and group NAME
	configRefName = namePattern{punct: "._:/@-", rest: 127}          // params.config_ref
	gateName      = namePattern{lower: true, punct: "_.-", rest: 63} // params.gate
	secretRefName = namePattern{punct: "._:/-", rest: 127}           // params.secret_ref
)

// The enums of the schema (constant tables).
var (
	environments = []string{"dev", "stage", "prod"}
	modes        = []lifecycle.Mode{lifecycle.Paper, lifecycle.Shadow, lifecycle.Live}
	levels       = []Level{LevelOff, LevelReduceOnly, LevelHalt}
	dataActions  = []string{"delete", "restore", "compact"}
)

// Limits of the schema's free-text and channel fields.
const (
	maxReason  = 500 // reason maxLength, in code points
	maxChannel = 64  // channel ^[A-Za-z0-9._:-]{1,64}$
)

// paramSet is a set of Params fields, one bit each.
type paramSet uint8

// The Params fields, in paramNames order.
const (
	paramMode paramSet = 1 << iota
	paramConfigRef
	paramLevel
	paramGate
	paramDuration
	paramSecretRef
	paramDataAction
)

// paramNames are the JSON names of the paramSet bits, lowest bit first.
var paramNames = [...]string{"mode", "config_ref", "level", "gate", "duration", "secret_ref", "data_action"}

// opRule is what the schema's allOf if/then says about one op's params.
type opRule struct {
	allowed  paramSet // params the op may set (propertyNames)
	required paramSet // params the op must set (required)
}

// opRules holds one rule per op of the schema's op enum (constant table):
// an op is valid exactly when it has a rule here.
var opRules = map[Op]opRule{
	OpStatus:            {},
	OpStart:             {allowed: paramMode},
	OpStop:              {},
	OpPause:             {},
	OpResume:            {allowed: paramMode},
	OpApply:             {allowed: paramMode | paramConfigRef, required: paramConfigRef},
	OpQuarantine:        {},
	OpRelease:           {},
	OpKillSwitchSet:     {allowed: paramLevel, required: paramLevel},
	OpKillSwitchRelease: {allowed: paramLevel, required: paramLevel},
	OpGateOverride:      {allowed: paramGate | paramDuration, required: paramGate | paramDuration},
	OpMonitoringDisable: {allowed: paramDuration, required: paramDuration},
	OpSecretRotate:      {allowed: paramSecretRef, required: paramSecretRef},
	OpDataOp:            {allowed: paramDataAction, required: paramDataAction},
	OpBundle:            {},
}

// checkCommand returns nil exactly when command.schema.json accepts
// json.Marshal(cmd); otherwise an error naming the first field at fault
// ("at /params/mode: ..."). It does not allocate on success.
func checkCommand(cmd *Command) error {
	if err := checkIDs(cmd); err != nil {
		return err
	}
	if err := checkRequest(cmd); err != nil {
		return err
	}
	if err := checkParams(&cmd.Params); err != nil {
		return err
	}
	return checkOpParams(cmd.Op, &cmd.Params)
}

// checkIDs checks the version and the identifying fields.
func checkIDs(cmd *Command) error {
	if cmd.SchemaVersion != SchemaVersion {
		return fieldError("schema_version", "%q is not %q", cmd.SchemaVersion, SchemaVersion)
	}
	if err := idName.check("command_id", cmd.CommandID); err != nil {
		return err
	}
	if err := actorName.check("actor", cmd.Actor); err != nil {
		return err
	}
	if err := idName.check("trace_id", cmd.TraceID); err != nil {
		return err
	}
	return idName.check("run_id", cmd.RunID)
}

// checkRequest checks what is asked, where and why. reason and channel are
// omitted from the JSON when empty, so only a non-empty one is checked.
func checkRequest(cmd *Command) error {
	if !targetMatch(cmd.Target) {
		return fieldError("target", "%q is not a bot id, group:NAME or global", cmd.Target)
	}
	if _, ok := opRules[cmd.Op]; !ok {
		return fieldError("op", "%q is not a known op", cmd.Op)
	}
	if !transitionMatch(cmd.RequestedTransition) {
		return fieldError("requested_transition", "%q is neither FROM->TO (A-Z_, 4-16 each) nor an op name (a-z_, 3-32)",
			cmd.RequestedTransition)
	}
	if !slices.Contains(environments, cmd.Environment) {
		return fieldError("environment", "%q is not one of %q", cmd.Environment, environments)
	}
	if n := utf8.RuneCountInString(cmd.Reason); n > maxReason {
		return fieldError("reason", "%d characters, at most %d allowed", n, maxReason)
	}
	if cmd.Channel != "" && !channelMatch(cmd.Channel) {
		return fieldError("channel", "%q is not 1-%d of A-Za-z0-9._:-", cmd.Channel, maxChannel)
	}
	return nil
}

// checkParams checks each set param's value, whatever the op.
func checkParams(p *Params) error {
	if p.Mode != "" && !slices.Contains(modes, p.Mode) {
		return fieldError("params/mode", "%q is not one of %q", p.Mode, modes)
	}
	if err := configRefName.checkParam("params/config_ref", p.ConfigRef); err != nil {
		return err
	}
	if p.Level != "" && !slices.Contains(levels, Level(p.Level)) {
		return fieldError("params/level", "%q is not one of %q", p.Level, levels)
	}
	if err := gateName.checkParam("params/gate", p.Gate); err != nil {
		return err
	}
	if p.Duration != "" && !durationMatch(p.Duration) {
		return fieldError("params/duration", "%q is not a sequence of NUMBER[.DIGITS](ms|s|m|h)", p.Duration)
	}
	if err := secretRefName.checkParam("params/secret_ref", p.SecretRef); err != nil {
		return err
	}
	if p.DataAction != "" && !slices.Contains(dataActions, p.DataAction) {
		return fieldError("params/data_action", "%q is not one of %q", p.DataAction, dataActions)
	}
	return nil
}

// checkOpParams checks the schema's allOf rules: which params op allows
// and which it requires. op must be a known op.
func checkOpParams(op Op, p *Params) error {
	rule := opRules[op]
	set := paramsSet(p)
	if extra := set &^ rule.allowed; extra != 0 {
		return fieldError("params", "op %s does not take %s", op, extra)
	}
	if missing := rule.required &^ set; missing != 0 {
		return fieldError("params", "op %s requires %s", op, missing)
	}
	return nil
}

// paramsSet returns the params that are present in p's JSON (non-empty:
// every Params field is omitempty).
func paramsSet(p *Params) paramSet {
	var s paramSet
	for i, v := range [...]string{string(p.Mode), p.ConfigRef, p.Level, p.Gate, p.Duration, p.SecretRef, p.DataAction} {
		if v != "" {
			s |= 1 << i
		}
	}
	return s
}

// String lists the set's JSON names, comma-separated.
func (s paramSet) String() string {
	var names []string
	for i, n := range paramNames {
		if s&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}

// fieldError is a check failure at a JSON location, in the contracts
// package's form ("at /params/mode: ...").
func fieldError(path, format string, args ...any) error {
	return fmt.Errorf("at /%s: %s", path, fmt.Sprintf(format, args...))
}

// check returns an error at path unless s matches p.
func (p namePattern) check(path, s string) error {
	if p.match(s) {
		return nil
	}
	letters := "A-Za-z"
	if p.lower {
		letters = "a-z"
	}
	return fieldError(path, "%q is not a letter or digit followed by at most %d of %s0-9%s",
		s, p.rest, letters, p.punct)
}

// checkParam is check for an omitempty param: empty means absent.
func (p namePattern) checkParam(path, s string) error {
	if s == "" {
		return nil
	}
	return p.check(path, s)
}

// match reports whether s matches the pattern.
func (p namePattern) match(s string) bool {
	if len(s) == 0 || len(s) > 1+p.rest || !p.alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !p.alnum(s[i]) && strings.IndexByte(p.punct, s[i]) < 0 {
			return false
		}
	}
	return true
}

// alnum reports whether c is an ASCII digit or a letter the pattern allows.
func (p namePattern) alnum(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'z') || (!p.lower && 'A' <= c && c <= 'Z')
}

// targetMatch reports whether s matches $defs.target:
// ^(global|group:BOT|BOT)$ with BOT the bot id pattern.
func targetMatch(s string) bool {
	if s == "global" {
		return true
	}
	if name, ok := strings.CutPrefix(s, "group:"); ok {
		return botName.match(name)
	}
	return botName.match(s)
}

// transitionMatch reports whether s matches requested_transition:
// ^(([A-Z_]{4,16}->[A-Z_]{4,16})|[a-z_]{3,32})$. Neither class holds '-'
// or '>', so the first "->" is the only place the string can split.
func transitionMatch(s string) bool {
	if from, to, ok := strings.Cut(s, "->"); ok {
		return runOf(from, 4, 16, isUpperOrUnderscore) && runOf(to, 4, 16, isUpperOrUnderscore)
	}
	return runOf(s, 3, 32, isLowerOrUnderscore)
}

// channelMatch reports whether s matches channel: ^[A-Za-z0-9._:-]{1,64}$.
func channelMatch(s string) bool {
	return runOf(s, 1, maxChannel, func(c byte) bool {
		return isDigit(c) || isLetter(c) || strings.IndexByte("._:-", c) >= 0
	})
}

// durationMatch reports whether s matches params.duration:
// ^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$. After an 'm', an 's' always belongs to
// "ms": no segment starts with 's'.
func durationMatch(s string) bool {
	i := 0
	for {
		j := skipDigits(s, i)
		if j == i {
			return false
		}
		if j < len(s) && s[j] == '.' {
			k := skipDigits(s, j+1)
			if k == j+1 {
				return false
			}
			j = k
		}
		if j == len(s) {
			return false
		}
		switch s[j] {
		case 'h', 's':
			j++
		case 'm':
			j++
			if j < len(s) && s[j] == 's' {
				j++
			}
		default:
			return false
		}
		if j == len(s) {
			return true
		}
		i = j
	}
}

// skipDigits returns the index of the first non-digit in s at or after i.
func skipDigits(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// runOf reports whether s is lo to hi bytes, each satisfying ok. The
// classes it is used with are ASCII, so bytes count characters.
func runOf(s string, lo, hi int, ok func(byte) bool) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// isDigit reports whether c is an ASCII digit.
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isLetter reports whether c is an ASCII letter.
func isLetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

// isUpperOrUnderscore reports whether c is in [A-Z_].
func isUpperOrUnderscore(c byte) bool { return ('A' <= c && c <= 'Z') || c == '_' }

// isLowerOrUnderscore reports whether c is in [a-z_].
func isLowerOrUnderscore(c byte) bool { return ('a' <= c && c <= 'z') || c == '_' }
