package core

import (
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/botwarden/botwarden/internal/lifecycle"
)

// maxHistory is how many transitions a bot keeps for the Snapshot.
const maxHistory = 10

// botState is one bot as recorded. Once published in a state it is never
// modified: a change makes a new botState (copy on write).
type botState struct {
	id, group     string
	driver        Driver
	state         lifecycle.State
	mode          lifecycle.Mode
	configVersion string
	since         time.Time // when the current state was entered
	stuck         bool      // STOPPING past its deadline, or a reconciliation stop failed: reported
	history       []TransitionView
	// cutStop is a stop of this bot interrupted between its driver call
	// and its recorded result (found on start), or whose driver call
	// failed, until the next transition: a bot found not alive soon after
	// is completed to IDLE, not taken for a crash.
	cutStop interruptedStop
}

// interruptedStop is a stop command whose result was never recorded.
type interruptedStop struct {
	commandID string
	at        time.Time // when the interruption was recorded
}

type gateKey struct{ gate, scope string }

// gateEntry is the last reported result of one gate on one scope and the
// effective status last recorded for it. Immutable once published.
type gateEntry struct {
	res       GateResult
	source    string
	effective GateStatus
}

type safetyEntry struct {
	doc       SafetyDoc
	effective SafetyMode
}

// state is everything the engine derives from the ledger, as of one
// applied event (gen). A published state is immutable: apply and mutate
// return a new state that shares every part the change did not touch
// (copy on write), so readers use whatever state they loaded without a
// lock and never see half of a change. What grows with the ledger (every
// challenge, every outcome) lives in the shared index, versioned by gen.
type state struct {
	gen        uint64 // changes applied so far; the index is read as of gen
	seq        uint64 // last ledger seq applied
	bots       []*botState
	botIndex   map[string]int // bot id -> position in bots (fixed)
	order      []string       // bot ids, sorted (fixed)
	groups     map[string][]string
	killswitch map[string]Level
	overrides  map[gateKey]time.Time
	monitoring time.Time // monitoring disabled until
	gates      map[gateKey]*gateEntry
	safety     safetyEntry
	challenges map[string]*Challenge // open ones only
	service    serviceRun
	idx        *index
}

type pendingCmd struct {
	cmd         Command
	seq         uint64
	challengeID string
}

func newState(cfg Config) *state {
	s := &state{
		botIndex: map[string]int{}, groups: map[string][]string{},
		killswitch: map[string]Level{}, overrides: map[gateKey]time.Time{},
		gates: map[gateKey]*gateEntry{}, challenges: map[string]*Challenge{},
		safety: safetyEntry{effective: SafetyUnknown}, idx: newIndex(cfg.RecentOutcomes),
	}
	for _, b := range cfg.Bots {
		s.order = append(s.order, b.ID)
		if b.Group != "" {
			s.groups[b.Group] = append(s.groups[b.Group], b.ID)
		}
	}
	sort.Strings(s.order)
	for _, ids := range s.groups {
		sort.Strings(ids)
	}
	byID := map[string]BotConfig{}
	for _, b := range cfg.Bots {
		byID[b.ID] = b
	}
	for i, id := range s.order {
		b := byID[id]
		s.botIndex[id] = i
		s.bots = append(s.bots, &botState{id: b.ID, group: b.Group, driver: b.Driver,
			state: lifecycle.Created, configVersion: b.ConfigVersion})
	}
	return s
}

// bot returns the recorded bot id, or nil for an unknown id.
func (s *state) bot(id string) *botState {
	if i, ok := s.botIndex[id]; ok {
		return s.bots[i]
	}
	return nil
}

// botsOf lists the bots a target names: one bot, a group's, or the
// fleet's (global), in the config's order. The slice is shared.
func (s *state) botsOf(target string) []string {
	switch {
	case target == "global":
		return s.order
	case strings.HasPrefix(target, "group:"):
		return s.groups[strings.TrimPrefix(target, "group:")]
	case s.bot(target) != nil:
		return []string{target}
	}
	return nil
}

