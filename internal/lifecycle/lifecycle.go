package lifecycle

import "fmt"

// State is a bot's lifecycle state. The vocabulary is fixed by the spec.
type State string

// The fixed states.
const (
	Created       State = "CREATED"
	Idle          State = "IDLE"
	RunningPaper  State = "RUNNING_PAPER"
	RunningShadow State = "RUNNING_SHADOW"
	RunningLive   State = "RUNNING_LIVE"
	Paused        State = "PAUSED"
	Stopping      State = "STOPPING"
	Error         State = "ERROR"
	Quarantined   State = "QUARANTINED"
)

// States lists every state in a stable order (for metrics and docs).
var States = []State{Created, Idle, RunningPaper, RunningShadow, RunningLive, Paused, Stopping, Error, Quarantined}

// Mode is an execution mode. It is always named explicitly by the operator.
type Mode string

// The execution modes.
const (
	Paper  Mode = "paper"
	Shadow Mode = "shadow"
	Live   Mode = "live"
)

// ParseMode returns the mode named by s, or an error for anything else.
// An empty string is an error: a mode is never implied.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case Paper, Shadow, Live:
		return Mode(s), nil
	case "":
		return "", fmt.Errorf("mode is required (paper, shadow or live)")
	}
	return "", fmt.Errorf("unknown mode %q (want paper, shadow or live)", s)
}

// Running returns the RUNNING_* state for a mode.
func Running(m Mode) State {
	switch m {
	case Paper:
		return RunningPaper
	case Shadow:
		return RunningShadow
	case Live:
		return RunningLive
	}
	return ""
}

// IsRunning reports whether s is one of the RUNNING_* states.
func (s State) IsRunning() bool {
	return s == RunningPaper || s == RunningShadow || s == RunningLive
}

// Valid reports whether s is one of the fixed states.
func (s State) Valid() bool {
	for _, v := range States {
		if v == s {
			return true
		}
	}
	return false
}

// Transition is a requested move between two states.
type Transition struct {
	From, To State
}

// String renders the transition as the spec writes it: "IDLE->RUNNING_LIVE".
func (t Transition) String() string { return string(t.From) + "->" + string(t.To) }

// Rule says what an allowed transition demands before it may execute.
type Rule struct {
	// GatesPass: every gate on the bot's scope must be PASS.
	GatesPass bool
	// Dangerous: only as a confirmed dangerous op, with safety NORMAL and
	// no kill-switch engaged on the bot's scope.
	Dangerous bool
}

// Check reports whether t is allowed and, if so, what it demands.
// Everything not listed in spec §2.2 is denied with an error that says why.
func Check(t Transition) (Rule, error) {
	if !t.From.Valid() || !t.To.Valid() {
		return Rule{}, fmt.Errorf("unknown state in %s", t)
	}
	from, to := t.From, t.To
	switch {
	case from == to:
		return Rule{}, fmt.Errorf("bot is already %s", from)
	case to == Quarantined:
		return Rule{}, nil // ANY -> QUARANTINED
	case from == Quarantined:
		if to == Idle {
			return Rule{Dangerous: true}, nil // explicit, confirmed release only
		}
		return Rule{}, fmt.Errorf("a QUARANTINED bot leaves only by a confirmed release to IDLE")
	case from == Created && to == Idle:
		return Rule{}, nil
	case (from == Idle || from == Paused || from == Error) && (to == RunningPaper || to == RunningShadow):
		return Rule{GatesPass: true}, nil
	case (from == Idle || from == Paused || from == Error) && to == RunningLive:
		return Rule{GatesPass: true, Dangerous: true}, nil
	case from.IsRunning() && (to == Paused || to == Stopping):
		return Rule{}, nil
	case from == Paused && to == Stopping:
		// A paused bot is still holding resources; stopping it is always safe.
		return Rule{}, nil
	case from == Stopping && to == Idle:
		return Rule{}, nil
	case to == Error && (from.IsRunning() || from == Paused || from == Stopping):
		// Only the control plane's reconciliation moves a bot to ERROR.
		return Rule{}, nil
	}
	return Rule{}, fmt.Errorf("transition %s is not allowed", t)
}
