package chatops

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/botwarden/botwarden/internal/core"
)

// queueSize bounds notices waiting for Slack. The core's notices are
// already in the ledger; past this, the oldest Slack copies are dropped
// (counted), never the core blocked.
const queueSize = 4096

// Run posts what the core records to Slack until ctx ends: it updates
// challenge messages when their challenge changes (confirmed, rejected,
// expired, superseded), uploads support bundles to whoever asked, posts
// notable events to the audit channel threaded per command, and posts
// batched ledger checkpoints, and keeps open App Home tabs fresh. It
// first restores from Slack what a previous process left (Restore). It
// never blocks the core: notices are drained into a bounded queue at
// once; a Slack outage only delays them.
func (a *Adapter) Run(ctx context.Context) error {
	notices, unsubscribe := a.core.Subscribe(256)
	defer unsubscribe()
	queue := make(chan core.Notice, queueSize)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := a.Restore(ctx); err != nil {
			a.log.Warn().Err(err).Msg("restore from slack incomplete; older messages may not be updated")
		}
		announced := a.announceStart(ctx)
		for n := range queue {
			if n.EventType == core.EvStarted && n.Seq == announced {
				continue
			}
			a.handleNotice(ctx, n)
		}
	}()
	go func() {
		defer wg.Done()
		a.refreshHomes(ctx)
	}()
	defer wg.Wait()
	defer close(queue)
	tick := time.NewTicker(a.cfg.CheckpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			a.flushCheckpoint(ctx)
		case n, ok := <-notices:
			if !ok {
				return nil
			}
			select {
			case queue <- n:
			default:
				a.m.dropped.Inc()
				a.log.Warn().Uint64("seq", n.Seq).Msg("slack notice queue full; notice dropped (still in the ledger)")
			}
		}
	}
}

// handleNotice reacts to one recorded event.
func (a *Adapter) handleNotice(ctx context.Context, n core.Notice) {
	if n.Dropped > 0 {
		a.resync(ctx, n.Dropped)
	}
	if quietStatus(n) {
		return
	}
	var ev core.Event
	if err := json.Unmarshal(n.Event, &ev); err != nil {
		a.log.Warn().Err(err).Uint64("seq", n.Seq).Msg("undecodable notice")
		return
	}
	a.homes.changed()
	if ev.ChallengeID != "" {
		a.refreshChallenge(ctx, ev.ChallengeID)
	}
	if ev.Type == core.EvBundle && ev.Bundle != nil {
		a.uploadBundle(ctx, ev)
	}
	if a.cfg.AuditChannel != "" && notable[ev.Type] {
		a.postAudit(ctx, n.Seq, ev)
	}
}

// announceStart posts the service's start to the audit channel, if the
// ledger recorded it before Run subscribed (as it does unless the ledger
// refused it), and returns its seq (0 if not posted): a start recorded
// later arrives as a notice like any event. Every start is posted, so the
// channel shows restarts, unclean ends and policy changes.
func (a *Adapter) announceStart(ctx context.Context) uint64 {
	seq, ev, ok := a.core.Started()
	if !ok || a.cfg.AuditChannel == "" {
		return 0
	}
	a.postAudit(ctx, seq, ev)
	return seq
}

// quietStatus reports an event of a status that was not refused (its
// request, its answer, a suppressed duplicate): it changed nothing that
// Slack shows, and it is not mirrored to the audit channel (the ledger has
// it), so that a script polling status through the API cannot flood the
// channel past Slack's rate limit. A denied or failed status is posted.
func quietStatus(n core.Notice) bool {
	return n.Op == core.OpStatus && n.EventType != core.EvDenied && n.EventType != core.EvFailed
}

// resync re-reads state after the core dropped notices for this
// subscriber: every open challenge's message is re-rendered (ended ones
// lose their buttons even though their notice was lost).
func (a *Adapter) resync(ctx context.Context, dropped uint64) {
	a.m.dropped.Add(float64(dropped))
	a.log.Warn().Uint64("dropped", dropped).Msg("core notices dropped; re-reading state")
	for _, id := range a.msgs.ids() {
		a.refreshChallenge(ctx, id)
	}
}

// notable are the event types posted to the audit channel.
var notable = map[string]bool{
	core.EvApplied: true, core.EvDenied: true, core.EvFailed: true, core.EvChallenge: true, core.EvConfirm: true,
	core.EvReject: true, core.EvTransition: true, core.EvStuck: true, core.EvBundle: true, core.EvSafety: true,
	core.EvGate: true, core.EvOverride: true, core.EvOverrideExpired: true, core.EvMonitoring: true, core.EvKillSwitch: true,
	core.EvStarted: true, core.EvStopped: true,
}

// auditThreads maps a command id to the audit-channel message that
// starts its thread.
type auditThreads struct {
	mu sync.Mutex
	ts map[string]string
}

func newAuditThreads() *auditThreads { return &auditThreads{ts: map[string]string{}} }

func (t *auditThreads) get(id string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ts[id]
}

func (t *auditThreads) put(id, ts string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ts[id] = ts
}

