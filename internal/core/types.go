package core

import (
	"time"

	"github.com/botwarden/botwarden/internal/lifecycle"
)

// SchemaVersion is the version of the command and audit event contracts
// (docs/contracts). Commands carrying another version are rejected.
const SchemaVersion = "1.0"

// Op names an operation the control plane can run.
type Op string

// The operations. The string values are the contract's "op" vocabulary.
const (
	OpStatus            Op = "status"
	OpStart             Op = "start"
	OpStop              Op = "stop"
	OpPause             Op = "pause"
	OpResume            Op = "resume"
	OpApply             Op = "config_apply"
	OpQuarantine        Op = "quarantine"
	OpRelease           Op = "quarantine_release"
	OpKillSwitchSet     Op = "killswitch_set"     // tighten
	OpKillSwitchRelease Op = "killswitch_release" // loosen: dangerous
	OpGateOverride      Op = "gate_override"
	OpMonitoringDisable Op = "monitoring_disable"
	OpSecretRotate      Op = "secret_rotate"
	OpDataOp            Op = "data_op"
	OpBundle            Op = "support_bundle"
)

// Params are the operation-specific arguments of a command. Only the ones
// an operation uses may be set; the rest must be empty.
type Params struct {
	Mode       lifecycle.Mode `json:"mode,omitempty"`        // start, resume, config_apply
	ConfigRef  string         `json:"config_ref,omitempty"`  // config_apply
	Level      string         `json:"level,omitempty"`       // killswitch_set / killswitch_release: off|reduce_only|halt
	Gate       string         `json:"gate,omitempty"`        // gate_override
	Duration   string         `json:"duration,omitempty"`    // gate_override, monitoring_disable (Go duration, bounded by policy)
	SecretRef  string         `json:"secret_ref,omitempty"`  // secret_rotate: a reference, never a value
	DataAction string         `json:"data_action,omitempty"` // data_op: delete|restore|compact
}

// Command is one explicit operator action. Every field but Params and
// Reason is required; see docs/contracts/command.schema.json.
type Command struct {
	SchemaVersion       string `json:"schema_version"`
	CommandID           string `json:"command_id"` // idempotency key
	Actor               string `json:"actor"`
	Target              string `json:"target"` // bot id, "group:NAME" or "global"
	Op                  Op     `json:"op"`
	RequestedTransition string `json:"requested_transition"` // "IDLE->RUNNING_LIVE" or the op name
	Environment         string `json:"environment"`
	TraceID             string `json:"trace_id"`
	RunID               string `json:"run_id"`
	Reason              string `json:"reason,omitempty"`
	Channel             string `json:"channel,omitempty"` // where it was asked (policy: allowed channels)
	Params              Params `json:"params"`
}

// Status is how a command ended (so far).
type Status string

// The command outcomes.
const (
	StatusApplied    Status = "applied"
	StatusDenied     Status = "denied"
	StatusChallenged Status = "challenge_issued" // waiting for confirm
	StatusRejected   Status = "rejected"         // challenge rejected, expired or superseded
	StatusFailed     Status = "failed"           // authorised, but the driver/action failed
)

// Reason is a machine-readable denial or rejection code. It goes to the
// ledger and metrics; the Detail sentence goes to the user.
type Reason string

// The reason codes.
const (
	ReasonInvalid           Reason = "invalid_command"
	ReasonWrongEnvironment  Reason = "wrong_environment"
	ReasonForbidden         Reason = "forbidden"
	ReasonChannel           Reason = "channel_not_allowed"
	ReasonUnknownTarget     Reason = "unknown_target"
	ReasonTransition        Reason = "transition_not_allowed"
	ReasonSafety            Reason = "safety_not_normal"
	ReasonGateFail          Reason = "gate_fail"
	ReasonGateUnknown       Reason = "gate_unknown"
	ReasonKillSwitch        Reason = "killswitch_engaged"
	ReasonModeRequired      Reason = "mode_required"
	ReasonLedgerUnavailable Reason = "ledger_unavailable"
	ReasonSelfConfirm       Reason = "self_confirm"
	ReasonAlreadyApproved   Reason = "already_approved"
	ReasonTargetMismatch    Reason = "target_mismatch"
	ReasonRejected          Reason = "rejected"
	ReasonExpired           Reason = "expired"
	ReasonSuperseded        Reason = "superseded"
	ReasonChallengeClosed   Reason = "challenge_closed"
	ReasonDriver            Reason = "driver_error"
	ReasonBusy              Reason = "busy"
	ReasonInterrupted       Reason = "interrupted"  // intent recorded, result never: found on start
	ReasonUnavailable       Reason = "unavailable"  // no Actions/Bundler configured for this op
	ReasonPolicyLimit       Reason = "policy_limit" // a duration beyond the policy's bound
	ReasonLevel             Reason = "killswitch_direction"
	ReasonBundleLeak        Reason = "bundle_secret_found" // the bundle's proof found a secret: nothing delivered
	ReasonIDConflict        Reason = "command_id_conflict" // a command_id reused for another op or target
)

// Outcome is the answer to a command, a confirm or a reject. A duplicate
// command_id returns the original outcome with Duplicate set.
type Outcome struct {
	CommandID   string          `json:"command_id"`
	Op          Op              `json:"op"`
	Target      string          `json:"target"`
	Status      Status          `json:"status"`
	Reason      Reason          `json:"reason,omitempty"`
	Detail      string          `json:"detail,omitempty"`
	Runbook     string          `json:"runbook,omitempty"` // link for the next step, when one applies
	Duplicate   bool            `json:"duplicate,omitempty"`
	From        lifecycle.State `json:"from,omitempty"`
	To          lifecycle.State `json:"to,omitempty"`
	Challenge   *Challenge      `json:"challenge,omitempty"`
	Environment string          `json:"environment"`
	Seq         uint64          `json:"seq,omitempty"`    // ledger seq of the event that recorded it
	Bundle      *BundleRef      `json:"bundle,omitempty"` // an applied support_bundle: the file and its hashes
}

