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
// initialised. New runs it before the engine is
// shared.
func (e *Engine) recover(ctx context.Context) error {
	st := e.state()
	pend := make([]pendingCmd, 0, len(st.idx.pending))
	for _, p := range st.idx.pending {
		pend = append(pend, p)
	}
	sort.Slice(pend, func(i, j int) bool { return pend[i].seq < pend[j].seq })
	for _, p := range pend {
		cmd := p.cmd
		ev := e.commandEvent(EvFailed, &cmd)
		ev.Outcome, ev.Reason, ev.ChallengeID = string(StatusFailed), ReasonInterrupted, p.challengeID
		ev.Detail = "the service stopped between recording this command's intent and its result; the bot's state is what its last recorded transition says, and reconciliation asks its driver within seconds: a bot doing more than that is quarantined and stopped, and an interrupted stop that took effect is completed to IDLE"
		ev.Runbook = e.runbook(string(ReasonInterrupted))
		if _, err := e.record(ctx, ev); err != nil {
			return err
		}
	}
	now := e.now()
	policyChanged := e.policyChanged()
	for _, ch := range e.state().openChallenges() {
		var o Outcome
		switch {
		case now.After(ch.ExpiresAt):
			o = e.expire(ctx, ch)
		case policyChanged != "":
			o = e.supersede(ctx, ch, SystemActor, policyChanged)
		default:
			continue
		}
		if o.Seq == 0 {
			return fmt.Errorf("record the end of %s: %w", ch.ID, ErrAuditUnavailable)
		}
	}
	for _, b := range e.state().bots {
		if b.state == lifecycle.Created {
			ev := systemEvent(EvTransition, b.id)
			ev.From, ev.To, ev.Cause = lifecycle.Created, lifecycle.Idle, "initialised"
			if _, err := e.record(ctx, ev); err != nil {
				return err
			}
		}
	}
	return nil
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
