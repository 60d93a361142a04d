package core

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
)

// ServiceInfo is the payload of controlplane.started and
// controlplane.stopped: which control plane, under which policy, recorded
// what follows. The policy decides who may request and who must confirm
// every op, so the ledger records the one in force: an auditor reads,
// for any entry, the last controlplane.started before it.
type ServiceInfo struct {
	Version      string `json:"version"`       // the binary's version
	PolicyDigest string `json:"policy_digest"` // "sha256:…" of the policy's canonical document
	// Policy is the policy in force, whole (policy.Document as canonical
	// JSON), when it differs from the one the last start recorded, or on
	// the first start: a ledger so holds every policy that was ever in
	// force, each once.
	Policy json.RawMessage `json:"policy,omitempty"`
	// PreviousPolicyDigest is the last start's policy, when this start's
	// differs from it.
	PreviousPolicyDigest string `json:"previous_policy_digest,omitempty"`
	// ConfigDigest is "sha256:…" of the configuration file's bytes, as
	// sha256sum prints it, so an auditor can match it to a file.
	ConfigDigest string `json:"config_digest,omitempty"`
	// LedgerKey is the verifier key that signs the ledger's checkpoints
	// from this start (ledger.Log.VerifierKey), so that a new signing key
	// (a rotation) is itself recorded in the hash-chained history.
	LedgerKey string `json:"ledger_key,omitempty"`
	// PreviousLedgerKey is the last start's LedgerKey, when it differs.
	PreviousLedgerKey string `json:"previous_ledger_key,omitempty"`
	// PreviousRun says how the run before this start ended: "stopped"
	// (it recorded controlplane.stopped) or "unclean" (it did not: killed,
	// crashed or the machine lost). Absent on a ledger's first start.
	PreviousRun string `json:"previous_run,omitempty"`
}

// serviceRun is what the state knows of the service's own runs.
type serviceRun struct {
	policyDigest string // the last recorded start's
	ledgerKey    string // the last recorded start's
	running      bool   // a start was recorded after the last stop
	started      bool   // a start was ever recorded
}

// startRecord is this process's controlplane.started: recorded by New or,
// if the ledger refused it then, before the next event anything records.
type startRecord struct {
	mu      sync.Mutex
	pending atomic.Bool
	ev      *Event
	seq     atomic.Uint64
}

// startEvent builds this process's controlplane.started from what the
// replay learnt of earlier runs.
func (e *Engine) startEvent() *Event {
	doc, digest := e.cfg.Policy.Canonical()
	info := &ServiceInfo{Version: e.cfg.Version, PolicyDigest: digest, ConfigDigest: e.cfg.ConfigDigest, LedgerKey: e.cfg.LedgerKey}
	prev := e.state().service
	detail := "first start recorded in this ledger; the policy in force is recorded whole"
	if prev.started {
		info.PreviousRun, detail = "stopped", "started after a clean stop of the previous run"
		if prev.running {
			info.PreviousRun, detail = "unclean", "started after an unclean end of the previous run (no controlplane.stopped recorded)"
		}
	}
	if prev.policyDigest != digest {
		info.Policy = doc
		if prev.started {
			info.PreviousPolicyDigest = prev.policyDigest
			detail += "; the policy changed since the last start and is recorded whole"
		}
	}
	if prev.ledgerKey != "" && info.LedgerKey != "" && prev.ledgerKey != info.LedgerKey {
		info.PreviousLedgerKey = prev.ledgerKey
		detail += "; the ledger's signing key changed since the last start"
	}
	ev := systemEvent(EvStarted, "global")
	ev.Service, ev.Detail = info, detail
	return ev
}

// policyDrift says why ch must not be confirmed under this run's policy
// (nil when it may): its approvers, number of approvals and second-person
// rule were fixed under the policy in force when it was issued, which is
// another one, or unknown (issued before any start was recorded). Like
// any drift, it supersedes the challenge: at start, on the next tick if
// the ledger refused that, and on any confirm before either.
func (e *Engine) policyDrift(ch *Challenge) *denial {
	now := e.start.ev.Service.PolicyDigest
	switch {
	case ch.policy == now:
		return nil
	case ch.policy == "":
		return deny(ReasonSuperseded, "the policy it was issued under is not recorded (no start recorded before it), so it may have changed")
	}
	return deny(ReasonSuperseded, "the policy changed since it was issued (%s -> %s)", ch.policy, now)
}

// recordFirst records what must precede anything else recorded now:
// controlplane.started, if it is still pending, then the events of
// effects applied unaudited (late.go). Every record calls it first; an
// error means those, and so the caller's events, cannot be recorded.
func (e *Engine) recordFirst(ctx context.Context) error {
	s := &e.start
	if !s.pending.Load() && !e.late.pending.Load() {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending.Load() {
		s.ev.Time = "" // recorded now, whenever that is
		seqs, err := e.write(ctx, s.ev)
		if err != nil {
			return fmt.Errorf("record %s first: %w", EvStarted, err)
		}
		s.seq.Store(seqs[0])
		s.pending.Store(false)
	}
	return e.recordLate(ctx)
}

// Started returns this process's controlplane.started event and its seq;
// ok is false while the ledger has not recorded it yet.
func (e *Engine) Started() (seq uint64, ev Event, ok bool) {
	if e.start.pending.Load() {
		return 0, Event{}, false
	}
	return e.start.seq.Load(), *e.start.ev, true
}

// RecordStop records controlplane.stopped with detail (why), once the
// service has stopped taking commands: the next start then reads the run
// as ended cleanly. The service calls it last, before closing the ledger.
func (e *Engine) RecordStop(ctx context.Context, detail string) error {
	if err := e.recordFirst(ctx); err != nil {
		return err
	}
	_, digest := e.cfg.Policy.Canonical()
	ev := systemEvent(EvStopped, "global")
	ev.Service = &ServiceInfo{Version: e.cfg.Version, PolicyDigest: digest, ConfigDigest: e.cfg.ConfigDigest}
	ev.Detail = e.redacted(detail)
	_, err := e.record(ctx, ev)
	return err
}

// applyService follows the service's runs (controlplane.started and
// controlplane.stopped).
func (s *state) applyService(ev *Event) {
	switch ev.Type {
	case EvStarted:
		s.service.started, s.service.running = true, true
		if ev.Service != nil {
			s.service.policyDigest, s.service.ledgerKey = ev.Service.PolicyDigest, ev.Service.LedgerKey
		}
	case EvStopped:
		s.service.running = false
	}
}
