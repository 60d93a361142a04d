package core

import (
	"sort"
	"time"

	"github.com/botwarden/botwarden/internal/lifecycle"
)

// maxHistory is how many transitions a bot keeps for the Snapshot.
const maxHistory = 10

type botState struct {
	id, group     string
	driver        Driver
	state         lifecycle.State
	mode          lifecycle.Mode
	configVersion string
	since         time.Time // when the current state was entered
	stuck         bool      // STOPPING past its deadline, reported
	history       []TransitionView
}

type gateKey struct{ gate, scope string }

// gateEntry is the last reported result of one gate on one scope and the
// effective status last recorded for it.
type gateEntry struct {
	res       GateResult
	source    string
	effective GateStatus
}

type safetyEntry struct {
	doc       SafetyDoc
	effective SafetyMode
}

// state is everything the engine derives from the ledger. apply is the
// only writer, used alike by recording and by replay.
type state struct {
	bots       map[string]*botState
	order      []string // bot ids, sorted
	groups     map[string][]string
	killswitch map[string]Level
	overrides  map[gateKey]time.Time
	monitoring time.Time // monitoring disabled until
	gates      map[gateKey]*gateEntry
	safety     safetyEntry
	challenges map[string]*Challenge
	outcomes   map[string]Outcome
	pending    map[string]pendingCmd // intent recorded, result not (yet)
	seq        uint64
}

type pendingCmd struct {
	cmd         Command
	seq         uint64
	challengeID string
}

func newState(cfg Config) *state {
	s := &state{
		bots: map[string]*botState{}, groups: map[string][]string{},
		killswitch: map[string]Level{}, overrides: map[gateKey]time.Time{},
		gates: map[gateKey]*gateEntry{}, challenges: map[string]*Challenge{},
		outcomes: map[string]Outcome{}, pending: map[string]pendingCmd{},
		safety: safetyEntry{effective: SafetyUnknown},
	}
	for _, b := range cfg.Bots {
		s.bots[b.ID] = &botState{id: b.ID, group: b.Group, driver: b.Driver,
			state: lifecycle.Created, configVersion: b.ConfigVersion}
		s.order = append(s.order, b.ID)
		if b.Group != "" {
			s.groups[b.Group] = append(s.groups[b.Group], b.ID)
		}
	}
	sort.Strings(s.order)
	for _, ids := range s.groups {
		sort.Strings(ids)
	}
	return s
}

// apply folds one recorded event into the state. seq 0 means unaudited.
func (s *state) apply(seq uint64, ev *Event) {
	if seq > s.seq {
		s.seq = seq
	}
	switch ev.Type {
	case EvRequested:
		if ev.Command != nil {
			s.pending[ev.CommandID] = pendingCmd{cmd: *ev.Command, seq: seq}
		}
	case EvApplied, EvDenied, EvFailed:
		s.applyResult(seq, ev)
	case EvChallenge:
		s.applyChallenge(seq, ev)
	case EvConfirm:
		s.applyConfirm(seq, ev)
	case EvReject:
		s.applyReject(seq, ev)
	case EvTransition:
		s.applyTransition(seq, ev)
	case EvStuck:
		if b := s.bots[ev.Target]; b != nil {
			b.stuck = true
		}
	case EvKillSwitch:
		if ev.KillSwitch != nil {
			s.killswitch[ev.KillSwitch.Scope] = ev.KillSwitch.Level
		}
	case EvOverride:
		if o := ev.Override; o != nil {
			s.overrides[gateKey{o.Gate, o.Scope}] = parseTime(o.Until)
		}
	case EvOverrideExpired:
		if o := ev.Override; o != nil {
			delete(s.overrides, gateKey{o.Gate, o.Scope})
		}
	case EvMonitoring:
		s.monitoring = parseTime(ev.Until)
	case EvSafety:
		s.applySafety(ev)
	case EvGate:
		s.applyGate(ev)
	}
}

func outcomeOf(seq uint64, ev *Event) Outcome {
	return Outcome{
		CommandID: ev.CommandID, Op: ev.Op, Target: ev.Target, Status: Status(ev.Outcome),
		Reason: ev.Reason, Detail: ev.Detail, Runbook: ev.Runbook, From: ev.From, To: ev.To,
		Environment: ev.Environment, Seq: seq,
	}
}

