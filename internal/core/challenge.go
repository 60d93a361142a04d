package core

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/botwarden/botwarden/internal/lifecycle"
)

// issue records a challenge for a dangerous command and does nothing else.
func (e *Engine) issue(ctx context.Context, r *run, now time.Time) Outcome {
	cmd := r.cmd
	st := e.state()
	pre := e.preconditions(st, cmd, now)
	req := e.cfg.Policy.Requirement(string(cmd.Op))
	ch := &Challenge{
		ID: e.deps.NewID(), Command: *cmd, IssuedAt: now.UTC(), ExpiresAt: now.Add(e.cfg.Policy.ChallengeWindow()).UTC(),
		Requires: Requirements{Role: req.Role, Approvers: req.Approvers, SecondPerson: req.SecondPerson, TypedTarget: cmd.Target},
		State:    ChallengeOpen, Digest: digest(cmd, pre), Summary: pre, Live: touchesLive(st, cmd),
	}
	ev := e.commandEvent(EvChallenge, cmd)
	ev.Command, ev.Outcome, ev.ChallengeID = cmd, string(StatusChallenged), ch.ID
	ev.Requires, ev.Digest, ev.Preconditions, ev.Live = &ch.Requires, ch.Digest, &pre, &ch.Live
	ev.IssuedAt, ev.ExpiresAt = fmtTime(ch.IssuedAt), fmtTime(ch.ExpiresAt)
	seq, err := e.record(ctx, ev)
	if err != nil {
		e.log.Error().Err(err).Str("command_id", cmd.CommandID).Msg("challenge refused: ledger unavailable")
		o := e.outcome(cmd, StatusDenied, ReasonLedgerUnavailable, "the audit ledger cannot record a challenge, so the dangerous op is refused")
		e.m.command(o)
		return o
	}
	e.m.challenges.WithLabelValues("issued").Inc()
	o := e.latestOutcome(ctx, e.challengeOutcome(cmd, ch.ID))
	o.Seq = seq
	o.Detail = fmt.Sprintf("dangerous op: %d approval(s) by role %s needed before %s", req.Approvers, req.Role, shownTime(ch.ExpiresAt))
	e.m.command(o)
	return o
}

// latestOutcome returns the recorded outcome of fallback's command as of
// the current state, detached. fallback, what the caller knows the
// outcome to be, stands in for a retired outcome the ledger cannot give
// back now.
func (e *Engine) latestOutcome(ctx context.Context, fallback Outcome) Outcome {
	st := e.state()
	o, ok, err := e.lookup(ctx, st, fallback.CommandID)
	if err != nil {
		e.log.Warn().Err(err).Str("command_id", fallback.CommandID).Msg("outcome not read back; answering what is known")
	}
	if err != nil || !ok {
		o = fallback
	}
	return copyOutcome(st, o)
}

// challengeOutcome is the outcome of cmd while its challenge id is open.
func (e *Engine) challengeOutcome(cmd *Command, id string) Outcome {
	o := e.outcome(cmd, StatusChallenged, "", "")
	o.Challenge = &Challenge{ID: id}
	return o
}

func touchesLive(st *state, cmd *Command) bool {
	b := st.bot(cmd.Target)
	return cmd.Params.Mode == lifecycle.Live || (b != nil && (b.state == lifecycle.RunningLive || b.mode == lifecycle.Live))
}

