package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/botwarden/botwarden/internal/lifecycle"
)

// execute carries out an authorised command and records its effects and
// result. Callers hold the locks lockFor(r.cmd) takes and have run check.
func (e *Engine) execute(ctx context.Context, r *run, now time.Time) Outcome {
	cmd := r.cmd
	switch cmd.Op {
	case OpStart, OpResume, OpStop, OpPause, OpQuarantine, OpRelease:
		if b := e.state().bot(cmd.Target); b != nil {
			return e.runBot(ctx, r, b.id)
		}
		return e.runFanOut(ctx, r)
	case OpApply:
		return e.runApply(ctx, r)
	case OpKillSwitchSet, OpKillSwitchRelease:
		return e.runKillSwitch(ctx, r)
	case OpGateOverride:
		return e.runOverride(ctx, r, now)
	case OpMonitoringDisable, OpSecretRotate, OpDataOp:
		return e.runAction(ctx, r, now)
	case OpBundle:
		return e.runBundle(ctx, r)
	case OpStatus:
		return e.finish(ctx, r, StatusApplied, "", e.statusLine(cmd.Target, now), nil)
	}
	return e.finishDenied(ctx, r, deny(ReasonInvalid, "unsupported op %s", cmd.Op))
}

// step moves one bot: the driver call, then the transition, which it
// returns for the caller to record (nil when the driver refused).
func (e *Engine) step(ctx context.Context, r *run, id string) (*Event, error) {
	cmd := r.cmd
	b := e.state().bot(id)
	from, to := b.state, lifecycleTo(cmd)
	meta := BotMeta{Bot: b.id, CommandID: cmd.CommandID, TraceID: cmd.TraceID, RunID: cmd.RunID}
	dctx, cancel := e.bounded(ctx)
	defer cancel()
	var err, after error
	switch cmd.Op {
	case OpStart:
		err = b.driver.Start(dctx, meta, cmd.Params.Mode)
	case OpResume:
		err = b.driver.Resume(dctx, meta, cmd.Params.Mode)
	case OpStop:
		err = b.driver.Stop(dctx, meta)
	case OpPause:
		err = b.driver.Pause(dctx, meta)
	case OpQuarantine:
		if from != lifecycle.Idle && from != lifecycle.Created {
			// Isolation wins even if the stop fails; the failure is reported.
			if serr := b.driver.Stop(dctx, meta); serr != nil {
				after = fmt.Errorf("quarantined, but stopping it failed: %w", serr)
			}
		}
	}
	if err != nil || cmd.Op == OpStop && from == lifecycle.Quarantined {
		return nil, err // a stop sent again to a QUARANTINED bot moves nothing
	}
	ev := e.commandEvent(EvTransition, cmd)
	ev.Target, ev.From, ev.To, ev.Cause = b.id, from, to, "command "+string(cmd.Op)
	if to.IsRunning() {
		ev.Mode = cmd.Params.Mode
	}
	return ev, after
}

// runBot moves one bot. Its transition and the command's result both
// follow the driver call, so finish records them together, in one append.
func (e *Engine) runBot(ctx context.Context, r *run, id string) Outcome {
	from := e.state().bot(id).state
	tr, err := e.step(ctx, r, id)
	if r.cmd.Op == OpStop && from == lifecycle.Quarantined {
		if err != nil {
			return e.finish(ctx, r, StatusFailed, ReasonDriver, e.errDetail(err), nil)
		}
		return e.finish(ctx, r, StatusApplied, "", fmt.Sprintf("%s: stop sent to its driver; it stays QUARANTINED until a confirmed release", id), nil)
	}
	to := from // unchanged when the driver refused
	if tr != nil {
		to = tr.To
		r.effects = append(r.effects, tr)
	}
	edit := func(ev *Event) {
		if ev.From = from; to != from {
			ev.To = to
		}
	}
	if err != nil {
		// A quarantine that could not stop the bot is still a quarantine,
		// of a bot that may still be trading: reported stuck, with evidence.
		o := e.finish(ctx, r, StatusFailed, ReasonDriver, e.errDetail(err), edit)
		if r.cmd.Op == OpQuarantine {
			e.reportStuck(ctx, e.stuckQuarantined(id, err))
		}
		return o
	}
	detail := fmt.Sprintf("%s: %s -> %s", id, from, to)
	if seen, _, ok := strings.Cut(r.cmd.RequestedTransition, "->"); ok && r.cmd.Target == id && lifecycle.State(seen) != from {
		detail += fmt.Sprintf(" (you saw %s; it was %s when this ran)", seen, from)
	}
	return e.finish(ctx, r, StatusApplied, "", detail, edit)
}

