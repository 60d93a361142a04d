package core

import (
	"context"
	"errors"
	"fmt"
)

// run is one command on its way to execution.
type run struct {
	cmd       *Command
	ch        *Challenge // the confirmed challenge, for dangerous ops
	intent    *Event     // not recorded yet: finish records it with the result
	effects   []*Event   // what already happened, not recorded yet: finish records them before the result, in one append
	unaudited bool       // the ledger refused a record; effects were applied anyway
}

// Submit takes one operator command. A malformed command returns an error
// wrapping ErrInvalidCommand and nothing is recorded. Otherwise the intent
// is recorded first, then the command is challenged (dangerous ops) or
// executed, and the result is recorded. A status, or a denial of any op
// but the safety-increasing ones (which record their intent first
// whatever happens), has no effect but the answer: intent and result are
// recorded together, in one append, before answering. A command_id seen
// before returns its recorded outcome with Duplicate set and has no
// effect.
//
// Commands on different targets run concurrently; commands on the same
// bot, group or "global" one at a time; fleet-wide changes alone (see
// lockFor). A duplicate of a command still running waits for it.
func (e *Engine) Submit(ctx context.Context, cmd Command) (Outcome, error) {
	if err := e.scrub(&cmd); err != nil {
		return Outcome{}, err
	}
	if err := e.valid.validateCommand(&cmd); err != nil {
		return Outcome{}, err
	}
	release, o, seen := e.reserve(ctx, &cmd)
	if seen {
		return e.duplicate(ctx, &cmd, o), nil
	}
	defer release()
	defer e.lockFor(&cmd)()
	defer e.supersedeDrifted(ctx, e.covered(&cmd))
	now := e.now()
	r := &run{cmd: &cmd}
	ev := e.commandEvent(EvRequested, &cmd)
	ev.Command, ev.Params = &cmd, paramsOf(&cmd)
	// The locks held keep the check's inputs until the result is recorded;
	// recording the intent changes nothing it reads.
	d := e.check(e.state(), &cmd, now)
	if !safetyIncreasing(cmd.Op) && (d != nil || cmd.Op == OpStatus) {
		// A denial or a status has no effect but its answer: the intent
		// and the result are recorded together, in one append, before
		// the answer (finish).
		r.intent = ev
		if d != nil {
			return e.finishDenied(ctx, r, d), nil
		}
		return e.execute(ctx, r, now), nil
	}
	if _, err := e.record(ctx, ev); err != nil {
		if !safetyIncreasing(cmd.Op) {
			return e.unrecorded(&cmd, err), nil
		}
		e.recordUnaudited(ev, err)
		r.unaudited = true
	}
	if d != nil {
		return e.finishDenied(ctx, r, d), nil
	}
	if e.dangerous(e.state(), &cmd) {
		return e.issue(ctx, r, now), nil
	}
	return e.execute(ctx, r, now), nil
}

// scrub keeps what people paste by mistake out of the ledger (Deps.Scrubber):
// a command's reason is recorded with its secrets replaced by markers, and
// a reference that is a secret (a token given as config_ref or secret_ref)
// makes the command malformed, so nothing of it is recorded.
func (e *Engine) scrub(cmd *Command) error {
	sc := e.deps.Scrubber
	if sc == nil {
		return nil
	}
	for _, ref := range []struct{ name, value string }{
		{"config_ref", cmd.Params.ConfigRef}, {"secret_ref", cmd.Params.SecretRef},
	} {
		if ref.value != "" && sc.IsSecret(ref.value) {
			return fmt.Errorf("%w: params.%s looks like a secret value: give its reference, never the value", ErrInvalidCommand, ref.name)
		}
	}
	cmd.Reason = sc.Redact(cmd.Reason)
	return nil
}

// Redact returns text people sent with its secrets replaced
// (Deps.Scrubber), for adapters that record it themselves.
func (e *Engine) Redact(text string) string { return e.redacted(text) }

// redacted is text people typed, with its secrets replaced (Deps.Scrubber).
func (e *Engine) redacted(s string) string {
	if e.deps.Scrubber == nil {
		return s
	}
	return e.deps.Scrubber.Redact(s)
}

// unrecorded refuses a command whose intent the ledger cannot record:
// nothing was done.
func (e *Engine) unrecorded(cmd *Command, err error) Outcome {
	e.log.Error().Err(err).Str("command_id", cmd.CommandID).Str("op", string(cmd.Op)).
		Msg("command refused: its intent cannot be recorded")
	o := e.outcome(cmd, StatusDenied, ReasonLedgerUnavailable,
		"the audit ledger cannot record this command, so it is refused; stop, pause, quarantine and kill-switch tightening still run")
	e.m.command(o)
	return o
}

// seen returns the recorded outcome of a command_id, if it was ever
// requested (including one whose result never made it to the ledger).
// A retired outcome is not whole: only o.Seq is set, to be read back
// outside the lock (readBack). Callers hold applyMu.
func (e *Engine) seen(id string) (o Outcome, whole, ok bool) {
	st := e.state()
	if o, whole, ok := st.idx.outcomes.at(id, st.gen); ok {
		return o, whole, true
	}
	if p, ok := st.idx.pending[id]; ok {
		return Outcome{CommandID: id, Op: p.cmd.Op, Target: p.cmd.Target, Status: StatusFailed,
			Reason: ReasonLedgerUnavailable, Detail: "the original command's result was never recorded",
			Environment: e.cfg.Environment}, true, true
	}
	return Outcome{}, false, false
}