// ChallengeState is where a challenge is in its single-use life.
type ChallengeState string

// The challenge states.
const (
	ChallengeOpen       ChallengeState = "open"
	ChallengeConfirmed  ChallengeState = "confirmed"
	ChallengeRejected   ChallengeState = "rejected"
	ChallengeExpired    ChallengeState = "expired"
	ChallengeSuperseded ChallengeState = "superseded"
)

// Requirements say who must confirm a challenge.
type Requirements struct {
	Role         string `json:"role"`          // role an approver must hold
	Approvers    int    `json:"approvers"`     // distinct approvers needed (>= 1)
	SecondPerson bool   `json:"second_person"` // requester may not approve
	TypedTarget  string `json:"typed_target"`  // what the approver must type to confirm
}

// Approval is one approver's explicit confirm.
type Approval struct {
	Actor  string    `json:"actor"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Challenge is an issued, single-use request for explicit confirmation of a
// dangerous command. It is bound to the command and to the preconditions
// the approver saw (Digest).
type Challenge struct {
	ID        string         `json:"challenge_id"`
	Command   Command        `json:"command"`
	Requires  Requirements   `json:"requires"`
	IssuedAt  time.Time      `json:"issued_at"`
	ExpiresAt time.Time      `json:"expires_at"`
	State     ChallengeState `json:"state"`
	Approvals []Approval     `json:"approvals,omitempty"`
	Digest    string         `json:"digest"` // SHA-256 over command + preconditions at issue
	Summary   Preconditions  `json:"preconditions"`
	EndedBy   string         `json:"ended_by,omitempty"`
	EndedAt   time.Time      `json:"ended_at,omitzero"`
	Live      bool           `json:"live"` // touches live: adapters mark it visibly

	// policy is the digest of the policy in force when it was issued (the
	// latest controlplane.started before it; "" if none was recorded):
	// its approvers, approvals and second-person rule came from that
	// policy, so under another one it can no longer be confirmed (drift).
	policy string
}

// Preconditions are what a challenge was issued against. If any differs at
// confirm time, the challenge is superseded and nothing executes.
type Preconditions struct {
	BotState      lifecycle.State `json:"bot_state,omitempty"`
	Safety        SafetyMode      `json:"safety"`
	KillSwitch    Level           `json:"killswitch"`
	ConfigVersion string          `json:"config_version,omitempty"`
	Gates         GateStatus      `json:"gates"` // worst gate on the scope
}

// ConfirmRequest is an approver's explicit confirm of a challenge.
type ConfirmRequest struct {
	ChallengeID string `json:"challenge_id"`
	Actor       string `json:"actor"`
	Reason      string `json:"reason"`
	TypedTarget string `json:"typed_target"` // must equal Requirements.TypedTarget
	Channel     string `json:"channel,omitempty"`
}

// RejectRequest is an explicit reject of a challenge.
type RejectRequest struct {
	ChallengeID string `json:"challenge_id"`
	Actor       string `json:"actor"`
	Reason      string `json:"reason"`
	Channel     string `json:"channel,omitempty"`
}

// SafetyMode is the fleet's safety state, owned by the safety system.
type SafetyMode string

// The safety modes. Unknown is what the core assumes without data.
const (
	SafetyNormal        SafetyMode = "NORMAL"
	SafetySafe          SafetyMode = "SAFE"
	SafetyEmergencyStop SafetyMode = "EMERGENCY_STOP"
	SafetyUnknown       SafetyMode = "UNKNOWN"
)

// GateStatus is one gate's result. Missing or stale results are Unknown.
type GateStatus string

// The gate results.
const (
	GatePass    GateStatus = "PASS"
	GateFail    GateStatus = "FAIL"
	GateUnknown GateStatus = "UNKNOWN"
)

// Level is a kill-switch level; higher is tighter.
type Level string

// The kill-switch levels, loosest first.
const (
	LevelOff        Level = "off"
	LevelReduceOnly Level = "reduce_only"
	LevelHalt       Level = "halt"
)

// SafetyDoc is a safety state document (docs/contracts/safety_state.schema.json).
type SafetyDoc struct {
	SchemaVersion string     `json:"schema_version"`
	Mode          SafetyMode `json:"safety_mode"`
	Reason        string     `json:"reason,omitempty"`
	Source        string     `json:"source"`
	UpdatedAt     time.Time  `json:"updated_at"`
	TTLSeconds    int        `json:"ttl_seconds,omitempty"` // 0: DefaultSafetyTTL
}

// GateResult is one gate's evaluation on one scope.
type GateResult struct {
	Gate        string     `json:"gate"`
	Scope       string     `json:"scope"` // "global", "group:NAME" or a bot id
	Status      GateStatus `json:"status"`
	EvaluatedAt time.Time  `json:"evaluated_at"`
	TTLSeconds  int        `json:"ttl_seconds"`
	Detail      string     `json:"detail,omitempty"`
}

// GatesDoc is a gate results document (docs/contracts/gate_results.schema.json).
type GatesDoc struct {
	SchemaVersion string       `json:"schema_version"`
	Source        string       `json:"source"`
	Results       []GateResult `json:"results"`
}