// Confirm records an approver's explicit confirm of a challenge. When the
// last required approval arrives, every precondition and rule is checked
// again and the command executes only if nothing changed since the
// challenge was issued; otherwise the challenge ends as superseded.
func (e *Engine) Confirm(ctx context.Context, req ConfirmRequest) (Outcome, error) {
	if !actorPattern(req.Actor) || strings.TrimSpace(req.Reason) == "" {
		return Outcome{}, fmt.Errorf("%w: a confirm needs an actor and a reason", ErrInvalidCommand)
	}
	req.Reason = e.redacted(req.Reason)
	ch := e.state().challenge(req.ChallengeID)
	if ch == nil {
		return Outcome{}, fmt.Errorf("%w: %q", ErrUnknownChallenge, req.ChallengeID)
	}
	defer e.lockFor(&ch.Command)()
	defer e.supersedeDrifted(ctx, e.covered(&ch.Command))
	ch = e.state().challenge(ch.ID) // as it is now that nothing else can change it
	now := e.now()
	if ch.State == ChallengeSuperseded {
		return e.confirmSuperseded(ctx, ch, req.Actor), nil
	}
	if ch.State == ChallengeOpen && now.After(ch.ExpiresAt) {
		e.expire(ctx, ch)
		ch = e.state().challenge(ch.ID)
	}
	if d := e.refuseApproval(ch, req.Actor, req.Channel, req.TypedTarget, true); d != nil {
		return e.confirmDenied(ctx, ch, req.Actor, d), nil
	}
	if d := e.drift(e.state(), ch, now); d != nil {
		return e.supersede(ctx, ch, req.Actor, d.detail), nil
	}
	ev := e.commandEvent(EvConfirm, &ch.Command)
	ev.Actor, ev.ChallengeID, ev.Outcome, ev.Detail = req.Actor, ch.ID, OutcomeApproved, req.Reason
	ev.Approvals = ptr(len(ch.Approvals) + 1)
	if _, err := e.record(ctx, ev); err != nil {
		e.log.Error().Err(err).Str("challenge_id", ch.ID).Msg("confirm refused: ledger unavailable")
		return e.outcome(&ch.Command, StatusDenied, ReasonLedgerUnavailable,
			"the audit ledger cannot record the confirm, so nothing executes; try again when it is back"), nil
	}
	e.m.challenges.WithLabelValues("approved").Inc()
	ch = e.state().challenge(ch.ID)
	if len(ch.Approvals) < ch.Requires.Approvers {
		o := e.latestOutcome(ctx, e.challengeOutcome(&ch.Command, ch.ID))
		o.Detail = fmt.Sprintf("%d of %d approvals", len(ch.Approvals), ch.Requires.Approvers)
		return o, nil
	}
	r := &run{cmd: &ch.Command, ch: ch}
	if d := e.check(e.state(), r.cmd, now); d != nil {
		return e.supersede(ctx, ch, req.Actor, "no longer allowed: "+d.detail), nil
	}
	e.m.challenges.WithLabelValues("confirmed").Inc()
	return e.execute(ctx, r, now), nil
}

// anyChannel makes refuseApproval skip the channel rule (MayApprove does
// not know where the approver will answer from).
const anyChannel = "\x00any"

// refuseApproval says why actor may not confirm (confirm=true) or reject
// the challenge now, or nil.
func (e *Engine) refuseApproval(ch *Challenge, actor, channel, typed string, confirm bool) *denial {
	if ch.State != ChallengeOpen {
		return deny(ReasonChallengeClosed, "challenge %s is closed: %s by %s at %s; ask again if still needed",
			ch.ID, ch.State, ch.EndedBy, shownTime(ch.EndedAt))
	}
	if len(ch.Approvals) >= ch.Requires.Approvers {
		// Its last confirm started the command; only its result is not
		// recorded yet (an earlier run was interrupted and the ledger has
		// refused to record that so far). Another confirm would run it twice.
		return deny(ReasonChallengeClosed, "challenge %s has all its approvals: its command ran (interrupted, result not recorded yet); check the bot, ask again if still needed", ch.ID)
	}
	if channel != anyChannel && !e.cfg.Policy.ChannelAllowed(channel) {
		return deny(ReasonChannel, "confirmations are not accepted from channel %q", channel)
	}
	requester := ch.Command.Actor
	if !confirm && actor == requester {
		return nil // a requester may always withdraw their own request
	}
	if !e.cfg.Policy.HasRole(actor, ch.Requires.Role) {
		return deny(ReasonForbidden, "%s does not hold role %s required for this challenge", actor, ch.Requires.Role)
	}
	if !confirm {
		return nil
	}
	if ch.Requires.SecondPerson && actor == requester {
		return deny(ReasonSelfConfirm, "a second person must confirm: %s requested this", actor)
	}
	if slices.ContainsFunc(ch.Approvals, func(a Approval) bool { return a.Actor == actor }) {
		return deny(ReasonAlreadyApproved, "%s already approved; %d distinct approvers are needed", actor, ch.Requires.Approvers)
	}
	if typed != ch.Requires.TypedTarget {
		return deny(ReasonTargetMismatch, "type the target exactly (%q) to confirm", ch.Requires.TypedTarget)
	}
	return nil
}