// runFanOut applies stop, pause or quarantine to every bot of a group or
// the fleet; bots that cannot make the move are skipped and named.
func (e *Engine) runFanOut(ctx context.Context, r *run) Outcome {
	ids := e.state().botsOf(r.cmd.Target)
	var moved, skipped, failed []string
	for _, id := range ids {
		b := e.state().bot(id)
		restop := r.cmd.Op == OpStop && b.state == lifecycle.Quarantined // sent again; it stays QUARANTINED
		if _, err := lifecycle.Check(lifecycle.Transition{From: b.state, To: lifecycleTo(r.cmd)}); err != nil && !restop {
			skipped = append(skipped, fmt.Sprintf("%s (%s)", id, b.state))
			continue
		}
		tr, err := e.step(ctx, r, id)
		if tr != nil { // each bot's move is recorded before the next bot's
			e.emit(ctx, r, tr)
		}
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s (%s)", id, e.errDetail(err)))
			if r.cmd.Op == OpQuarantine {
				e.reportStuck(ctx, e.stuckQuarantined(id, err))
			}
			continue
		}
		moved = append(moved, id)
	}
	detail := fmt.Sprintf("%s on %s: done %v; skipped %v; failed %v", r.cmd.Op, r.cmd.Target, moved, skipped, failed)
	if len(failed) > 0 {
		return e.finish(ctx, r, StatusFailed, ReasonDriver, detail, nil)
	}
	return e.finish(ctx, r, StatusApplied, "", detail, nil)
}

func (e *Engine) runApply(ctx context.Context, r *run) Outcome {
	b := e.state().bot(r.cmd.Target)
	dctx, cancel := e.bounded(ctx)
	defer cancel()
	meta := BotMeta{Bot: b.id, CommandID: r.cmd.CommandID, TraceID: r.cmd.TraceID, RunID: r.cmd.RunID}
	if err := b.driver.Apply(dctx, meta, r.cmd.Params.ConfigRef); err != nil {
		return e.finish(ctx, r, StatusFailed, ReasonDriver, e.errDetail(err), nil)
	}
	return e.finish(ctx, r, StatusApplied, "", fmt.Sprintf("%s now runs config %s", b.id, r.cmd.Params.ConfigRef),
		func(ev *Event) { ev.ConfigVersion = r.cmd.Params.ConfigRef })
}

func (e *Engine) action(ctx context.Context, r *run) error {
	if !e.hasAction(r.cmd.Op) {
		return nil // the core's alone (kill-switch, override); needActions denied the others
	}
	dctx, cancel := e.bounded(ctx)
	defer cancel()
	return e.deps.Actions.Run(dctx, ActionRequest{Op: r.cmd.Op, Target: r.cmd.Target, Params: r.cmd.Params,
		CommandID: r.cmd.CommandID, TraceID: r.cmd.TraceID, Actor: r.cmd.Actor})
}