func (s *state) applyResult(seq uint64, ev *Event) {
	delete(s.pending, ev.CommandID)
	s.outcomes[ev.CommandID] = outcomeOf(seq, ev)
	if b := s.bots[ev.Target]; b != nil && ev.Op == OpApply && ev.ConfigVersion != "" {
		b.configVersion = ev.ConfigVersion
	}
	if ch := s.challenges[ev.ChallengeID]; ch != nil && ch.State == ChallengeOpen {
		ch.State, ch.EndedAt = ChallengeConfirmed, parseTime(ev.Time)
		if len(ch.Approvals) > 0 {
			ch.EndedBy = ch.Approvals[len(ch.Approvals)-1].Actor
		}
	}
}

func (s *state) applyChallenge(seq uint64, ev *Event) {
	if ev.Command == nil || ev.Requires == nil || ev.Preconditions == nil {
		return
	}
	ch := &Challenge{
		ID: ev.ChallengeID, Command: *ev.Command, Requires: *ev.Requires,
		IssuedAt: parseTime(ev.IssuedAt), ExpiresAt: parseTime(ev.ExpiresAt),
		State: ChallengeOpen, Digest: ev.Digest, Summary: *ev.Preconditions,
		Live: ev.Live != nil && *ev.Live,
	}
	s.challenges[ch.ID] = ch
	delete(s.pending, ev.CommandID)
	o := outcomeOf(seq, ev)
	o.Challenge = ch
	s.outcomes[ev.CommandID] = o
}

func (s *state) applyConfirm(seq uint64, ev *Event) {
	ch := s.challenges[ev.ChallengeID]
	if ch == nil || ev.Outcome != OutcomeApproved || ch.State != ChallengeOpen {
		return
	}
	ch.Approvals = append(ch.Approvals, Approval{Actor: ev.Actor, Reason: ev.Detail, At: parseTime(ev.Time)})
	if len(ch.Approvals) >= ch.Requires.Approvers {
		// Execution starts now: a crash before its result is an interruption.
		s.pending[ch.Command.CommandID] = pendingCmd{cmd: ch.Command, seq: seq, challengeID: ch.ID}
	}
}

func (s *state) applyReject(seq uint64, ev *Event) {
	ch := s.challenges[ev.ChallengeID]
	if ch == nil {
		return
	}
	switch ev.Reason {
	case ReasonExpired:
		ch.State = ChallengeExpired
	case ReasonSuperseded:
		ch.State = ChallengeSuperseded
	default:
		ch.State = ChallengeRejected
	}
	ch.EndedBy, ch.EndedAt = ev.Actor, parseTime(ev.Time)
	delete(s.pending, ch.Command.CommandID)
	o := outcomeOf(seq, ev)
	o.Status = StatusRejected
	s.outcomes[ch.Command.CommandID] = o
}

func (s *state) applyTransition(seq uint64, ev *Event) {
	b := s.bots[ev.Target]
	if b == nil {
		return
	}
	at := parseTime(ev.Time)
	b.state, b.since, b.stuck = ev.To, at, false
	switch {
	case ev.To.IsRunning():
		b.mode = ev.Mode
	case ev.To == lifecycle.Idle || ev.To == lifecycle.Quarantined:
		b.mode = ""
	}
	b.history = append(b.history, TransitionView{From: ev.From, To: ev.To, At: at,
		Actor: ev.Actor, CommandID: ev.CommandID, Cause: ev.Cause, Seq: seq})
	if len(b.history) > maxHistory {
		b.history = b.history[len(b.history)-maxHistory:]
	}
}

func (s *state) applySafety(ev *Event) {
	c := ev.Safety
	if c == nil {
		return
	}
	s.safety = safetyEntry{effective: c.Mode, doc: SafetyDoc{
		SchemaVersion: SchemaVersion, Mode: c.Mode, Reason: c.Reason, Source: c.Source,
		UpdatedAt: parseTime(c.UpdatedAt), TTLSeconds: c.TTLSeconds,
	}}
}

func (s *state) applyGate(ev *Event) {
	c := ev.Gate
	if c == nil {
		return
	}
	k := gateKey{c.Gate, c.Scope}
	g := s.gates[k]
	if g == nil {
		g = &gateEntry{}
		s.gates[k] = g
	}
	g.effective = c.Status
	if !c.Stale {
		g.res = GateResult{Gate: c.Gate, Scope: c.Scope, Status: c.Status,
			EvaluatedAt: parseTime(c.EvaluatedAt), TTLSeconds: c.TTLSeconds, Detail: c.Detail}
		g.source = c.Source
	}
}
