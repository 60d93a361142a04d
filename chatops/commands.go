package chatops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/botwarden/botwarden/internal/core"
)

// onCommand handles a verified slash command. What needs no core (a
// syntax error, a wrong channel) is answered in the acknowledgement; the
// rest is acknowledged empty and answered through response_url.
func (a *Adapter) onCommand(sc slack.SlashCommand) any {
	if sc.Command != "" && sc.Command != a.cfg.Command {
		return ephemeral(errorBlocks("This app answers "+a.cfg.Command+", not "+sc.Command+".", "", nil))
	}
	if len(a.cfg.AllowedChannels) > 0 && !slices.Contains(a.cfg.AllowedChannels, sc.ChannelID) {
		return ephemeral(errorBlocks("Botwarden does not take commands in this channel.",
			"Use one of the operations channels: "+channelList(a.cfg.AllowedChannels)+".", nil))
	}
	req, err := Parse(sc.Text)
	if err != nil {
		return ephemeral(errorBlocks(strings.TrimPrefix(err.Error(), ErrSyntax.Error()+": "),
			"Run `"+a.cfg.Command+" help` to see what you may run here."+a.runbookHint("slack-commands"), nil))
	}
	a.async(func(ctx context.Context) { a.runCommand(ctx, sc, req) })
	return nil
}

func channelList(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = "<#" + id + ">"
	}
	return strings.Join(out, ", ")
}

func (a *Adapter) runbookHint(name string) string {
	if a.cfg.RunbookBaseURL == "" {
		return ""
	}
	return fmt.Sprintf(" See the <%s%s.md|runbook>.", a.cfg.RunbookBaseURL, name)
}

// ephemeral is an acknowledgement body only the asking user sees.
func ephemeral(blocks []slack.Block) *slack.Msg {
	return &slack.Msg{ResponseType: slack.ResponseTypeEphemeral, Blocks: slack.Blocks{BlockSet: blocks}, Text: blocksFallback(blocks)}
}

// runCommand answers a parsed command through response_url.
func (a *Adapter) runCommand(ctx context.Context, sc slack.SlashCommand, req Request) {
	switch {
	case req.Verb == "help":
		a.respond(ctx, sc.ResponseURL, slack.ResponseTypeEphemeral, a.helpBlocks(sc.UserID))
	case req.Verb == "status":
		a.status(ctx, sc, req)
	case req.Verb == "challenges":
		a.respond(ctx, sc.ResponseURL, slack.ResponseTypeEphemeral, a.challengesBlocks(sc.UserID))
	case strings.HasPrefix(req.Verb, "audit "):
		a.respond(ctx, sc.ResponseURL, slack.ResponseTypeEphemeral, a.auditBlocks(ctx, sc, req))
	default:
		a.submit(ctx, sc, req)
	}
}

// CommandID derives the command_id of a slash command: a stable hash of
// team, channel, user, command text and trigger_id, so a retried delivery
// of the same request maps to the same command, while the same text typed
// again (a new trigger_id) is a new command. --id overrides it.
func CommandID(sc slack.SlashCommand, req Request) string {
	if req.ID != "" {
		return req.ID
	}
	h := sha256.New()
	for _, part := range []string{sc.TeamID, sc.ChannelID, sc.UserID, sc.Command, sc.Text, sc.TriggerID} {
		fmt.Fprintf(h, "%d:%s;", len(part), part)
	}
	return "slack-" + hex.EncodeToString(h.Sum(nil))[:32]
}

// command is the core command a slash command asks for.
func (a *Adapter) command(sc slack.SlashCommand, req Request) core.Command {
	target := req.Target
	if target == "" {
		target = "global"
	}
	id := CommandID(sc, req)
	return core.Command{
		SchemaVersion: core.SchemaVersion, CommandID: id, Actor: sc.UserID, Target: target, Op: req.Op,
		RequestedTransition: a.core.RequestedTransition(target, req.Op, req.Params),
		Environment:         a.core.Environment(), TraceID: "tr-" + strings.TrimPrefix(id, "slack-"), RunID: a.runID,
		Reason: req.Reason, Channel: sc.ChannelID, Params: req.Params,
	}
}

// run submits cmd to the core; it reports a malformed command itself
// (ok false).
func (a *Adapter) run(ctx context.Context, sc slack.SlashCommand, cmd core.Command) (core.Outcome, bool) {
	out, err := a.core.Submit(a.coreCtx(), cmd)
	if err != nil {
		snap := a.core.Snapshot()
		a.respond(ctx, sc.ResponseURL, slack.ResponseTypeEphemeral, errorBlocks("The control plane refused the command as malformed: "+err.Error(),
			"Fix the command and run it again; nothing was recorded.", &snap))
		return out, false
	}
	return out, true
}