// runKillSwitch pushes the level out and records it. A tightening is
// recorded (and enforced by the core) even if the push fails: the core
// refuses live under it either way, and the failure is reported.
func (e *Engine) runKillSwitch(ctx context.Context, r *run) Outcome {
	err := e.action(ctx, r)
	if err != nil && r.cmd.Op == OpKillSwitchRelease {
		return e.finish(ctx, r, StatusFailed, ReasonDriver, e.errDetail(err), nil)
	}
	prev := e.state().killSwitchAt(r.cmd.Target)
	ev := e.commandEvent(EvKillSwitch, r.cmd)
	ev.KillSwitch = &KillSwitchSet{Scope: r.cmd.Target, Level: Level(r.cmd.Params.Level), Previous: prev}
	e.emit(ctx, r, ev)
	if err != nil {
		return e.finish(ctx, r, StatusFailed, ReasonDriver,
			"kill-switch recorded and enforced by the control plane, but the execution layer did not confirm: "+e.errDetail(err), nil)
	}
	return e.finish(ctx, r, StatusApplied, "", fmt.Sprintf("kill-switch on %s: %s -> %s", r.cmd.Target, prev, r.cmd.Params.Level), nil)
}

// runOverride pushes the override to its action, if one is configured,
// and records it only once that succeeded: like a kill-switch release, a
// loosening the outside world did not take is not made.
func (e *Engine) runOverride(ctx context.Context, r *run, now time.Time) Outcome {
	if err := e.action(ctx, r); err != nil {
		return e.finish(ctx, r, StatusFailed, ReasonDriver, "gate override not applied: "+e.errDetail(err), nil)
	}
	d, _ := time.ParseDuration(r.cmd.Params.Duration)
	until := now.Add(d)
	ev := e.commandEvent(EvOverride, r.cmd)
	ev.Override = &OverrideSet{Gate: r.cmd.Params.Gate, Scope: r.cmd.Target, Until: fmtTime(until)}
	e.emit(ctx, r, ev)
	return e.finish(ctx, r, StatusApplied, "", fmt.Sprintf("gate %s on %s counts as PASS until %s", r.cmd.Params.Gate, r.cmd.Target, shownTime(until)), nil)
}

func (e *Engine) runAction(ctx context.Context, r *run, now time.Time) Outcome {
	if err := e.action(ctx, r); err != nil {
		return e.finish(ctx, r, StatusFailed, ReasonDriver, e.errDetail(err), nil)
	}
	if r.cmd.Op == OpMonitoringDisable {
		d, _ := time.ParseDuration(r.cmd.Params.Duration)
		ev := e.commandEvent(EvMonitoring, r.cmd)
		ev.Until = fmtTime(now.Add(d))
		e.emit(ctx, r, ev)
	}
	return e.finish(ctx, r, StatusApplied, "", fmt.Sprintf("%s on %s done", r.cmd.Op, r.cmd.Target), nil)
}

func (e *Engine) runBundle(ctx context.Context, r *run) Outcome {
	dctx, cancel := e.bounded(ctx)
	defer cancel()
	res, err := e.deps.Bundler.Build(dctx, BundleRequest{Target: r.cmd.Target, Actor: r.cmd.Actor,
		Reason: r.cmd.Reason, CommandID: r.cmd.CommandID})
	if errors.Is(err, ErrBundleLeak) {
		return e.finish(ctx, r, StatusDenied, ReasonBundleLeak, e.errDetail(err), nil)
	}
	if err != nil {
		return e.finish(ctx, r, StatusFailed, ReasonDriver, e.errDetail(err), nil)
	}
	ref := &BundleRef{Path: res.Path, SHA256: res.SHA256, ManifestSHA256: res.ManifestSHA256}
	ev := e.commandEvent(EvBundle, r.cmd)
	ev.Bundle = ref
	e.emit(ctx, r, ev)
	// The result names the bundle too, so its outcome (and a duplicate's,
	// and one read back from the ledger) says where to fetch it.
	return e.finish(ctx, r, StatusApplied, "", "support bundle "+res.Path, func(ev *Event) { ev.Bundle = ref })
}

// statusLine summarises target for a status command.
func (e *Engine) statusLine(target string, now time.Time) string {
	st := e.state()
	g, _ := st.gatesOn(target, now)
	s := fmt.Sprintf("safety %s; gates %s; kill-switch %s", st.effectiveSafety(now), g, st.killSwitchOn(target))
	if b := st.bot(target); b != nil {
		s = fmt.Sprintf("%s is %s; %s", b.id, b.state, s)
	}
	return s
}