// postAudit posts one event line to the audit channel, in its command's
// thread (the first event of a command starts it), with the buttons the
// event earns (offers.go).
func (a *Adapter) postAudit(ctx context.Context, seq uint64, ev core.Event) {
	text := auditLine(seq, ev)
	opts := []slack.MsgOption{slack.MsgOptionText(text, false)}
	if offers := offerBlocks(ev, a.core.Snapshot()); len(offers) > 0 {
		blocks := append([]slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}, offers...)
		opts = append(opts, slack.MsgOptionBlocks(blocks...))
	}
	thread := ""
	if ev.CommandID != "" {
		thread = a.audit.get(ev.CommandID)
	}
	if thread != "" {
		opts = append(opts, slack.MsgOptionTS(thread))
	} else if ev.CommandID != "" {
		opts = append(opts, a.meta(metaAudit, "command_id", ev.CommandID))
	}
	err := a.call(ctx, "chat.postMessage", func(ctx context.Context) error {
		_, ts, err := a.api.PostMessageContext(ctx, a.cfg.AuditChannel, opts...)
		if err == nil && thread == "" && ev.CommandID != "" {
			a.audit.put(ev.CommandID, ts)
		}
		return err
	})
	if err != nil {
		a.m.dropped.Inc()
		a.log.Warn().Err(err).Uint64("seq", seq).Msg("audit channel post failed (event is in the ledger)")
	}
}

// auditLine renders an event from its secret-free fields only.
func auditLine(seq uint64, ev core.Event) string {
	parts := []string{fmt.Sprintf("`#%d` *%s*", seq, ev.Type)}
	if ev.Live != nil && *ev.Live {
		parts = append(parts, liveMarker)
	}
	if ev.Actor != "" {
		if strings.HasPrefix(ev.Actor, "U") || strings.HasPrefix(ev.Actor, "W") {
			parts = append(parts, "<@"+esc(ev.Actor)+">")
		} else {
			parts = append(parts, esc(ev.Actor))
		}
	}
	if ev.Op != "" {
		parts = append(parts, "`"+esc(string(ev.Op))+"`")
	}
	if ev.Target != "" {
		parts = append(parts, "`"+esc(ev.Target)+"`")
	}
	if ev.From != "" || ev.To != "" {
		parts = append(parts, stateBadge(ev.From)+" → "+stateBadge(ev.To))
	}
	if ev.Safety != nil {
		parts = append(parts, fmt.Sprintf("safety %s → %s", ev.Safety.Previous, safetyBadge(ev.Safety.Mode)))
	}
	if ev.KillSwitch != nil {
		parts = append(parts, fmt.Sprintf("kill-switch `%s` %s → *%s*", esc(ev.KillSwitch.Scope), ev.KillSwitch.Previous, ev.KillSwitch.Level))
	}
	if s := ev.Service; s != nil {
		parts = append(parts, serviceParts(s)...)
	}
	if ev.Outcome != "" {
		parts = append(parts, "outcome *"+esc(ev.Outcome)+"*")
	}
	if ev.Reason != "" {
		parts = append(parts, "reason `"+string(ev.Reason)+"`")
	}
	if ev.ChallengeID != "" {
		parts = append(parts, "challenge `"+esc(ev.ChallengeID)+"`")
	}
	return strings.Join(parts, " · ")
}

// serviceParts renders a start or stop: the version, the policy (and its
// change, which is worth a look: it says who may do what), and an unclean
// end of the run before.
func serviceParts(s *core.ServiceInfo) []string {
	parts := []string{"`" + esc(s.Version) + "`"}
	if s.PreviousPolicyDigest != "" {
		parts = append(parts, fmt.Sprintf("*policy changed* `%s` → `%s` (the new policy is recorded whole in this entry)",
			shortDigest(s.PreviousPolicyDigest), shortDigest(s.PolicyDigest)))
	} else {
		parts = append(parts, "policy `"+shortDigest(s.PolicyDigest)+"`")
	}
	if s.PreviousLedgerKey != "" {
		parts = append(parts, "*the ledger's signing key changed*: verify new checkpoints with `"+esc(s.LedgerKey)+"`")
	}
	if s.PreviousRun == "unclean" {
		parts = append(parts, "*the previous run ended uncleanly* (no stop recorded)")
	}
	return parts
}

// shortDigest is "sha256:" and the first 12 hex digits of a digest.
func shortDigest(d string) string {
	if len(d) > len("sha256:")+12 {
		return esc(d[:len("sha256:")+12])
	}
	return esc(d)
}

// uploadBundle uploads a support bundle to the channel its command came
// from (v2 upload flow).
func (a *Adapter) uploadBundle(ctx context.Context, ev core.Event) {
	v, ok := a.bundles.LoadAndDelete(ev.CommandID)
	if !ok {
		return
	}
	req := v.(bundleReq)
	st, err := os.Stat(ev.Bundle.Path)
	if err != nil {
		a.log.Warn().Err(err).Str("command", ev.CommandID).Msg("support bundle not readable")
		return
	}
	comment := fmt.Sprintf("Support bundle for <@%s>: sha256 `%s`, manifest sha256 `%s`", esc(req.user), esc(ev.Bundle.SHA256), esc(ev.Bundle.ManifestSHA256))
	err = a.call(ctx, "files.upload", func(ctx context.Context) error {
		_, err := a.api.UploadFileContext(ctx, slack.UploadFileParameters{
			File: ev.Bundle.Path, FileSize: int(st.Size()), Filename: filepath.Base(ev.Bundle.Path),
			Title: "support bundle " + ev.Target, Channel: req.channel, InitialComment: comment, ThreadTimestamp: req.thread,
		})
		return err
	})
	if err != nil {
		a.log.Warn().Err(err).Str("command", ev.CommandID).Msg("support bundle upload failed")
	}
}