func (e *Engine) duplicate(ctx context.Context, cmd *Command, o Outcome) Outcome {
	o = copyOutcome(e.state(), o)
	detail := "command_id already seen: no second effect"
	if o.Op != cmd.Op || o.Target != cmd.Target {
		// Another command under a used id: answering the first one's
		// outcome would tell a script its stop was applied when what was
		// applied was, say, a status. It did nothing, and says so.
		detail = fmt.Sprintf("command_id %s was used for %s on %s: this %s on %s did nothing; give every command its own id",
			cmd.CommandID, o.Op, o.Target, cmd.Op, cmd.Target)
		o = e.outcome(cmd, StatusDenied, ReasonIDConflict, detail)
	}
	o.Duplicate = true
	ev := e.commandEvent(EvDuplicate, cmd)
	ev.Outcome, ev.Reason, ev.Detail = string(o.Status), o.Reason, detail
	if _, err := e.record(ctx, ev); err != nil {
		e.log.Error().Err(err).Str("command_id", cmd.CommandID).Msg("duplicate suppressed but not recorded")
	}
	e.m.command(o)
	return o
}

// paramsOf returns the params worth recording (nil when empty).
func paramsOf(cmd *Command) *Params {
	if cmd.Params == (Params{}) {
		return nil
	}
	p := cmd.Params
	return &p
}

func (e *Engine) outcome(cmd *Command, st Status, r Reason, detail string) Outcome {
	o := Outcome{CommandID: cmd.CommandID, Op: cmd.Op, Target: cmd.Target, Status: st,
		Reason: r, Detail: detail, Environment: e.cfg.Environment}
	if r != "" && st != StatusApplied {
		o.Runbook = e.runbook(string(r))
	}
	return o
}

// emit records ev; if the ledger refuses, the effect it describes has
// already happened (or is safety-increasing), so it is applied and logged
// loudly as unaudited rather than lost.
func (e *Engine) emit(ctx context.Context, r *run, ev *Event) uint64 {
	seq, err := e.record(ctx, ev)
	if err != nil {
		if r != nil {
			r.unaudited = true
		}
		e.recordUnaudited(ev, err)
	}
	return seq
}

func (e *Engine) finishDenied(ctx context.Context, r *run, d *denial) Outcome {
	return e.finish(ctx, r, StatusDenied, d.reason, d.detail, nil)
}

// finish records the result of r and returns its outcome.
func (e *Engine) finish(ctx context.Context, r *run, st Status, reason Reason, detail string, edit func(*Event)) Outcome {
	typ := EvFailed
	switch st {
	case StatusApplied:
		typ = EvApplied
	case StatusDenied:
		typ = EvDenied
	}
	o := e.outcome(r.cmd, st, reason, detail)
	ev := e.commandEvent(typ, r.cmd)
	ev.Outcome, ev.Reason, ev.Detail, ev.Runbook = string(st), reason, detail, o.Runbook
	ev.Params = paramsOf(r.cmd)
	ev.UnauditedIntent = r.unaudited
	if r.ch != nil {
		ev.ChallengeID, ev.Requester = r.ch.ID, r.cmd.Actor
		for _, a := range r.ch.Approvals {
			ev.Approvers = append(ev.Approvers, a.Actor)
		}
	}
	if edit != nil {
		edit(ev)
	}
	o.From, o.To, o.Bundle = ev.From, ev.To, ev.Bundle
	switch {
	case r.intent != nil: // nothing happened yet: unrecorded means refused
		seqs, err := e.recordAll(ctx, r.intent, ev)
		r.intent = nil
		if err != nil {
			return e.unrecorded(r.cmd, err)
		}
		o.Seq = seqs[1]
	case len(r.effects) > 0: // they happened: unrecorded means applied, loudly
		evs := append(r.effects, ev)
		r.effects = nil
		if seqs, err := e.recordAll(ctx, evs...); err != nil {
			for _, x := range evs {
				e.recordUnaudited(x, err)
			}
		} else {
			o.Seq = seqs[len(seqs)-1]
		}
	default:
		o.Seq = e.emit(ctx, r, ev)
	}
	e.m.command(o)
	if st != StatusApplied {
		e.log.Info().Str("command_id", r.cmd.CommandID).Str("op", string(r.cmd.Op)).
			Str("target", r.cmd.Target).Str("status", string(st)).Str("reason", string(reason)).Msg("command not applied")
	}
	return o
}

// errDetail renders a driver/action error for the ledger, bounded and
// with any secret in it replaced (a bot or an action may echo a
// credential in its error: a 401 naming the token it refused, a rotation
// endpoint echoing the new key).
func (e *Engine) errDetail(err error) string {
	s := e.redacted(err.Error())
	if errors.Is(err, context.DeadlineExceeded) {
		s = "timed out: " + s
	}
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

func (e *Engine) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.cfg.DriverTimeout)
}
