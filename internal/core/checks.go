package core

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/botwarden/botwarden/internal/lifecycle"
)

// denial is why a well-formed command may not run: a reason code for the
// ledger and metrics, a sentence for the operator.
type denial struct {
	reason Reason
	detail string
}

func deny(r Reason, format string, args ...any) *denial {
	return &denial{reason: r, detail: fmt.Sprintf(format, args...)}
}

// safeOps run in SAFE, EMERGENCY_STOP and UNKNOWN safety: stop, diagnose,
// collect evidence (spec §5.1, §10). Everything else is denied.
var safeOps = map[Op]bool{OpStop: true, OpPause: true, OpQuarantine: true, OpKillSwitchSet: true,
	OpStatus: true, OpBundle: true}

// check runs every rule a command must pass to run now: environment,
// channel, permission, target, lifecycle, safety, gates, kill-switch and
// policy bounds. It is run at request time and again at execution time.
func (e *Engine) check(s *state, cmd *Command, now time.Time) *denial {
	return e.checkFrom(s, cmd, now, false)
}

// checkFrom is check; offer (Allowed) skips the channel rule, since it
// does not know where the actor will ask from.
func (e *Engine) checkFrom(s *state, cmd *Command, now time.Time, anyChannel bool) *denial {
	if cmd.Environment != e.cfg.Environment {
		return deny(ReasonWrongEnvironment, "this is the %s control plane; the command is for %s", e.cfg.Environment, cmd.Environment)
	}
	p := e.cfg.Policy
	if !anyChannel && !p.ChannelAllowed(cmd.Channel) {
		return deny(ReasonChannel, "commands are not accepted from channel %q", cmd.Channel)
	}
	if !p.MayRequest(cmd.Actor, e.cfg.Environment, string(cmd.Op)) {
		return deny(ReasonForbidden, "%s may not request %s in %s", cmd.Actor, cmd.Op, e.cfg.Environment)
	}
	if d := e.checkTarget(s, cmd); d != nil {
		return d
	}
	if mode := s.effectiveSafety(now); mode != SafetyNormal && !safeOps[cmd.Op] {
		return deny(ReasonSafety, "safety is %s: only stop, pause, quarantine, kill-switch tightening, status and support bundle run", mode)
	}
	return e.checkOp(s, cmd, now)
}

func (e *Engine) checkTarget(s *state, cmd *Command) *denial {
	t := cmd.Target
	switch {
	case t == "global":
	case strings.HasPrefix(t, "group:"):
		if len(s.groups[strings.TrimPrefix(t, "group:")]) == 0 {
			return deny(ReasonUnknownTarget, "no group %q in %s", strings.TrimPrefix(t, "group:"), e.cfg.Environment)
		}
	default:
		if s.bot(t) == nil {
			return deny(ReasonUnknownTarget, "no bot %q in %s", t, e.cfg.Environment)
		}
		return nil
	}
	if !TakesScope(cmd.Op) {
		return deny(ReasonUnknownTarget, "%s takes one bot id, not %s", cmd.Op, t)
	}
	return nil
}

func (e *Engine) checkOp(s *state, cmd *Command, now time.Time) *denial {
	switch cmd.Op {
	case OpStart, OpResume:
		return e.checkRun(s, cmd, now)
	case OpApply:
		return e.checkApply(s, cmd, now)
	case OpStop, OpPause, OpQuarantine, OpRelease:
		if s.bot(cmd.Target) == nil {
			return nil // fan-out: bots that cannot move are skipped
		}
		return e.checkTransition(s, cmd)
	case OpKillSwitchSet, OpKillSwitchRelease:
		return e.checkLevel(s, cmd)
	case OpGateOverride:
		return e.checkDuration(cmd, e.cfg.Policy.MaxGateOverride())
	case OpMonitoringDisable:
		if d := e.needActions(cmd); d != nil {
			return d
		}
		return e.checkDuration(cmd, e.cfg.Policy.MaxMonitoringDisable())
	case OpSecretRotate, OpDataOp:
		return e.needActions(cmd)
	case OpBundle:
		if e.deps.Bundler == nil {
			return deny(ReasonUnavailable, "support bundles are not configured on this control plane")
		}
	}
	return nil
}

// checkTransition checks the lifecycle move of a single-bot command,
// including that FROM in a FROM->TO request is the bot's state now. A
// stale FROM never blocks a move toward safety: a stop, pause or
// quarantine runs from the state the bot is in now when the lifecycle
// allows that move to the same TO (the operator's intent, "stop it",
// still holds, and the bot may be doing more than they saw); its
// transition records the real FROM and its detail says what was seen.
func (e *Engine) checkTransition(s *state, cmd *Command) *denial {
	b := s.bot(cmd.Target)
	if from, to, ok := strings.Cut(cmd.RequestedTransition, "->"); ok && lifecycle.State(from) != b.state &&
		(!safetyIncreasing(cmd.Op) || lifecycle.State(to) != lifecycleTo(cmd)) {
		return deny(ReasonTransition, "you asked %s but %s is %s now; look again and re-issue", cmd.RequestedTransition, b.id, b.state)
	}
	if cmd.Op == OpResume && b.state != lifecycle.Paused {
		return deny(ReasonTransition, "%s is %s: resume continues a PAUSED bot; use start", b.id, b.state)
	}
	to := lifecycleTo(cmd)
	if cmd.Op == OpStop && b.state == lifecycle.Quarantined {
		return nil // a stop sent again (its quarantine's may have failed); it moves nothing
	}
	if _, err := lifecycle.Check(lifecycle.Transition{From: b.state, To: to}); err != nil {
		if b.state.IsRunning() && to.IsRunning() {
			// A mode switch: the lifecycle has no RUNNING->RUNNING move, so
			// that a switch (to live above all) is never one step.
			return deny(ReasonTransition, "%s: %v; to switch a running bot's mode, pause it, then resume it naming the mode (resume --mode %s)",
				b.id, err, cmd.Params.Mode)
		}
		return deny(ReasonTransition, "%s: %v", b.id, err)
	}
	return nil
}

