package chatops

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// Request is one parsed slash command. Verbs that map to a core operation
// set Op; the rest (help, status, challenges, audit …) are answered by the
// adapter from the core's read-only views or the ledger.
type Request struct {
	Verb     string      // canonical verb, e.g. "start", "killswitch set", "audit head"
	Op       core.Op     // core operation, "" for adapter-only verbs
	Target   string      // bot id, "group:NAME", "global" or "" (none given)
	Params   core.Params // operation arguments
	Reason   string      // --reason
	ID       string      // --id: caller-chosen command_id
	From, To uint64      // audit export range (--from, --to)
}

// verb is one entry of the grammar: its name, what it maps to, its
// positional arguments and flags, and how to build the Request.
type verb struct {
	name    string
	op      core.Op
	args    string // usage of positional arguments
	flags   []string
	summary string
	build   func(r *Request, args []string, f map[string]string) error
}

// opFlags are accepted by every verb that maps to a core operation.
var opFlags = []string{"reason", "id"}

// verbs is the grammar (documented in docs/slack.md). Order is help order.
var verbs = []verb{
	{name: "help", summary: "what you may run here", build: noArgs},
	{name: "status", op: core.OpStatus, args: "[BOT]", summary: "fleet, safety, gates and kill-switch", build: optTarget},
	{name: "challenges", summary: "open challenges you can act on", build: noArgs},
	{name: "start", op: core.OpStart, args: "BOT --mode paper|shadow|live", flags: []string{"mode"}, summary: "start a bot in an explicit mode", build: withMode(true)},
	{name: "stop", op: core.OpStop, args: "BOT", summary: "stop a bot gracefully", build: oneTarget},
	{name: "pause", op: core.OpPause, args: "BOT", summary: "pause a running bot", build: oneTarget},
	{name: "resume", op: core.OpResume, args: "BOT --mode paper|shadow|live", flags: []string{"mode"}, summary: "resume a paused bot in an explicit mode", build: withMode(true)},
	{name: "apply", op: core.OpApply, args: "BOT CONFIG_REF [--mode MODE]", flags: []string{"mode"}, summary: "apply a strategy config", build: buildApply},
	{name: "quarantine", op: core.OpQuarantine, args: "BOT", summary: "isolate a bot (no automatic recovery)", build: oneTarget},
	{name: "release", op: core.OpRelease, args: "BOT", summary: "release a quarantined bot to IDLE", build: oneTarget},
	{name: "killswitch set", op: core.OpKillSwitchSet, args: "SCOPE off|reduce_only|halt", summary: "engage or tighten a kill-switch", build: buildKillSet},
	{name: "killswitch release", op: core.OpKillSwitchRelease, args: "SCOPE [LEVEL]", summary: "loosen a kill-switch (to off unless LEVEL)", build: buildKillRelease},
	{name: "gate override", op: core.OpGateOverride, args: "GATE --for DURATION [--scope SCOPE]", flags: []string{"for", "scope"}, summary: "override a failing gate for a while", build: buildGateOverride},
	{name: "monitoring disable", op: core.OpMonitoringDisable, args: "SCOPE --for DURATION", flags: []string{"for"}, summary: "disable monitoring for a while", build: buildMonitoring},
	{name: "secret rotate", op: core.OpSecretRotate, args: "SCOPE SECRET_REF", summary: "rotate a secret by reference", build: buildSecret},
	{name: "data delete", op: core.OpDataOp, args: "SCOPE", summary: "destructive: delete data", build: buildData("delete")},
	{name: "data restore", op: core.OpDataOp, args: "SCOPE", summary: "destructive: restore data", build: buildData("restore")},
	{name: "data compact", op: core.OpDataOp, args: "SCOPE", summary: "destructive: force compaction", build: buildData("compact")},
	{name: "bundle", op: core.OpBundle, args: "[BOT]", summary: "build a support bundle", build: optTarget},
	{name: "audit head", summary: "the ledger's signed head", build: noArgs},
	{name: "audit verify", summary: "check the ledger against the last checkpoint posted to Slack", build: noArgs},
	{name: "audit export", args: "[--from SEQ] [--to SEQ]", flags: []string{"from", "to"}, summary: "export ledger entries with their checkpoint", build: buildExport},
}

