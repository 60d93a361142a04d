package core

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/botwarden/botwarden/docs/contracts"
)

// SetSafety takes a safety state document from the safety system. It is
// validated against docs/contracts/safety_state.schema.json; a change of
// the effective mode is recorded as safety.transition before it counts.
func (e *Engine) SetSafety(ctx context.Context, doc SafetyDoc) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode safety doc: %w", err)
	}
	if err := e.valid.v.Validate(contracts.SafetyState, b); err != nil {
		return fmt.Errorf("safety doc: %w", err)
	}
	now := e.now()
	if e.refreshSafety(doc, now) {
		return nil
	}
	e.lk.fleet.Lock()
	defer e.lk.fleet.Unlock()
	defer e.supersedeDrifted(ctx, allChallenges)
	now = e.now()
	mode := doc.Mode
	if safetyStale(doc, now) {
		mode = SafetyUnknown
	}
	st := e.state()
	prev := st.effectiveSafety(now)
	if mode == prev && mode == st.safety.effective {
		e.setSafetyDoc(doc) // a refresh: nothing changed worth a ledger entry
		return nil
	}
	ev := systemEvent(EvSafety, "global")
	ev.Safety = &SafetyChange{Mode: mode, Previous: prev, Reason: doc.Reason, Source: doc.Source,
		UpdatedAt: fmtTime(doc.UpdatedAt), TTLSeconds: doc.TTLSeconds}
	if _, err := e.record(ctx, ev); err != nil {
		return err
	}
	e.setSafetyDoc(doc)
	return nil
}

// refreshSafety keeps doc as the last report, without the fleet lock, if
// it leaves the effective mode as it is (a refresh changes nothing a
// check depends on). It reports whether it did.
func (e *Engine) refreshSafety(doc SafetyDoc, now time.Time) bool {
	mode := doc.Mode
	if safetyStale(doc, now) {
		mode = SafetyUnknown
	}
	e.lk.applyMu.Lock()
	defer e.lk.applyMu.Unlock()
	st := e.state()
	if mode != st.effectiveSafety(now) || mode != st.safety.effective {
		return false
	}
	n := st.next()
	n.safety.doc = doc
	e.commit(n)
	return true
}

// setSafetyDoc keeps doc as the last safety report (not an event).
func (e *Engine) setSafetyDoc(doc SafetyDoc) {
	e.mutate(func(n *state) { n.safety.doc = doc })
}

// DefaultSafetyTTL is how long a safety document without ttl_seconds (or
// with 0) counts: a safety state that never expires would keep the fleet
// NORMAL after its publisher died (spec §5.2: unobservable is not healthy).
const DefaultSafetyTTL = 60 * time.Second

func safetyStale(doc SafetyDoc, now time.Time) bool {
	ttl := time.Duration(doc.TTLSeconds) * time.Second
	if ttl <= 0 {
		ttl = DefaultSafetyTTL
	}
	return now.After(doc.UpdatedAt.Add(ttl))
}

// effectiveSafety is the safety mode now: UNKNOWN without data or when the
// last document went stale.
func (s *state) effectiveSafety(now time.Time) SafetyMode {
	sf := s.safety
	if sf.doc.Mode == "" || safetyStale(sf.doc, now) {
		return SafetyUnknown
	}
	return sf.doc.Mode
}

// SetGates takes gate results from a gate source. The document is
// validated against docs/contracts/gate_results.schema.json; every change
// of a gate's effective status is recorded as gate.transition.
func (e *Engine) SetGates(ctx context.Context, doc GatesDoc) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encode gates doc: %w", err)
	}
	if err := e.valid.v.Validate(contracts.GateResults, b); err != nil {
		return fmt.Errorf("gates doc: %w", err)
	}
	if e.refreshGates(doc, e.now()) {
		return nil
	}
	e.lk.fleet.Lock()
	defer e.lk.fleet.Unlock()
	defer e.supersedeDrifted(ctx, allChallenges)
	now := e.now()
	for _, r := range doc.Results {
		if err := e.setGate(ctx, r, doc.Source, now); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) setGate(ctx context.Context, r GateResult, source string, now time.Time) error {
	k := gateKey{r.Gate, r.Scope}
	g := e.state().gates[k]
	status := r.Status
	if gateStale(r, now) {
		status = GateUnknown
	}
	prev := GateUnknown
	if g != nil {
		prev = g.effective
	}
	if g != nil && status == prev {
		e.setGateReport(k, r, source) // refresh
		return nil
	}
	ev := systemEvent(EvGate, r.Scope)
	ev.Gate = &GateChange{Gate: r.Gate, Scope: r.Scope, Status: status, Previous: prev,
		EvaluatedAt: fmtTime(r.EvaluatedAt), TTLSeconds: r.TTLSeconds, Stale: gateStale(r, now), Source: source, Detail: r.Detail}
	_, err := e.record(ctx, ev)
	if err == nil {
		// The recorded status may say UNKNOWN for a stale report; keep the
		// report itself so a later refresh compares against it.
		e.setGateReport(k, r, e.state().gates[k].source)
	}
	return err
}