func (e *Engine) checkRun(s *state, cmd *Command, now time.Time) *denial {
	b := s.bot(cmd.Target)
	if cmd.Params.Mode == "" {
		if b.mode == lifecycle.Live {
			return deny(ReasonModeRequired, "%s was paused from live: name the mode (paper, shadow or live); live is never implied", b.id)
		}
		return deny(ReasonModeRequired, "name the mode (paper, shadow or live); a mode is never implied")
	}
	if d := e.checkTransition(s, cmd); d != nil {
		return d
	}
	if d := e.checkGates(s, cmd.Target, now); d != nil {
		return d
	}
	if cmd.Params.Mode == lifecycle.Live {
		if lv := s.killSwitchOn(cmd.Target); lv != LevelOff {
			return deny(ReasonKillSwitch, "kill-switch is %s on %s's scope: live is refused until it is released", lv, b.id)
		}
	}
	return nil
}

func (e *Engine) checkApply(s *state, cmd *Command, now time.Time) *denial {
	b := s.bot(cmd.Target)
	if b.state == lifecycle.Stopping || b.state == lifecycle.Quarantined {
		return deny(ReasonTransition, "%s is %s: config cannot be applied now", b.id, b.state)
	}
	if d := e.checkGates(s, cmd.Target, now); d != nil {
		return d
	}
	if e.applyIsLive(s, cmd) {
		if lv := s.killSwitchOn(cmd.Target); lv != LevelOff {
			return deny(ReasonKillSwitch, "kill-switch is %s on %s's scope: live config apply is refused", lv, b.id)
		}
	}
	return nil
}

func (e *Engine) checkGates(s *state, target string, now time.Time) *denial {
	switch st, why := s.gatesOn(target, now); st {
	case GateFail:
		return deny(ReasonGateFail, "gates fail: %s", why)
	case GateUnknown:
		return deny(ReasonGateUnknown, "gates unknown (not healthy): %s", why)
	}
	return nil
}

func (e *Engine) checkLevel(s *state, cmd *Command) *denial {
	cur, want := s.killSwitchAt(cmd.Target), Level(cmd.Params.Level)
	if cmd.Op == OpKillSwitchSet && levelRank[want] <= levelRank[cur] {
		return deny(ReasonLevel, "kill-switch on %s is %s: set only tightens (to loosen, request killswitch_release)", cmd.Target, cur)
	}
	if cmd.Op == OpKillSwitchRelease && levelRank[want] >= levelRank[cur] {
		return deny(ReasonLevel, "kill-switch on %s is %s: release only loosens", cmd.Target, cur)
	}
	return nil
}

func (e *Engine) checkDuration(cmd *Command, max time.Duration) *denial {
	d, _ := time.ParseDuration(cmd.Params.Duration)
	if d > max {
		return deny(ReasonPolicyLimit, "%s for %s exceeds the policy bound of %s", cmd.Op, d, max)
	}
	return nil
}

func (e *Engine) needActions(cmd *Command) *denial {
	if !e.hasAction(cmd.Op) {
		return deny(ReasonUnavailable, "%s needs an action, and none is configured for it (actions.%s)", cmd.Op, cmd.Op)
	}
	return nil
}

// hasAction reports whether op has an outside action to run.
func (e *Engine) hasAction(op Op) bool {
	return e.deps.Actions != nil && e.deps.Actions.Configured(op)
}

func (e *Engine) applyIsLive(s *state, cmd *Command) bool {
	b := s.bot(cmd.Target)
	return cmd.Params.Mode == lifecycle.Live || b.state == lifecycle.RunningLive || b.mode == lifecycle.Live
}

// dangerous reports whether cmd needs a confirmed challenge (spec §4.1).
func (e *Engine) dangerous(s *state, cmd *Command) bool {
	switch cmd.Op {
	case OpStart, OpResume:
		return cmd.Params.Mode == lifecycle.Live
	case OpApply:
		return s.bot(cmd.Target) != nil && e.applyIsLive(s, cmd)
	case OpKillSwitchRelease, OpGateOverride, OpMonitoringDisable, OpSecretRotate, OpDataOp, OpRelease:
		return true
	case OpBundle:
		return e.cfg.Policy.BundleDangerous()
	}
	return false
}

// safetyIncreasing ops may run unaudited when the ledger is down.
func safetyIncreasing(op Op) bool {
	return op == OpStop || op == OpPause || op == OpQuarantine || op == OpKillSwitchSet
}

// preconditions are what a challenge is bound to.
func (e *Engine) preconditions(s *state, cmd *Command, now time.Time) Preconditions {
	p := Preconditions{Safety: s.effectiveSafety(now)}
	p.Gates, _ = s.gatesOn(cmd.Target, now)
	p.KillSwitch = s.killSwitchOn(cmd.Target)
	if cmd.Op == OpKillSwitchRelease || cmd.Op == OpKillSwitchSet {
		p.KillSwitch = s.killSwitchAt(cmd.Target)
	}
	if b := s.bot(cmd.Target); b != nil {
		p.BotState, p.ConfigVersion = b.state, b.configVersion
	}
	return p
}

// digest binds a challenge to the command and what the approver saw.
func digest(cmd *Command, p Preconditions) string {
	c, _ := json.Marshal(cmd)
	q, _ := json.Marshal(p)
	h := sha256.New()
	h.Write(c)
	h.Write([]byte{'\n'})
	h.Write(q)
	return hex.EncodeToString(h.Sum(nil))
}