// Parse parses the text of a slash command (everything after the command
// name). Errors wrap ErrSyntax and say what to type instead.
func Parse(text string) (Request, error) {
	toks, err := tokenize(text)
	if err != nil {
		return Request{}, err
	}
	if len(toks) == 0 {
		return Request{Verb: "help"}, nil
	}
	v, rest, err := lookupVerb(toks)
	if err != nil {
		return Request{}, err
	}
	l, err := splitFlags(rest)
	if err != nil {
		return Request{}, err
	}
	if err := checkFlags(v, l); err != nil {
		return Request{}, err
	}
	r := Request{Verb: v.name, Op: v.op, Reason: l.flags["reason"], ID: l.flags["id"]}
	if len(r.Reason) > maxReason {
		return Request{}, fmt.Errorf("%w: --reason is longer than %d bytes; shorten it", ErrSyntax, maxReason)
	}
	if r.ID != "" && !idRE.MatchString(r.ID) {
		return Request{}, fmt.Errorf("%w: --id must be 1-64 letters, digits or . _ : - and start with a letter or digit", ErrSyntax)
	}
	if err := v.build(&r, l.args, l.flags); err != nil {
		return Request{}, fmt.Errorf("%w: %s: %v; usage: %s", ErrSyntax, v.name, err, v.usage())
	}
	return r, nil
}

// maxReason is the contract's bound on a command's reason.
const maxReason = 500

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)

func (v verb) usage() string {
	u := v.name
	if v.args != "" {
		u += " " + v.args
	}
	if v.op != "" && v.op != core.OpStatus {
		u += " [--reason TEXT] [--id KEY]"
	}
	return u
}

func (v verb) acceptsFlag(name string) bool {
	for _, f := range v.flags {
		if f == name {
			return true
		}
	}
	if v.op != "" && v.op != core.OpStatus {
		return name == "reason" || name == "id"
	}
	return false
}

func (v verb) flagNames() []string {
	names := append([]string(nil), v.flags...)
	if v.op != "" && v.op != core.OpStatus {
		names = append(names, opFlags...)
	}
	return names
}

func checkFlags(v verb, l line) error {
	for _, name := range l.order {
		if v.acceptsFlag(name) {
			continue
		}
		msg := fmt.Sprintf("%s does not take --%s", v.name, name)
		if s := suggest(name, v.flagNames()); s != "" {
			msg += fmt.Sprintf("; did you mean --%s?", s)
		}
		return fmt.Errorf("%w: %s (usage: %s)", ErrSyntax, msg, v.usage())
	}
	return nil
}

// lookupVerb finds the verb the first one or two words name.
func lookupVerb(toks []token) (verb, []token, error) {
	first := strings.ToLower(toks[0].text)
	if len(toks) > 1 {
		two := first + " " + strings.ToLower(toks[1].text)
		for _, v := range verbs {
			if v.name == two {
				return v, toks[2:], nil
			}
		}
	}
	for _, v := range verbs {
		if v.name == first {
			return v, toks[1:], nil
		}
	}
	if subs := subVerbs(first); len(subs) > 0 {
		msg := fmt.Sprintf("%s needs one of: %s", first, strings.Join(subs, ", "))
		if len(toks) > 1 {
			if s := suggest(strings.ToLower(toks[1].text), subs); s != "" {
				msg = fmt.Sprintf("unknown %s subcommand %q; did you mean %s %s?", first, toks[1].text, first, s)
			}
		}
		return verb{}, nil, fmt.Errorf("%w: %s", ErrSyntax, msg)
	}
	msg := fmt.Sprintf("unknown command %q", toks[0].text)
	if s := suggest(first, firstWords()); s != "" {
		msg += fmt.Sprintf("; did you mean %s?", s)
	}
	return verb{}, nil, fmt.Errorf("%w: %s; try help", ErrSyntax, msg)
}

func subVerbs(first string) []string {
	var subs []string
	for _, v := range verbs {
		if f, s, ok := strings.Cut(v.name, " "); ok && f == first {
			subs = append(subs, s)
		}
	}
	return subs
}

