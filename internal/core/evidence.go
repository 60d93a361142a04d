package core

import (
	"context"
	"fmt"
	"sync"
)

// Evidence: a bot reported stuck (bot.stuck: STOPPING past StopTimeout,
// or quarantined by reconciliation with a stop that failed) gets a
// runbook link and a support bundle (spec §10). The bundle is built by the
// control plane itself, at the end of the Tick that reported it, so the
// logs and ledger of the moment are kept before they rotate, without
// waiting for someone to ask. It is recorded as a support_bundle command
// of the system actor (command_id evidence:BOT:SEQ, SEQ the bot.stuck
// entry) and stays on the server: fetching it needs the support_bundle
// permission, like any bundle.

// evidenceQueue lists the stuck reports whose bundle is still to build.
type evidenceQueue struct {
	mu    sync.Mutex
	stuck []stuckReport
}

type stuckReport struct {
	bot string
	seq uint64 // the bot.stuck entry
}

// reportStuck records ev (a bot.stuck event) and queues its bundle.
func (e *Engine) reportStuck(ctx context.Context, ev *Event) {
	seq := e.emit(ctx, nil, ev)
	if e.deps.Bundler == nil || seq == 0 { // no bundles here, or the ledger is down: it would refuse the bundle too
		return
	}
	e.evidence.mu.Lock()
	e.evidence.stuck = append(e.evidence.stuck, stuckReport{bot: ev.Target, seq: seq})
	e.evidence.mu.Unlock()
}

// collectEvidence builds the queued bundles, one after the other. Tick
// calls it last, holding no lock: a bundle reads the ledger and the logs
// for a second or so, and commands go on meanwhile.
func (e *Engine) collectEvidence(ctx context.Context) {
	e.evidence.mu.Lock()
	todo := e.evidence.stuck
	e.evidence.stuck = nil
	e.evidence.mu.Unlock()
	for _, s := range todo {
		o := e.evidenceBundle(ctx, s)
		if o.Status != StatusApplied || o.Op != OpBundle {
			e.log.Error().Str("bot", s.bot).Str("reason", string(o.Reason)).Str("detail", o.Detail).
				Msg("support bundle for a stuck bot not built; request one by hand")
		}
	}
}

func (e *Engine) evidenceBundle(ctx context.Context, s stuckReport) Outcome {
	id := fmt.Sprintf("evidence:%s:%d", s.bot, s.seq)
	cmd := Command{SchemaVersion: SchemaVersion, CommandID: id, Actor: SystemActor, Target: s.bot, Op: OpBundle,
		Environment: e.cfg.Environment, TraceID: id, RunID: id,
		Reason: fmt.Sprintf("%s reported stuck (entry %d): evidence kept automatically", s.bot, s.seq)}
	cmd.RequestedTransition = e.RequestedTransition(cmd.Target, cmd.Op, cmd.Params)
	// The id is predictable, so someone may have used it already: an id
	// is never run twice, whoever ran it.
	release, o, seen := e.reserve(ctx, &cmd)
	if seen {
		return o
	}
	defer release()
	ev := e.commandEvent(EvRequested, &cmd)
	ev.Command, ev.Params = &cmd, paramsOf(&cmd)
	if _, err := e.record(ctx, ev); err != nil {
		return e.unrecorded(&cmd, err)
	}
	return e.runBundle(ctx, &run{cmd: &cmd})
}