// drift reports which precondition changed since the challenge was issued.
func (e *Engine) drift(st *state, ch *Challenge, now time.Time) *denial {
	if d := e.policyDrift(ch); d != nil {
		return d
	}
	pre := e.preconditions(st, &ch.Command, now)
	if digest(&ch.Command, pre) == ch.Digest {
		return nil
	}
	was := ch.Summary
	var diffs []string
	add := func(name string, a, b any) {
		if a != b {
			diffs = append(diffs, fmt.Sprintf("%s %v -> %v", name, a, b))
		}
	}
	add("bot state", was.BotState, pre.BotState)
	add("safety", was.Safety, pre.Safety)
	add("kill-switch", was.KillSwitch, pre.KillSwitch)
	add("config version", was.ConfigVersion, pre.ConfigVersion)
	add("gates", was.Gates, pre.Gates)
	return deny(ReasonSuperseded, "changed since the challenge was issued: %s", strings.Join(diffs, ", "))
}

func (e *Engine) confirmDenied(ctx context.Context, ch *Challenge, actor string, d *denial) Outcome {
	ev := e.commandEvent(EvConfirm, &ch.Command)
	ev.Actor, ev.ChallengeID, ev.Outcome, ev.Reason, ev.Detail = actor, ch.ID, string(StatusDenied), d.reason, d.detail
	ev.Approvals = ptr(len(ch.Approvals))
	o := e.outcome(&ch.Command, StatusDenied, d.reason, d.detail)
	o.Seq = e.emit(ctx, nil, ev)
	o.Challenge = copyChallenge(ch)
	return o
}

// confirmSuperseded answers a confirm of a challenge that was already
// superseded (proactively, when a precondition changed): the confirm is
// recorded as denied, and the approver gets the command's outcome, which
// says what changed — as if the confirm itself had found the change.
func (e *Engine) confirmSuperseded(ctx context.Context, ch *Challenge, actor string) Outcome {
	o := e.latestOutcome(ctx, e.outcome(&ch.Command, StatusRejected, ReasonSuperseded, "the challenge was superseded"))
	e.confirmDenied(ctx, ch, actor, deny(ReasonSuperseded, "challenge %s was superseded at %s: %s", ch.ID, shownTime(ch.EndedAt), o.Detail))
	return o
}

// endChallenge records a dangerous_op.reject ending ch with reason.
func (e *Engine) endChallenge(ctx context.Context, ch *Challenge, actor string, reason Reason, detail string) Outcome {
	ev := e.commandEvent(EvReject, &ch.Command)
	ev.Actor, ev.ChallengeID, ev.Outcome, ev.Reason, ev.Detail = actor, ch.ID, string(StatusRejected), reason, detail
	ev.Runbook = e.runbook(string(reason))
	seq := e.emit(ctx, nil, ev)
	e.m.challenges.WithLabelValues(string(reason)).Inc()
	o := e.latestOutcome(ctx, e.outcome(&ch.Command, StatusRejected, reason, detail))
	o.Seq = seq
	e.m.command(o)
	return o
}

func (e *Engine) supersede(ctx context.Context, ch *Challenge, actor, detail string) Outcome {
	return e.endChallenge(ctx, ch, actor, ReasonSuperseded, detail+"; nothing was executed, ask again")
}

func (e *Engine) expire(ctx context.Context, ch *Challenge) Outcome {
	return e.endChallenge(ctx, ch, SystemActor, ReasonExpired,
		fmt.Sprintf("challenge expired at %s without enough confirms; nothing was executed", shownTime(ch.ExpiresAt)))
}

// Reject ends an open challenge explicitly. Approvers holding the required
// role may reject; the requester may withdraw their own request.
func (e *Engine) Reject(ctx context.Context, req RejectRequest) (Outcome, error) {
	if !actorPattern(req.Actor) || strings.TrimSpace(req.Reason) == "" {
		return Outcome{}, fmt.Errorf("%w: a reject needs an actor and a reason", ErrInvalidCommand)
	}
	req.Reason = e.redacted(req.Reason)
	ch := e.state().challenge(req.ChallengeID)
	if ch == nil {
		return Outcome{}, fmt.Errorf("%w: %q", ErrUnknownChallenge, req.ChallengeID)
	}
	defer e.lockFor(&ch.Command)()
	defer e.supersedeDrifted(ctx, e.covered(&ch.Command))
	ch = e.state().challenge(ch.ID)
	if ch.State == ChallengeOpen && e.now().After(ch.ExpiresAt) {
		e.expire(ctx, ch)
		ch = e.state().challenge(ch.ID)
	}
	if d := e.refuseApproval(ch, req.Actor, req.Channel, "", false); d != nil {
		return e.confirmDenied(ctx, ch, req.Actor, d), nil
	}
	return e.endChallenge(ctx, ch, req.Actor, ReasonRejected, "rejected by "+req.Actor+": "+req.Reason), nil
}

func actorPattern(s string) bool { return botIDPatternActor.MatchString(s) }
