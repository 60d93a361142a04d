package core

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/botwarden/botwarden/internal/lifecycle"
	"github.com/botwarden/botwarden/internal/policy"
)

// allOps lists every op in the order adapters show them.
var allOps = []Op{OpStatus, OpStart, OpStop, OpPause, OpResume, OpApply, OpQuarantine, OpRelease,
	OpKillSwitchSet, OpKillSwitchRelease, OpGateOverride, OpMonitoringDisable, OpSecretRotate, OpDataOp, OpBundle}

func copyChallenge(ch *Challenge) *Challenge {
	if ch == nil {
		return nil
	}
	c := *ch
	c.Approvals = slices.Clone(ch.Approvals)
	return &c
}

// copyOutcome detaches o from the engine's state and resolves its
// challenge as of st.
func copyOutcome(st *state, o Outcome) Outcome {
	if o.Challenge != nil {
		o.Challenge = copyChallenge(st.challenge(o.Challenge.ID))
	}
	if o.Bundle != nil {
		b := *o.Bundle
		o.Bundle = &b
	}
	return o
}

// Outcome returns the latest recorded outcome of a command_id. It takes
// no lock: it reads the published state, and the ledger for an old
// command's outcome (see Config.RecentOutcomes); that read's failure
// wraps ErrAuditUnavailable.
func (e *Engine) Outcome(ctx context.Context, commandID string) (Outcome, bool, error) {
	st := e.state()
	o, ok, err := e.lookup(ctx, st, commandID)
	if err != nil || !ok {
		return Outcome{}, ok, err
	}
	return copyOutcome(st, o), true, nil
}

// Challenge returns a challenge (open or ended) by id. It takes no lock:
// it reads the published state.
func (e *Engine) Challenge(id string) (Challenge, bool) {
	ch := e.state().challenge(id)
	if ch == nil {
		return Challenge{}, false
	}
	return *copyChallenge(ch), true
}

// MayAudit reports whether actor may read the ledger (head, verify,
// export): the policy's "audit" permission in this environment.
func (e *Engine) MayAudit(actor string) bool {
	return e.cfg.Policy.MayRequest(actor, e.cfg.Environment, policy.OpAudit)
}

// Policy returns the engine's (immutable) policy, for adapters that show
// e.g. the challenge window.
func (e *Engine) Policy() *policy.Policy { return e.cfg.Policy }

// Roles returns the roles the policy gives actor (the policy is
// immutable: no lock).
func (e *Engine) Roles(actor string) []string { return e.cfg.Policy.Roles(actor) }

// Allowed answers "what may actor request now on target": the ops the
// policy grants the actor in this environment that the target's state,
// safety, gates and kill-switch would let run now. Adapters show only
// these (least privilege). Start and resume are offered when at least
// paper would run; live still needs its challenge. It takes no lock: every
// op is checked against the same published state.
func (e *Engine) Allowed(actor, target string) []Op {
	st := e.state()
	now := e.now()
	var out []Op
	for _, op := range allOps {
		probe := Command{Actor: actor, Target: target, Op: op, Environment: e.cfg.Environment,
			RequestedTransition: string(op), Params: probeParams(op, st.killSwitchAt(target))}
		if e.checkFrom(st, &probe, now, true) == nil {
			out = append(out, op)
		}
	}
	return out
}

// TargetExists reports whether target is "global", a group:NAME with bots,
// or a bot of this engine.
func (e *Engine) TargetExists(target string) bool {
	st := e.state()
	switch {
	case target == "global":
		return true
	case strings.HasPrefix(target, "group:"):
		return len(st.groups[strings.TrimPrefix(target, "group:")]) > 0
	}
	return st.bot(target) != nil
}

