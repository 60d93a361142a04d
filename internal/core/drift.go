package core

import (
	"context"
	"fmt"
	"strings"

	"github.com/botwarden/botwarden/internal/lifecycle"
)

// drift says how a bot's driver contradicts its record in the direction
// that matters: the bot doing more than the ledger says it may. It
// returns "" when there is no such contradiction. A bot doing less than
// recorded (dead while running or paused) is ERROR, not drift; a bot
// paused while recorded running is left alone, as is a mode the driver
// does not report.
//
// Drift has two origins: a command interrupted between its driver call and
// its recorded transition (a crash, or a driver call that timed out after
// the bot acted), and someone acting on the bot outside the control plane.
func drift(b *botState, st BotStatus) string {
	switch {
	case (b.state == lifecycle.Idle || b.state == lifecycle.Error) && st.Alive:
		return fmt.Sprintf("recorded %s, but its driver reports it %s", b.state, aliveAs(st))
	case b.state == lifecycle.Paused && st.Alive && !st.Paused && !st.PauseUnknown:
		return fmt.Sprintf("recorded PAUSED, but its driver reports it %s", aliveAs(st))
	case b.state.IsRunning() && st.Alive && st.Mode != "" && st.Mode != b.mode:
		return fmt.Sprintf("recorded %s, but its driver reports it %s", b.state, aliveAs(st))
	}
	return ""
}

// aliveAs describes an alive bot's status for a drift cause.
func aliveAs(st BotStatus) string {
	what := "running"
	if st.Paused {
		what = "paused"
	}
	if st.Mode == "" {
		return what + " (mode not reported)"
	}
	return what + " in mode " + string(st.Mode)
}

// quarantineDrift isolates a drifted bot: the move to QUARANTINED is
// recorded first (so no command can start or resume it from then on, and
// the ledger holds the cause before the control plane acts), then the bot
// is stopped. The stop is safety-increasing, so it runs even when the
// ledger refused the record. A stop that fails is recorded as bot.stuck:
// the bot may still be trading. Callers hold the fleet lock shared and the
// bot's lock; seq identifies the drift, so a repeat sends the driver the
// same stop.
func (e *Engine) quarantineDrift(ctx context.Context, b *botState, seq uint64, why string) {
	ev := systemEvent(EvTransition, b.id)
	ev.From, ev.To = b.state, lifecycle.Quarantined
	ev.Cause = clip("record and reality disagree: "+why, 480)
	ev.Detail = "quarantined and stopped by reconciliation. It stays QUARANTINED until a confirmed release; before releasing, find out what the bot did while unrecorded (its own log and positions)."
	ev.Runbook = e.runbook("quarantined")
	e.log.Error().Str("bot", b.id).Str("cause", ev.Cause).Msg("bot drifted from its record: quarantining and stopping it")
	e.m.drifted.WithLabelValues(b.id).Inc()
	e.emit(ctx, nil, ev)

	meta := BotMeta{Bot: b.id, CommandID: fmt.Sprintf("reconcile:%s:%d", b.id, seq)}
	dctx, cancel := e.bounded(ctx)
	defer cancel()
	if err := b.driver.Stop(dctx, meta); err != nil {
		e.log.Error().Err(err).Str("bot", b.id).Msg("drifted bot could not be stopped")
		e.reportStuck(ctx, e.stuckQuarantined(b.id, err))
	}
}

// stuckQuarantined is the bot.stuck report of a bot quarantined (by a
// command or by reconciliation) whose stop failed.
func (e *Engine) stuckQuarantined(id string, err error) *Event {
	stuck := systemEvent(EvStuck, id)
	stuck.From = lifecycle.Quarantined
	stuck.Detail = clip(fmt.Sprintf("%s is QUARANTINED, but stopping it failed: %s. It may still be trading: stop it again (stop %s sends its driver a stop and leaves it QUARANTINED) or by hand. A support bundle (op support_bundle on %s) is being built now as evidence.",
		id, e.errDetail(err), id, id), 1900)
	stuck.Runbook = e.runbook("quarantined")
	return stuck
}

// clip cuts s to at most n bytes without splitting a character.
func clip(s string, n int) string {
	if len(s) > n {
		return strings.ToValidUTF8(s[:n], "")
	}
	return s
}