// status runs the status operation through the core, as the API's
// POST /v1/commands does, so that it and its denials are in the ledger,
// then shows the fleet (or one bot) if it was answered, or if only the
// ledger refused it (the view the App Home and GET /v1/bots give anyway).
func (a *Adapter) status(ctx context.Context, sc slack.SlashCommand, req Request) {
	out, ok := a.run(ctx, sc, a.command(sc, req))
	if !ok {
		return
	}
	blocks := a.statusBlocks(sc.UserID, req.Target)
	if out.Status != core.StatusApplied {
		snap := a.core.Snapshot()
		refused := outcomeBlocks(out, a.contextFor(sc.UserID, &snap), a.cfg.RunbookBaseURL)
		if out.Reason == core.ReasonLedgerUnavailable {
			// In a ledger outage the fleet is still shown, as the App Home
			// shows it: a view, recorded nowhere, never an operation.
			note := slack.NewContextBlock("view", mrkdwn("The fleet as your App Home shows it (a view: not recorded)."))
			refused = append(append(refused, note), blocks...)
		}
		blocks = refused
	}
	a.respond(ctx, sc.ResponseURL, slack.ResponseTypeEphemeral, blocks)
}

// submit sends an operation to the core and reports the outcome.
func (a *Adapter) submit(ctx context.Context, sc slack.SlashCommand, req Request) {
	cmd := a.command(sc, req)
	if req.Op == core.OpBundle {
		a.bundles.Store(cmd.CommandID, bundleReq{channel: sc.ChannelID, user: sc.UserID})
	}
	out, ok := a.run(ctx, sc, cmd)
	if !ok {
		return
	}
	snap := a.core.Snapshot()
	switch {
	case out.Status == core.StatusChallenged && out.Challenge != nil:
		a.issueChallenge(ctx, sc, *out.Challenge, out, snap)
	case out.Status == core.StatusApplied && !out.Duplicate:
		a.respond(ctx, sc.ResponseURL, slack.ResponseTypeInChannel, outcomeBlocks(out, &snap, a.cfg.RunbookBaseURL))
	default:
		a.respond(ctx, sc.ResponseURL, slack.ResponseTypeEphemeral, outcomeBlocks(out, a.contextFor(sc.UserID, &snap), a.cfg.RunbookBaseURL))
	}
}

type bundleReq struct{ channel, user, thread string }

// issueChallenge posts the challenge message where its approvers are and
// tells the requester where it went.
func (a *Adapter) issueChallenge(ctx context.Context, sc slack.SlashCommand, ch core.Challenge, out core.Outcome, snap core.Snapshot) {
	if ref := a.msgs.get(ch.ID); ref != nil {
		a.refreshChallenge(ctx, ch.ID) // a retried delivery: the message exists
		return
	}
	channel := sc.ChannelID
	if ch.Requires.SecondPerson && a.cfg.ApproversChannel != "" {
		channel = a.cfg.ApproversChannel
	}
	a.postChallenge(ctx, channel, ch, snap, sc.ResponseURL)
	note := fmt.Sprintf(":hourglass_flowing_sand: `%s` needs confirmation: challenge posted in <#%s>, expires %s.",
		esc(describe(ch.Command.Op, ch.Command.Target, ch.Command.Params)), channel, slackTime(ch.ExpiresAt))
	if ch.Requires.SecondPerson {
		note += " Another person must confirm it; you cannot."
	}
	a.respond(ctx, sc.ResponseURL, slack.ResponseTypeEphemeral, []slack.Block{slack.NewSectionBlock(mrkdwn(note), nil, nil), contextLine(snap)})
}

// respond posts blocks to a response_url.
func (a *Adapter) respond(ctx context.Context, responseURL, responseType string, blocks []slack.Block) {
	if responseURL == "" {
		return
	}
	err := a.call(ctx, "response_url", func(ctx context.Context) error {
		_, _, err := a.api.PostMessageContext(ctx, "", slack.MsgOptionResponseURL(responseURL, responseType),
			slack.MsgOptionBlocks(blocks...), slack.MsgOptionText(blocksFallback(blocks), false))
		return err
	})
	if err != nil {
		a.log.Warn().Err(err).Msg("slack response failed")
	}
}

// blocksFallback is the notification text of a message: its first
// section's text, trimmed.
func blocksFallback(blocks []slack.Block) string {
	for _, b := range blocks {
		if s, ok := b.(*slack.SectionBlock); ok && s.Text != nil {
			t := s.Text.Text
			if i := strings.IndexByte(t, '\n'); i > 0 {
				t = t[:i]
			}
			return t
		}
		if h, ok := b.(*slack.HeaderBlock); ok && h.Text != nil {
			return h.Text.Text
		}
	}
	return "Botwarden"
}
