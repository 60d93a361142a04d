package chatops

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/slack-go/slack"

	"github.com/botwarden/botwarden/internal/core"
)

// checkpoints batches signed ledger checkpoints for the audit channel. A
// later checkpoint commits to everything an earlier one did, so a batch
// posts only the newest note, saying how many it stands for.
type checkpoints struct {
	mu      sync.Mutex
	pending []byte
	count   int
	posted  []byte // the last note posted to Slack: the outside copy
}

// PostCheckpoint queues a signed checkpoint note from the ledger's
// checkpoint hook; Run posts the newest queued note to the audit channel
// every CheckpointInterval. It never blocks.
func (a *Adapter) PostCheckpoint(note []byte) {
	a.ckpt.mu.Lock()
	defer a.ckpt.mu.Unlock()
	a.ckpt.pending = bytes.Clone(note)
	a.ckpt.count++
}

// flushCheckpoint posts the newest pending checkpoint, if any.
func (a *Adapter) flushCheckpoint(ctx context.Context) {
	a.ckpt.mu.Lock()
	note, n := a.ckpt.pending, a.ckpt.count
	a.ckpt.mu.Unlock()
	if note == nil || a.cfg.AuditChannel == "" {
		return
	}
	text := fmt.Sprintf(":closed_lock_with_key: *Ledger checkpoint* (%d since the last post). Save it as a file and check the ledger with `botwarden ledger verify --since-checkpoint FILE`:\n```%s```", n, esc(string(note)))
	err := a.call(ctx, "chat.postMessage", func(ctx context.Context) error {
		_, _, err := a.api.PostMessageContext(ctx, a.cfg.AuditChannel, slack.MsgOptionText(text, false),
			a.meta(metaCheckpoint, "note", string(note)))
		return err
	})
	if err != nil {
		a.log.Warn().Err(err).Msg("checkpoint post failed; will retry at the next interval")
		return
	}
	a.ckpt.mu.Lock()
	defer a.ckpt.mu.Unlock()
	a.ckpt.posted = note
	if bytes.Equal(a.ckpt.pending, note) {
		a.ckpt.pending, a.ckpt.count = nil, 0
	}
}

// verifyAgainstPosted checks the ledger against the last checkpoint
// posted to Slack, read back from the audit channel itself (the outside
// copy, whichever process posted it); if Slack cannot be read, against
// the one this process remembers posting.
func (a *Adapter) verifyAgainstPosted(ctx context.Context) string {
	note, err := a.lastCheckpointInSlack(ctx)
	src := "read back from the audit channel"
	if err != nil || note == nil {
		a.ckpt.mu.Lock()
		note = a.ckpt.posted
		a.ckpt.mu.Unlock()
		src = "remembered by this process"
		if err != nil {
			src += "; the audit channel could not be read"
		}
	}
	if note == nil {
		return ":grey_question: No checkpoint has been posted to Slack yet; verify against a saved one with `botwarden ledger verify --since-checkpoint FILE`."
	}
	if err := a.ledger.VerifyAgainst(ctx, note); err != nil {
		return fmt.Sprintf(":rotating_light: *Ledger does NOT match the last checkpoint posted to Slack* (%s): %s\n```%s```", src, esc(err.Error()), esc(string(note)))
	}
	return fmt.Sprintf(":white_check_mark: The ledger is consistent with the last checkpoint posted to Slack (%s):\n```%s```", src, esc(string(note)))
}

// exportChannel reports whether a ledger export may be uploaded to
// channel: the audit channel, or a direct message with the app (ids
// starting with D).
func (a *Adapter) exportChannel(channel string) bool {
	return strings.HasPrefix(channel, "D") || (a.cfg.AuditChannel != "" && channel == a.cfg.AuditChannel)
}

// export uploads a ledger export with the checkpoint it verifies against.
func (a *Adapter) export(ctx context.Context, sc slack.SlashCommand, req Request, s core.Snapshot) []slack.Block {
	if !a.exportChannel(sc.ChannelID) {
		// A file in a channel goes to every member, whatever their role.
		return errorBlocks("Ledger exports go only to the audit channel or a direct message with the app, never to a channel where people without the audit permission would get the file.",
			"Run it in a direct message with the app, or use `botwarden ctl audit export`.", &s)
	}
	var buf bytes.Buffer
	note, err := a.ledger.Export(ctx, &buf, req.From, req.To)
	if err != nil {
		return errorBlocks("Ledger export failed: "+err.Error(), "Run `botwarden ledger export` on the host."+a.runbookHint("ledger_unavailable"), &s)
	}
	name := fmt.Sprintf("ledger-%s-%d-%d.jsonl", s.Environment, req.From, req.To)
	err = a.call(ctx, "files.upload", func(ctx context.Context) error {
		_, err := a.api.UploadFileContext(ctx, slack.UploadFileParameters{
			Reader: bytes.NewReader(buf.Bytes()), FileSize: buf.Len(), Filename: name, Title: name,
			Channel: sc.ChannelID, InitialComment: "Ledger export; checkpoint:\n```" + string(note) + "```",
		})
		return err
	})
	if err != nil {
		return errorBlocks("Could not upload the export: "+err.Error(), "Invite the app to this channel, or export on the host.", &s)
	}
	return []slack.Block{slack.NewSectionBlock(mrkdwn(fmt.Sprintf(":page_facing_up: Exported %d bytes as `%s`.", buf.Len(), name)), nil, nil), contextLine(s)}
}