// challenge returns a challenge (open or ended) as of this state. The
// value is shared: callers must not modify it.
func (s *state) challenge(id string) *Challenge {
	if ch := s.challenges[id]; ch != nil {
		return ch
	}
	ch, _ := s.idx.challenges.at(id, s.gen)
	return ch
}

// next starts the successor of s: a shallow copy one gen later.
func (s *state) next() *state {
	n := *s
	n.gen++
	return &n
}

// withBot returns a copy of s in which bot id is edited by fn.
func (s *state) withBot(id string, fn func(b *botState)) {
	i, ok := s.botIndex[id]
	if !ok {
		return
	}
	b := *s.bots[i]
	fn(&b)
	s.bots = append([]*botState(nil), s.bots...)
	s.bots[i] = &b
}

// withChallenge replaces challenge ch (already copied) in s and records
// its new version in the index; ended challenges leave the open set.
func (s *state) withChallenge(ch *Challenge) {
	s.idx.challenges.put(ch.ID, s.gen, ch)
	_, open := s.challenges[ch.ID]
	if ch.State == ChallengeOpen || open {
		s.challenges = maps.Clone(s.challenges)
		if ch.State == ChallengeOpen {
			s.challenges[ch.ID] = ch
		} else {
			delete(s.challenges, ch.ID)
		}
	}
}

// apply folds one recorded event into a successor of s and returns it;
// s itself is not modified. seq 0 means unaudited. It is the only way
// events change the state, used alike by recording and by replay.
func (s *state) apply(seq uint64, ev *Event) *state {
	n := s.next()
	if seq > n.seq {
		n.seq = seq
	}
	switch ev.Type {
	case EvRequested:
		if ev.Command != nil {
			n.idx.pending[ev.CommandID] = pendingCmd{cmd: *ev.Command, seq: seq}
		}
	case EvApplied, EvDenied, EvFailed:
		n.applyResult(seq, ev)
	case EvChallenge:
		n.applyChallenge(seq, ev)
	case EvConfirm:
		n.applyConfirm(seq, ev)
	case EvReject:
		n.applyReject(seq, ev)
	case EvTransition:
		n.applyTransition(seq, ev)
	case EvStuck:
		n.withBot(ev.Target, func(b *botState) { b.stuck = true })
	case EvKillSwitch:
		if ev.KillSwitch != nil {
			n.killswitch = maps.Clone(n.killswitch)
			n.killswitch[ev.KillSwitch.Scope] = ev.KillSwitch.Level
		}
	case EvOverride:
		if o := ev.Override; o != nil {
			n.overrides = maps.Clone(n.overrides)
			n.overrides[gateKey{o.Gate, o.Scope}] = parseTime(o.Until)
		}
	case EvOverrideExpired:
		if o := ev.Override; o != nil {
			n.overrides = maps.Clone(n.overrides)
			delete(n.overrides, gateKey{o.Gate, o.Scope})
		}
	case EvMonitoring:
		n.monitoring = parseTime(ev.Until)
	case EvSafety:
		n.applySafety(ev)
	case EvGate:
		n.applyGate(ev)
	case EvStarted, EvStopped:
		n.applyService(ev)
	}
	return n
}

func (s *state) applyResult(seq uint64, ev *Event) {
	delete(s.idx.pending, ev.CommandID)
	o, _ := outcomeFrom(seq, ev)
	s.idx.outcomes.put(ev.CommandID, s.gen, o)
	if ev.Op == OpApply && ev.ConfigVersion != "" {
		s.withBot(ev.Target, func(b *botState) { b.configVersion = ev.ConfigVersion })
	}
	if ev.Op == OpStop {
		s.applyStopResult(ev)
	}
	if old := s.challenges[ev.ChallengeID]; old != nil {
		ch := copyChallenge(old)
		ch.State, ch.EndedAt = ChallengeConfirmed, parseTime(ev.Time)
		if len(ch.Approvals) > 0 {
			ch.EndedBy = ch.Approvals[len(ch.Approvals)-1].Actor
		}
		s.withChallenge(ch)
	}
}