func probeParams(op Op, cur Level) Params {
	switch op {
	case OpStart, OpResume:
		return Params{Mode: lifecycle.Paper}
	case OpApply:
		return Params{ConfigRef: "probe"}
	case OpKillSwitchSet:
		return Params{Level: string(LevelHalt)}
	case OpKillSwitchRelease:
		if cur == LevelHalt {
			return Params{Level: string(LevelReduceOnly)}
		}
		return Params{Level: string(LevelOff)}
	case OpGateOverride:
		return Params{Gate: "probe", Duration: "1s"}
	case OpMonitoringDisable:
		return Params{Duration: "1s"}
	case OpSecretRotate:
		return Params{SecretRef: "probe"}
	case OpDataOp:
		return Params{DataAction: "compact"}
	}
	return Params{}
}

// MayApprove reports whether actor may confirm the challenge now: it is
// open and unexpired, the actor holds the required role, is not the
// requester when a second person is required, and has not approved yet.
// It takes no lock: it reads the published state.
func (e *Engine) MayApprove(actor, challengeID string) bool {
	ch := e.state().challenge(challengeID)
	if ch == nil || e.now().After(ch.ExpiresAt) {
		return false
	}
	return e.refuseApproval(ch, actor, anyChannel, ch.Requires.TypedTarget, true) == nil
}

// Snapshot returns a consistent view of the fleet, safety, gates,
// kill-switch and open challenges: all of it as of one applied event
// (LedgerSeq), never half of a change. It takes no lock, so it answers at
// once even while a command waits on a slow driver.
func (e *Engine) Snapshot() Snapshot {
	st := e.state()
	now := e.now()
	d := st.safety.doc
	s := Snapshot{Environment: e.cfg.Environment, LedgerSeq: st.seq, At: now,
		Safety:     SafetyView{Mode: st.effectiveSafety(now), Reason: d.Reason, Source: d.Source, UpdatedAt: d.UpdatedAt},
		KillSwitch: map[string]Level{}, Gates: []GateView{}, Bots: []BotView{}, Challenges: []Challenge{}}
	for k, l := range st.killswitch {
		if l != LevelOff {
			s.KillSwitch[k] = l
		}
	}
	for k, g := range st.gates {
		gs, stale := st.gateNow(k, g, now)
		v := GateView{Gate: k.gate, Scope: k.scope, Status: gs, Reported: g.res.Status,
			EvaluatedAt: g.res.EvaluatedAt, Stale: stale, Detail: g.res.Detail}
		if until, ok := st.overrides[k]; ok && now.Before(until) {
			v.OverrideUntil = until
		}
		s.Gates = append(s.Gates, v)
	}
	sort.Slice(s.Gates, func(i, j int) bool {
		return s.Gates[i].Scope+"/"+s.Gates[i].Gate < s.Gates[j].Scope+"/"+s.Gates[j].Gate
	})
	for _, b := range st.bots {
		s.Bots = append(s.Bots, st.botView(b))
	}
	for _, ch := range st.openChallenges() {
		s.Challenges = append(s.Challenges, *copyChallenge(ch))
	}
	return s
}

// Bot returns one bot's view without building a whole Snapshot, for
// adapters on a hot path. Like Snapshot it takes no lock.
func (e *Engine) Bot(id string) (BotView, bool) {
	st := e.state()
	i, ok := st.botIndex[id]
	if !ok {
		return BotView{}, false
	}
	return st.botView(st.bots[i]), true
}

// RequestedTransition is the requested_transition a command on target
// names: FROM->TO for a lifecycle op on a known bot, FROM being its state
// now, else the op name. Adapters fill it in; operators never type it.
func (e *Engine) RequestedTransition(target string, op Op, p Params) string {
	st := e.state()
	i, ok := st.botIndex[target]
	to := lifecycleTo(&Command{Op: op, Params: p})
	if !ok || to == "" {
		return string(op)
	}
	return string(st.bots[i].state) + "->" + string(to)
}

func (s *state) botView(b *botState) BotView {
	return BotView{ID: b.id, Group: b.group, State: b.state, Mode: b.mode,
		ConfigVersion: b.configVersion, KillSwitch: s.killSwitchOn(b.id), Stuck: b.stuck,
		LastTransitions: slices.Clone(b.history)}
}