func firstWords() []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range verbs {
		f, _, _ := strings.Cut(v.name, " ")
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

var scopeRE = regexp.MustCompile(`^(global|group:[A-Za-z0-9][A-Za-z0-9_.-]{0,63}|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$`)

var gateRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// parseScope normalises a target: "global", "group:NAME", "bot:ID" or a
// bare bot id (returned without the "bot:" prefix).
func parseScope(s string) (string, error) {
	s = strings.TrimPrefix(s, "bot:")
	if !scopeRE.MatchString(s) {
		return "", fmt.Errorf("%q is not a target (BOT, bot:BOT, group:NAME or global)", s)
	}
	return s, nil
}

func wantArgs(args []string, min, max int) error {
	switch {
	case len(args) < min:
		return fmt.Errorf("missing argument")
	case len(args) > max:
		return fmt.Errorf("unexpected %q (quote text with spaces)", args[max])
	}
	return nil
}

func noArgs(_ *Request, args []string, _ map[string]string) error { return wantArgs(args, 0, 0) }

func oneTarget(r *Request, args []string, _ map[string]string) error {
	if err := wantArgs(args, 1, 1); err != nil {
		return err
	}
	t, err := parseScope(args[0])
	r.Target = t
	return err
}

func optTarget(r *Request, args []string, f map[string]string) error {
	if len(args) == 0 {
		return nil
	}
	return oneTarget(r, args, f)
}

func withMode(required bool) func(*Request, []string, map[string]string) error {
	return func(r *Request, args []string, f map[string]string) error {
		if err := oneTarget(r, args, f); err != nil {
			return err
		}
		return setMode(r, f, required)
	}
}

func setMode(r *Request, f map[string]string, required bool) error {
	s, given := f["mode"]
	if !given && !required {
		return nil
	}
	m, err := lifecycle.ParseMode(strings.ToLower(s))
	if err != nil {
		return fmt.Errorf("--mode: %v", err)
	}
	r.Params.Mode = m
	return nil
}

func buildApply(r *Request, args []string, f map[string]string) error {
	if err := wantArgs(args, 2, 2); err != nil {
		return err
	}
	if err := oneTarget(r, args[:1], f); err != nil {
		return err
	}
	r.Params.ConfigRef = args[1]
	return setMode(r, f, false)
}

var levels = []string{string(core.LevelOff), string(core.LevelReduceOnly), string(core.LevelHalt)}

func parseLevel(s string) (string, error) {
	for _, l := range levels {
		if s == l {
			return s, nil
		}
	}
	if g := suggest(strings.ToLower(s), levels); g != "" {
		return "", fmt.Errorf("unknown level %q; did you mean %s?", s, g)
	}
	return "", fmt.Errorf("unknown level %q (off, reduce_only or halt)", s)
}

func buildKillSet(r *Request, args []string, f map[string]string) error {
	if err := wantArgs(args, 2, 2); err != nil {
		return err
	}
	if err := oneTarget(r, args[:1], f); err != nil {
		return err
	}
	lvl, err := parseLevel(args[1])
	r.Params.Level = lvl
	return err
}

// buildKillRelease releases to "off" unless a level is named: releasing
// is the explicit act, the level it lands on is part of it.
func buildKillRelease(r *Request, args []string, f map[string]string) error {
	if err := wantArgs(args, 1, 2); err != nil {
		return err
	}
	if err := oneTarget(r, args[:1], f); err != nil {
		return err
	}
	r.Params.Level = string(core.LevelOff)
	if len(args) == 2 {
		lvl, err := parseLevel(args[1])
		r.Params.Level = lvl
		return err
	}
	return nil
}

func parseFor(f map[string]string) (string, error) {
	s, ok := f["for"]
	if !ok {
		return "", fmt.Errorf("--for DURATION is required (e.g. --for 30m)")
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return "", fmt.Errorf("--for %q is not a positive duration (e.g. 30m, 2h)", s)
	}
	return d.String(), nil
}

func buildGateOverride(r *Request, args []string, f map[string]string) error {
	if err := wantArgs(args, 1, 1); err != nil {
		return err
	}
	if !gateRE.MatchString(args[0]) {
		return fmt.Errorf("%q is not a gate name", args[0])
	}
	r.Params.Gate = args[0]
	r.Target = "global"
	if s, ok := f["scope"]; ok {
		t, err := parseScope(s)
		if err != nil {
			return err
		}
		r.Target = t
	}
	d, err := parseFor(f)
	r.Params.Duration = d
	return err
}

func buildMonitoring(r *Request, args []string, f map[string]string) error {
	if err := oneTarget(r, args, f); err != nil {
		return err
	}
	d, err := parseFor(f)
	r.Params.Duration = d
	return err
}

func buildSecret(r *Request, args []string, f map[string]string) error {
	if err := wantArgs(args, 2, 2); err != nil {
		return err
	}
	if err := oneTarget(r, args[:1], f); err != nil {
		return err
	}
	r.Params.SecretRef = args[1]
	return nil
}

func buildData(action string) func(*Request, []string, map[string]string) error {
	return func(r *Request, args []string, f map[string]string) error {
		r.Params.DataAction = action
		return oneTarget(r, args, f)
	}
}

func buildExport(r *Request, args []string, f map[string]string) error {
	if err := wantArgs(args, 0, 0); err != nil {
		return err
	}
	for name, dst := range map[string]*uint64{"from": &r.From, "to": &r.To} {
		if s, ok := f[name]; ok {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return fmt.Errorf("--%s %q is not a sequence number", name, s)
			}
			*dst = n
		}
	}
	if r.To != 0 && r.From > r.To {
		return fmt.Errorf("--from %d is after --to %d", r.From, r.To)
	}
	return nil
}