// applyStopResult follows what a stop's result says of its bots (one, a
// group's or the fleet's). A stop whose driver call failed (a timeout,
// say) may have taken effect all the same, like one a crash interrupted:
// each bot it did not move is marked, so one found not alive soon after
// is completed to IDLE, not taken for a crash. A stop applied to a
// QUARANTINED bot (sent again) clears its stuck report.
func (s *state) applyStopResult(ev *Event) {
	cut := ev.Reason == ReasonInterrupted || ev.Reason == ReasonDriver
	applied := ev.Outcome == string(StatusApplied)
	for _, id := range s.botsOf(ev.Target) {
		b := s.bot(id)
		switch {
		case cut && (b.state.IsRunning() || b.state == lifecycle.Paused):
			s.withBot(id, func(b *botState) { b.cutStop = interruptedStop{ev.CommandID, parseTime(ev.Time)} })
		case applied && b.state == lifecycle.Quarantined && b.stuck:
			s.withBot(id, func(b *botState) { b.stuck = false })
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
		Live: ev.Live != nil && *ev.Live, policy: s.service.policyDigest,
	}
	s.withChallenge(ch)
	delete(s.idx.pending, ev.CommandID)
	o, _ := outcomeFrom(seq, ev)
	s.idx.outcomes.put(ev.CommandID, s.gen, o)
}

func (s *state) applyConfirm(seq uint64, ev *Event) {
	old := s.challenges[ev.ChallengeID]
	if old == nil || ev.Outcome != OutcomeApproved {
		return
	}
	ch := copyChallenge(old)
	ch.Approvals = append(ch.Approvals, Approval{Actor: ev.Actor, Reason: ev.Detail, At: parseTime(ev.Time)})
	s.withChallenge(ch)
	if len(ch.Approvals) >= ch.Requires.Approvers {
		// Execution starts now: a crash before its result is an interruption.
		s.idx.pending[ch.Command.CommandID] = pendingCmd{cmd: ch.Command, seq: seq, challengeID: ch.ID}
	}
}

func (s *state) applyReject(seq uint64, ev *Event) {
	old := s.challenge(ev.ChallengeID)
	if old == nil {
		return
	}
	ch := copyChallenge(old)
	switch ev.Reason {
	case ReasonExpired:
		ch.State = ChallengeExpired
	case ReasonSuperseded:
		ch.State = ChallengeSuperseded
	default:
		ch.State = ChallengeRejected
	}
	ch.EndedBy, ch.EndedAt = ev.Actor, parseTime(ev.Time)
	s.withChallenge(ch)
	delete(s.idx.pending, ch.Command.CommandID)
	o, _ := outcomeFrom(seq, ev)
	s.idx.outcomes.put(ch.Command.CommandID, s.gen, o)
}

func (s *state) applyTransition(seq uint64, ev *Event) {
	at := parseTime(ev.Time)
	s.withBot(ev.Target, func(b *botState) {
		b.state, b.since, b.stuck, b.cutStop = ev.To, at, false, interruptedStop{}
		switch {
		case ev.To.IsRunning():
			b.mode = ev.Mode
		case ev.To == lifecycle.Idle || ev.To == lifecycle.Quarantined:
			b.mode = ""
		}
		h := make([]TransitionView, 0, min(len(b.history)+1, maxHistory))
		if len(b.history) >= maxHistory {
			h = append(h, b.history[len(b.history)-maxHistory+1:]...)
		} else {
			h = append(h, b.history...)
		}
		b.history = append(h, TransitionView{From: ev.From, To: ev.To, At: at,
			Actor: ev.Actor, CommandID: ev.CommandID, Cause: ev.Cause, Seq: seq})
	})
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
	g := gateEntry{}
	if old := s.gates[k]; old != nil {
		g = *old
	}
	g.effective = c.Status
	if !c.Stale {
		g.res = GateResult{Gate: c.Gate, Scope: c.Scope, Status: c.Status,
			EvaluatedAt: parseTime(c.EvaluatedAt), TTLSeconds: c.TTLSeconds, Detail: c.Detail}
		g.source = c.Source
	}
	s.withGate(k, g)
}

// withGate replaces one gate entry (copy on write).
func (s *state) withGate(k gateKey, g gateEntry) {
	s.gates = maps.Clone(s.gates)
	s.gates[k] = &g
}
