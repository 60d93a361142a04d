package core

import (
	"time"

	"github.com/botwarden/botwarden/internal/lifecycle"
)

// Snapshot is a consistent read-only view of everything an operator must
// always see: the fleet, safety, gates, kill-switch and open challenges.
type Snapshot struct {
	Environment string           `json:"environment"`
	Safety      SafetyView       `json:"safety"`
	Gates       []GateView       `json:"gates"`
	KillSwitch  map[string]Level `json:"killswitch"` // scope ("global", "group:NAME", bot id) -> level; absent = off
	Bots        []BotView        `json:"bots"`
	Challenges  []Challenge      `json:"challenges"` // open ones
	LedgerSeq   uint64           `json:"ledger_seq"` // last event the view includes
	At          time.Time        `json:"at"`
}

// SafetyView is the effective safety state. Missing or expired data shows
// as UNKNOWN, which the core treats as not NORMAL.
type SafetyView struct {
	Mode      SafetyMode `json:"safety_mode"`
	Reason    string     `json:"reason,omitempty"`
	Source    string     `json:"source,omitempty"`
	UpdatedAt time.Time  `json:"updated_at,omitzero"`
}

// GateView is one gate's effective result on one scope, after staleness
// (UNKNOWN) and any active override are applied.
type GateView struct {
	Gate          string     `json:"gate"`
	Scope         string     `json:"scope"`
	Status        GateStatus `json:"status"`   // effective
	Reported      GateStatus `json:"reported"` // as last pushed
	EvaluatedAt   time.Time  `json:"evaluated_at,omitzero"`
	Stale         bool       `json:"stale,omitempty"`
	OverrideUntil time.Time  `json:"override_until,omitzero"`
	Detail        string     `json:"detail,omitempty"`
}

// BotView is one bot as the control plane records it.
type BotView struct {
	ID              string           `json:"id"`
	Group           string           `json:"group,omitempty"`
	State           lifecycle.State  `json:"state"`
	Mode            lifecycle.Mode   `json:"mode,omitempty"` // while running or paused
	ConfigVersion   string           `json:"config_version,omitempty"`
	KillSwitch      Level            `json:"killswitch"`      // effective on its scopes
	Stuck           bool             `json:"stuck,omitempty"` // STOPPING past its deadline, or a stop by reconciliation failed
	LastTransitions []TransitionView `json:"last_transitions,omitempty"`
}

// TransitionView is one recorded state change of a bot.
type TransitionView struct {
	From      lifecycle.State `json:"from"`
	To        lifecycle.State `json:"to"`
	At        time.Time       `json:"at"`
	Actor     string          `json:"actor,omitempty"`
	CommandID string          `json:"command_id,omitempty"`
	Cause     string          `json:"cause,omitempty"`
	Seq       uint64          `json:"seq,omitempty"`
}
