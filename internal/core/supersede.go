package core

import (
	"context"
	"time"
)

// Proactive supersede: a challenge is bound to the preconditions its
// approvers saw (Digest). As soon as one of them changes — the bot's
// state, safety, the kill-switch on its scope, its config version, the
// gates — the challenge can never be confirmed any more, so it is ended
// as superseded right away (audited as a dangerous_op.reject with reason
// superseded and what changed, by the system actor) and adapters update
// its message at once. Whoever changes state ends the challenges its
// locks cover; Tick ends the rest within one tick.

// allChallenges covers every challenge: for holders of the exclusive
// fleet lock.
func allChallenges(*Challenge) bool { return true }

// covered returns which challenges the locks lockFor(cmd) takes cover:
// all of them for a fleet-wide change, else those whose command takes
// the same target lock.
func (e *Engine) covered(cmd *Command) func(*Challenge) bool {
	if exclusive(cmd) {
		return allChallenges
	}
	if e.lk.targets[cmd.Target] == nil {
		return func(*Challenge) bool { return false }
	}
	return func(ch *Challenge) bool { return !exclusive(&ch.Command) && ch.Command.Target == cmd.Target }
}

// supersedeDrifted ends as superseded every open, unexpired challenge
// covers accepts whose preconditions changed. Callers hold the locks
// covers stands for.
func (e *Engine) supersedeDrifted(ctx context.Context, covers func(*Challenge) bool) {
	now := e.now()
	for _, ch := range e.state().openChallenges() {
		if covers(ch) && !now.After(ch.ExpiresAt) {
			e.supersedeIfDrifted(ctx, ch, now)
		}
	}
}

func (e *Engine) supersedeIfDrifted(ctx context.Context, ch *Challenge, now time.Time) {
	if d := e.drift(e.state(), ch, now); d != nil {
		e.supersede(ctx, ch, SystemActor, d.detail)
	}
}

// settle is Tick's pass over one open challenge: under its command's
// locks, it expires it if its window passed, or supersedes it if a
// precondition changed.
func (e *Engine) settle(ctx context.Context, ch *Challenge) {
	defer e.lockFor(&ch.Command)()
	ch = e.state().challenge(ch.ID)
	if ch.State != ChallengeOpen {
		return
	}
	if now := e.now(); now.After(ch.ExpiresAt) {
		e.expire(ctx, ch)
	} else {
		e.supersedeIfDrifted(ctx, ch, now)
	}
}

// unsettled reports whether Tick must settle ch: it expired or drifted.
func (e *Engine) unsettled(st *state, ch *Challenge, now time.Time) bool {
	return now.After(ch.ExpiresAt) || e.drift(st, ch, now) != nil
}
