package core

import (
	"fmt"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/botwarden/botwarden/internal/lifecycle"
)

// The audit event types (docs/contracts/audit_event.schema.json).
const (
	EvRequested       = "controlplane.command.requested"
	EvApplied         = "controlplane.command.applied"
	EvDenied          = "controlplane.command.denied"
	EvFailed          = "controlplane.command.failed"
	EvDuplicate       = "controlplane.command.duplicate_suppressed"
	EvChallenge       = "dangerous_op.challenge"
	EvConfirm         = "dangerous_op.confirm"
	EvReject          = "dangerous_op.reject"
	EvTransition      = "bot.state.transition"
	EvStuck           = "bot.stuck"
	EvBundle          = "support_bundle.created"
	EvSafety          = "safety.transition"
	EvGate            = "gate.transition"
	EvOverride        = "gate.override"
	EvOverrideExpired = "gate.override.expired"
	EvMonitoring      = "monitoring.disabled"
	EvKillSwitch      = "execution.killswitch.set"
	EvStarted         = "controlplane.started"
	EvStopped         = "controlplane.stopped"
)

// SystemActor is the actor of the control plane's own acts (expiry,
// reconciliation, initialisation, safety and gate changes).
const SystemActor = "system:botwarden"

// OutcomeApproved is the outcome of a dangerous_op.confirm that counted.
const OutcomeApproved = "approved"

// Event is one audit event as recorded in the ledger. Only the fields an
// event type needs are set; it never carries a secret value.
type Event struct {
	SchemaVersion       string          `json:"schema_version"`
	Type                string          `json:"event_type"`
	Time                string          `json:"time"`
	Environment         string          `json:"environment"`
	Actor               string          `json:"actor"`
	CommandID           string          `json:"command_id,omitempty"`
	TraceID             string          `json:"trace_id,omitempty"`
	RunID               string          `json:"run_id,omitempty"`
	Target              string          `json:"target"`
	Op                  Op              `json:"op,omitempty"`
	RequestedTransition string          `json:"requested_transition,omitempty"`
	Channel             string          `json:"channel,omitempty"`
	Command             *Command        `json:"command,omitempty"`
	Params              *Params         `json:"params,omitempty"`
	Outcome             string          `json:"outcome,omitempty"`
	Reason              Reason          `json:"reason,omitempty"`
	Detail              string          `json:"detail,omitempty"`
	Runbook             string          `json:"runbook,omitempty"`
	UnauditedIntent     bool            `json:"unaudited_intent,omitempty"`
	RecordedLate        bool            `json:"recorded_late,omitempty"`
	ChallengeID         string          `json:"challenge_id,omitempty"`
	Requires            *Requirements   `json:"requires,omitempty"`
	IssuedAt            string          `json:"issued_at,omitempty"`
	ExpiresAt           string          `json:"expires_at,omitempty"`
	Digest              string          `json:"digest,omitempty"`
	Preconditions       *Preconditions  `json:"preconditions,omitempty"`
	Live                *bool           `json:"live,omitempty"`
	Approvals           *int            `json:"approvals,omitempty"`
	Requester           string          `json:"requester,omitempty"`
	Approvers           []string        `json:"approvers,omitempty"`
	From                lifecycle.State `json:"from,omitempty"`
	To                  lifecycle.State `json:"to,omitempty"`
	Mode                lifecycle.Mode  `json:"mode,omitempty"`
	ConfigVersion       string          `json:"config_version,omitempty"`
	Cause               string          `json:"cause,omitempty"`
	Safety              *SafetyChange   `json:"safety,omitempty"`
	Gate                *GateChange     `json:"gate,omitempty"`
	KillSwitch          *KillSwitchSet  `json:"killswitch,omitempty"`
	Override            *OverrideSet    `json:"override,omitempty"`
	Until               string          `json:"until,omitempty"`
	Bundle              *BundleRef      `json:"bundle,omitempty"`
	Service             *ServiceInfo    `json:"service,omitempty"`
}

// SafetyChange is the payload of safety.transition.
type SafetyChange struct {
	Mode       SafetyMode `json:"safety_mode"`
	Previous   SafetyMode `json:"previous"`
	Reason     string     `json:"reason,omitempty"`
	Source     string     `json:"source,omitempty"`
	UpdatedAt  string     `json:"updated_at,omitempty"`
	TTLSeconds int        `json:"ttl_seconds,omitempty"`
}

// GateChange is the payload of gate.transition: a gate's effective status
// on a scope changed (reported, went stale, or came back).
type GateChange struct {
	Gate        string     `json:"gate"`
	Scope       string     `json:"scope"`
	Status      GateStatus `json:"status"`
	Previous    GateStatus `json:"previous"`
	EvaluatedAt string     `json:"evaluated_at,omitempty"`
	TTLSeconds  int        `json:"ttl_seconds,omitempty"`
	Stale       bool       `json:"stale,omitempty"`
	Source      string     `json:"source,omitempty"`
	Detail      string     `json:"detail,omitempty"`
}

// KillSwitchSet is the payload of execution.killswitch.set.
type KillSwitchSet struct {
	Scope    string `json:"scope"`
	Level    Level  `json:"level"`
	Previous Level  `json:"previous"`
}

// OverrideSet is the payload of gate.override and gate.override.expired.
type OverrideSet struct {
	Gate  string `json:"gate"`
	Scope string `json:"scope"`
	Until string `json:"until"`
}

// BundleRef is the payload of support_bundle.created.
type BundleRef struct {
	Path           string `json:"path"`
	SHA256         string `json:"sha256"`
	ManifestSHA256 string `json:"manifest_sha256"`
}

// fmtTime renders t as RFC 3339 with nanoseconds in UTC.
func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// shownTime is a time in a detail people read: to the second, in UTC.
func shownTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// commandEvent starts an event about cmd.
func (e *Engine) commandEvent(typ string, cmd *Command) *Event {
	return &Event{
		Type: typ, Actor: cmd.Actor, CommandID: cmd.CommandID, TraceID: cmd.TraceID,
		RunID: cmd.RunID, Target: cmd.Target, Op: cmd.Op,
		RequestedTransition: cmd.RequestedTransition, Channel: cmd.Channel,
	}
}

// systemEvent starts an event the control plane records on its own.
func systemEvent(typ, target string) *Event {
	return &Event{Type: typ, Actor: SystemActor, Target: target}
}

// decodeEvent decodes one recorded event. It has encoding/json's semantics,
// implemented on the encoding/json/v2 prototype's decoder
// (github.com/go-json-experiment/json/v1, what encoding/json becomes under
// GOEXPERIMENT=jsonv2): the same results,
// in 2 allocations instead of 30 and less than half the time. Decoding is
// most of the start-up replay's work.
func decodeEvent(b []byte) (*Event, error) {
	var ev Event
	if err := jsonv1.Unmarshal(b, &ev); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	return &ev, nil
}

func ptr[T any](v T) *T { return &v }
