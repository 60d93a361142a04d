package core

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/botwarden/botwarden/docs/contracts"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

var botIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// validator checks commands against docs/contracts/command.schema.json and
// the rules a schema cannot say.
type validator struct{ v *contracts.Validator }

func newValidator() (*validator, error) {
	v, err := contracts.NewValidator()
	if err != nil {
		return nil, fmt.Errorf("compile contracts: %w", err)
	}
	return &validator{v: v}, nil
}

// lifecycleTo is the state a lifecycle op asks for; "" for other ops.
func lifecycleTo(cmd *Command) lifecycle.State {
	switch cmd.Op {
	case OpStart, OpResume:
		return lifecycle.Running(cmd.Params.Mode)
	case OpStop:
		return lifecycle.Stopping
	case OpPause:
		return lifecycle.Paused
	case OpQuarantine:
		return lifecycle.Quarantined
	case OpRelease:
		return lifecycle.Idle
	}
	return ""
}

// fanOut reports whether op accepts group:NAME and global targets.
func fanOut(op Op) bool { return op == OpStop || op == OpPause || op == OpQuarantine }

// TakesScope reports whether op accepts a group:NAME or global target;
// every other op takes exactly one bot id.
func TakesScope(op Op) bool { return fanOut(op) || scopeOp(op) }

// scopeOp reports whether op acts on a scope (global, group, bot) rather
// than on one bot's lifecycle.
func scopeOp(op Op) bool {
	switch op {
	case OpStatus, OpKillSwitchSet, OpKillSwitchRelease, OpGateOverride, OpMonitoringDisable,
		OpSecretRotate, OpDataOp, OpBundle:
		return true
	}
	return false
}

// validateCommand returns a wrapped ErrInvalidCommand for a malformed
// command. A well-formed command may still be denied later.
//
// checkCommand decides whether cmd satisfies command.schema.json; the
// schema itself only runs for a rejected command, to explain it.
func (v *validator) validateCommand(cmd *Command) error {
	if err := checkCommand(cmd); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidCommand, v.explain(cmd, err))
	}
	if d := cmd.Params.Duration; d != "" {
		if x, err := time.ParseDuration(d); err != nil || x <= 0 {
			return fmt.Errorf("%w: params.duration %q is not a positive duration", ErrInvalidCommand, d)
		}
	}
	return checkTransitionShape(cmd)
}

// explain returns the schema validator's account of why cmd, which
// checkCommand refused with refusal, is invalid: the detailed message
// callers have always seen. Should the schema accept it (checkCommand and
// the schema disagree, which FuzzCheckCommand exists to prevent), the
// command stays refused with checkCommand's own message.
func (v *validator) explain(cmd *Command, refusal error) error {
	b, err := json.Marshal(cmd)
	if err != nil {
		return fmt.Errorf("marshal command: %w", err)
	}
	if err := v.v.Validate(contracts.Command, b); err != nil {
		return err
	}
	return fmt.Errorf("command: %w", refusal)
}

// checkTransitionShape checks requested_transition against the op: the op
// name, or for a single-bot lifecycle op "FROM->TO" with TO what the op
// asks for (FROM is checked against the bot's state later).
func checkTransitionShape(cmd *Command) error {
	rt := cmd.RequestedTransition
	if rt == string(cmd.Op) {
		return nil
	}
	if (cmd.Op == OpStart || cmd.Op == OpResume) && cmd.Params.Mode == "" {
		return nil // a mode is never implied: denied (and recorded) as mode_required
	}
	from, to, ok := strings.Cut(rt, "->")
	want := lifecycleTo(cmd)
	single := !strings.HasPrefix(cmd.Target, "group:") && cmd.Target != "global"
	if !ok || want == "" || !single {
		return fmt.Errorf("%w: requested_transition %q: want %q or, for one bot, FROM->TO", ErrInvalidCommand, rt, cmd.Op)
	}
	if !lifecycle.State(from).Valid() || lifecycle.State(to) != want {
		return fmt.Errorf("%w: requested_transition %q does not match op %s (wants ->%s)", ErrInvalidCommand, rt, cmd.Op, want)
	}
	return nil
}

var botIDPatternActor = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`)