// refreshGates keeps every result of doc as its gate's last report,
// without the fleet lock, if none changes a gate's effective status. It
// reports whether it did (all or nothing).
func (e *Engine) refreshGates(doc GatesDoc, now time.Time) bool {
	e.lk.applyMu.Lock()
	defer e.lk.applyMu.Unlock()
	n := e.state().next()
	for _, r := range doc.Results {
		k := gateKey{r.Gate, r.Scope}
		g := n.gates[k]
		status := r.Status
		if gateStale(r, now) {
			status = GateUnknown
		}
		if g == nil || g.effective != status {
			return false
		}
		c := *g
		c.res, c.source = r, doc.Source
		n.withGate(k, c)
	}
	e.commit(n)
	return true
}

// setGateReport keeps r as the last report of gate k (not an event).
func (e *Engine) setGateReport(k gateKey, r GateResult, source string) {
	e.mutate(func(n *state) {
		g := *n.gates[k]
		g.res, g.source = r, source
		n.withGate(k, g)
	})
}

func gateStale(r GateResult, now time.Time) bool {
	return r.EvaluatedAt.IsZero() || now.After(r.EvaluatedAt.Add(time.Duration(r.TTLSeconds)*time.Second))
}

// gateNow is a gate's effective status now: a stale (or missing) result
// is UNKNOWN, override or not; an active override counts a fresh result
// (FAIL, say) as PASS. An override is a person's decision about a result
// they can see; it never stands in for data nobody has (spec §5.2, §10).
func (s *state) gateNow(k gateKey, g *gateEntry, now time.Time) (GateStatus, bool) {
	if gateStale(g.res, now) {
		return GateUnknown, true
	}
	if until, ok := s.overrides[k]; ok && now.Before(until) {
		return GatePass, false
	}
	return g.res.Status, false
}

// scopesOf returns the scopes that apply to target: global, its group and
// itself for a bot; global and the group for a group; global for global.
func (s *state) scopesOf(target string) []string {
	if b := s.bot(target); b != nil {
		out := []string{"global"}
		if b.group != "" {
			out = append(out, "group:"+b.group)
		}
		return append(out, target)
	}
	if strings.HasPrefix(target, "group:") {
		return []string{"global", target}
	}
	return []string{"global"}
}

// gatesOn returns the worst effective gate status on target's scopes and a
// sentence naming the gates that are not PASS. No gate at all is UNKNOWN:
// missing data is never healthy.
func (s *state) gatesOn(target string, now time.Time) (GateStatus, string) {
	scopes := map[string]bool{}
	for _, sc := range s.scopesOf(target) {
		scopes[sc] = true
	}
	worst, found := GatePass, false
	var bad []string
	for k, g := range s.gates {
		if !scopes[k.scope] {
			continue
		}
		found = true
		st, stale := s.gateNow(k, g, now)
		if st == GatePass {
			continue
		}
		note := fmt.Sprintf("%s on %s is %s", k.gate, k.scope, st)
		if stale {
			note += " (stale: no result within its ttl)"
		}
		bad = append(bad, note)
		if st == GateFail || worst == GatePass {
			worst = st
		}
	}
	if !found {
		return GateUnknown, "no gate result covers " + target
	}
	sort.Strings(bad)
	return worst, strings.Join(bad, "; ")
}

var levelRank = map[Level]int{"": 0, LevelOff: 0, LevelReduceOnly: 1, LevelHalt: 2}

// killSwitchOn returns the tightest kill-switch level over target's scopes.
func (s *state) killSwitchOn(target string) Level {
	lv := LevelOff
	for _, sc := range s.scopesOf(target) {
		if l := s.killswitch[sc]; levelRank[l] > levelRank[lv] {
			lv = l
		}
	}
	return lv
}

// killSwitchAt returns the level set on exactly scope.
func (s *state) killSwitchAt(scope string) Level {
	if l, ok := s.killswitch[scope]; ok {
		return l
	}
	return LevelOff
}
