package core

import (
	"context"
	"fmt"
	"sort"

	"github.com/botwarden/botwarden/internal/lifecycle"
)

// replay rebuilds the state from every recorded event, refusing a ledger
// that belongs to another environment.
func (e *Engine) replay(ctx context.Context) error {
	err := e.deps.Auditor.Replay(ctx, func(seq uint64, b []byte) error {
		ev, err := decodeEvent(b)
		if err != nil {
			return fmt.Errorf("seq %d: %w", seq, err)
		}
		if ev.Environment != e.cfg.Environment {
			return fmt.Errorf("%w: seq %d belongs to environment %q, this engine serves %q",
				ErrConfig, seq, ev.Environment, e.cfg.Environment)
		}
		e.cur.Store(e.state().apply(seq, ev))
		e.late.noteRecorded(ev)
		return nil
	})
	if err != nil {
		return fmt.Errorf("replay ledger: %w", err)
	}
	return nil
}

// recover settles what the replay found unfinished: commands interrupted
// between intent and result, challenges that expired while the service
// was down or were issued under another policy, and bots never
// initialised. New runs it before the engine is shared.
//
// What the ledger refuses to record (it may refuse at start: a full disk,
// the start record itself refused) stays unsettled but does not stop the
// service, so that stop, pause, quarantine and kill-switch tightening
// still run. Tick records it once the ledger takes appends again
// (settleRecovery; challenges through settle). Until then a duplicate of
// an interrupted command is answered as failed (seen), an expired
// challenge or one issued under another policy cannot be confirmed
// (Confirm expires it or finds the drift first), and a bot still CREATED
// cannot be started (the lifecycle has no such transition).
func (e *Engine) recover(ctx context.Context) {
	st := e.state()
	for _, p := range st.idx.pending {
		e.recovery.interrupted = append(e.recovery.interrupted, p)
	}
	sort.Slice(e.recovery.interrupted, func(i, j int) bool {
		return e.recovery.interrupted[i].seq < e.recovery.interrupted[j].seq
	})
	e.settleRecovery(ctx)
	now := e.now()
	for _, ch := range e.state().openChallenges() {
		if now.After(ch.ExpiresAt) {
			e.expire(ctx, ch)
		} else if d := e.policyDrift(ch); d != nil {
			e.supersede(ctx, ch, SystemActor, d.detail)
		}
	}
}

// settleRecovery records the failure of every command an earlier run left
// between intent and result, and the initialisation of bots still
// CREATED, as far as the ledger takes them; what it refuses is left for
// the next call (Tick's). Callers hold the fleet lock exclusively (no
// command runs meanwhile) or are New.
func (e *Engine) settleRecovery(ctx context.Context) {
	r := &e.recovery
	left := r.interrupted[:0]
	var err error
	for _, p := range r.interrupted {
		e.lk.applyMu.Lock()
		_, still := e.state().idx.pending[p.cmd.CommandID]
		e.lk.applyMu.Unlock()
		if !still {
			continue // its result is recorded after all
		}
		if err == nil {
			err = e.recordInterrupted(ctx, p)
		}
		if err != nil {
			left = append(left, p)
		}
	}
	r.interrupted = left
	created := 0
	for _, b := range e.state().bots {
		if b.state != lifecycle.Created {
			continue
		}
		if err == nil {
			ev := systemEvent(EvTransition, b.id)
			ev.From, ev.To, ev.Cause = lifecycle.Created, lifecycle.Idle, "initialised"
			_, err = e.record(ctx, ev)
		}
		if err != nil {
			created++
		}
	}
	if err != nil {
		e.log.Error().Err(err).Int("interrupted_commands", len(left)).Int("bots_not_initialised", created).
			Msg("the previous run's unfinished work is not recorded yet; retried every tick")
	}
	r.pending.Store(err != nil)
}

func (e *Engine) recordInterrupted(ctx context.Context, p pendingCmd) error {
	cmd := p.cmd
	detail := "the service stopped between recording this command's intent and its result; the bot's state is what its last recorded transition says, and reconciliation asks its driver within seconds: a bot doing more than that is quarantined and stopped, and an interrupted stop that took effect is completed to IDLE"
	if cmd.Op == OpQuarantine && !e.recovery.completed[cmd.CommandID] && e.check(e.state(), &cmd, e.now()) == nil {
		e.completeQuarantine(ctx, &cmd)
		if e.recovery.completed == nil {
			e.recovery.completed = map[string]bool{}
		}
		e.recovery.completed[cmd.CommandID] = true
	}
	if e.recovery.completed[cmd.CommandID] {
		detail = "the service stopped between recording this quarantine's intent and its result; it was completed on start: its bots are QUARANTINED (recorded before this) and were sent a stop"
	}
	ev := e.commandEvent(EvFailed, &cmd)
	ev.Outcome, ev.Reason, ev.ChallengeID = string(StatusFailed), ReasonInterrupted, p.challengeID
	ev.Detail = detail
	ev.Runbook = e.runbook(string(ReasonInterrupted))
	_, err := e.record(ctx, ev)
	return err
}

// completeQuarantine finishes a quarantine a restart interrupted. Callers
// check first that it would still be allowed: its intent is recorded
// before its check, and a refused one must not be carried out. Every bot
// of its target not QUARANTINED yet is moved there (recorded by the
// system, linked to the command; applied unaudited and recorded late if
// the ledger refuses, as a quarantine always is) and sent a stop; a stop
// that fails is reported stuck. An operator who asked to isolate a bot
// must not find it, after a crash, in ERROR and startable without a
// release. Safe to repeat: bots already QUARANTINED are skipped.
func (e *Engine) completeQuarantine(ctx context.Context, cmd *Command) {
	for _, id := range e.state().botsOf(cmd.Target) {
		b := e.state().bot(id)
		if b.state == lifecycle.Quarantined {
			continue
		}
		ev := systemEvent(EvTransition, id)
		ev.From, ev.To, ev.CommandID = b.state, lifecycle.Quarantined, cmd.CommandID
		ev.Cause = "quarantine " + cmd.CommandID + " was interrupted by a restart; completed on start"
		e.emit(ctx, nil, ev)
		if b.state == lifecycle.Idle || b.state == lifecycle.Created {
			continue
		}
		dctx, cancel := e.bounded(ctx)
		err := b.driver.Stop(dctx, BotMeta{Bot: id, CommandID: cmd.CommandID, TraceID: cmd.TraceID, RunID: cmd.RunID})
		cancel()
		if err != nil {
			e.reportStuck(ctx, e.stuckQuarantined(id, err))
		}
	}
}

// openChallenges returns the open challenges, oldest first.
func (s *state) openChallenges() []*Challenge {
	out := make([]*Challenge, 0, len(s.challenges))
	for _, ch := range s.challenges {
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.IssuedAt.Equal(b.IssuedAt) {
			return a.ID < b.ID
		}
		return a.IssuedAt.Before(b.IssuedAt)
	})
	return out
}
