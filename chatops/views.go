package chatops

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// allowedOps is every op actor may request now on any target (global, a
// group, a bot).
func (a *Adapter) allowedOps(actor string, s core.Snapshot) map[core.Op]bool {
	ops := map[core.Op]bool{}
	targets := []string{"global"}
	for _, b := range s.Bots {
		targets = append(targets, b.ID)
		if b.Group != "" {
			targets = append(targets, "group:"+b.Group)
		}
	}
	for _, t := range targets {
		for _, op := range a.core.Allowed(actor, t) {
			ops[op] = true
		}
	}
	return ops
}

// mayView reports whether actor may see the fleet's state (status on
// the fleet), which the App Home and the state line under replies show.
func (a *Adapter) mayView(actor string) bool {
	return slices.Contains(a.core.Allowed(actor, "global"), core.OpStatus)
}

// contextFor is s, for the state line under a reply, if actor may see it.
func (a *Adapter) contextFor(actor string, s *core.Snapshot) *core.Snapshot {
	if !a.mayView(actor) {
		return nil
	}
	return s
}

// mayAudit asks the policy, as the API does: the audit permission in
// this environment, whatever the role is called.
func (a *Adapter) mayAudit(actor string) bool { return a.core.MayAudit(actor) }

// helpBlocks lists only what actor may run in this environment.
func (a *Adapter) helpBlocks(actor string) []slack.Block {
	s := a.core.Snapshot()
	ops, audit := a.allowedOps(actor, s), a.mayAudit(actor)
	var lines []string
	for _, v := range verbs {
		switch {
		case v.op != "" && !ops[v.op]:
			continue
		case strings.HasPrefix(v.name, "audit ") && !audit:
			continue
		}
		lines = append(lines, fmt.Sprintf("`%s %s` — %s", a.cfg.Command, v.usage(), v.summary))
	}
	head := fmt.Sprintf("*What you may run in %s* (roles: %s)", esc(s.Environment), orDash(strings.Join(a.core.Roles(actor), ", ")))
	if len(lines) <= 2 {
		head += "\nYou hold no operating role here; ask an admin if you need one."
	}
	grammar := "Quote text with spaces (\"…\"); flags are `--flag value` or `--flag=value`; `--id KEY` makes a scripted command idempotent."
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(head+"\n"+strings.Join(lines, "\n")), nil, nil),
		slack.NewContextBlock("grammar", mrkdwn(grammar))}
	return a.withState(actor, blocks, s)
}

// withState appends the state line to blocks if actor may see status.
func (a *Adapter) withState(actor string, blocks []slack.Block, s core.Snapshot) []slack.Block {
	if !a.mayView(actor) {
		return blocks
	}
	return append(blocks, contextLine(s))
}

// statusBlocks shows the fleet (or one bot) if actor may see status.
func (a *Adapter) statusBlocks(actor, target string) []slack.Block {
	s := a.core.Snapshot()
	t := target
	if t == "" {
		t = "global"
	}
	if !slices.Contains(a.core.Allowed(actor, t), core.OpStatus) {
		return errorBlocks("You may not view status here.", "Ask an admin for the viewer role."+a.runbookHint("access"), nil)
	}
	var lines []string
	for _, b := range s.Bots {
		if target != "" && b.ID != target {
			continue
		}
		lines = append(lines, botLine(b))
	}
	if len(lines) == 0 {
		return errorBlocks(fmt.Sprintf("No bot %q in %s.", target, s.Environment), "Run `"+a.cfg.Command+" status` for the fleet.", &s)
	}
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn("*Fleet*\n"+strings.Join(lines, "\n")), nil, nil)}
	if s.Safety.Reason != "" {
		blocks = append(blocks, slack.NewContextBlock("safety", mrkdwn("safety: "+esc(s.Safety.Reason))))
	}
	return append(blocks, contextLine(s))
}

func botLine(b core.BotView) string {
	line := fmt.Sprintf("`%s` %s", esc(b.ID), stateBadge(b.State))
	if b.Mode != "" {
		line += " mode " + modeBadge(b.Mode)
	}
	if b.KillSwitch != "" && b.KillSwitch != core.LevelOff {
		line += " · kill-switch *" + string(b.KillSwitch) + "*"
	}
	switch {
	case b.Stuck && b.State == lifecycle.Stopping:
		line += " · :warning: *stuck stopping*"
	case b.Stuck:
		line += " · :warning: *stop failed: may still be running*"
	}
	return line
}

// challengesBlocks lists open challenges actor can act on (or asked for).
func (a *Adapter) challengesBlocks(actor string) []slack.Block {
	s := a.core.Snapshot()
	var lines []string
	for _, ch := range s.Challenges {
		mine := ch.Command.Actor == actor
		if !mine && !a.core.MayApprove(actor, ch.ID) {
			continue
		}
		line := challengeLine(ch)
		if ref := a.msgs.get(ch.ID); ref != nil && ref.channel != "" {
			line += " in <#" + ref.channel + ">"
		}
		if mine {
			line += " (yours)"
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		lines = []string{"No open challenges you can act on."}
	}
	return a.withState(actor, []slack.Block{slack.NewSectionBlock(mrkdwn("*Open challenges*\n"+strings.Join(lines, "\n")), nil, nil)}, s)
}

func challengeLine(ch core.Challenge) string {
	line := fmt.Sprintf("`%s` %s, expires %s", esc(describe(ch.Command.Op, ch.Command.Target, ch.Command.Params)), esc(ch.ID), slackTime(ch.ExpiresAt))
	if ch.Live {
		line = liveMarker + " " + line
	}
	return line
}

// auditBlocks answers /warden audit head|verify|export.
func (a *Adapter) auditBlocks(ctx context.Context, sc slack.SlashCommand, req Request) []slack.Block {
	s := a.core.Snapshot()
	if !a.mayAudit(sc.UserID) {
		return errorBlocks("Your roles do not allow audit commands in this environment.", "Ask an admin for a role with the audit permission.", a.contextFor(sc.UserID, &s))
	}
	if a.ledger == nil {
		return errorBlocks("The ledger is not connected to the Slack adapter.", "Use `botwarden ledger` on the host.", &s)
	}
	var text string
	switch req.Verb {
	case "audit head":
		h, err := a.ledger.Head(ctx)
		if err != nil {
			return errorBlocks("Could not read the ledger head: "+err.Error(), a.runbookHint("ledger_unavailable"), &s)
		}
		text = fmt.Sprintf("*Ledger head*: size %d, root `%s`\n```%s```", h.Size, esc(h.Root), esc(string(h.Note)))
	case "audit verify":
		text = a.verifyAgainstPosted(ctx)
	case "audit export":
		return a.export(ctx, sc, req, s)
	}
	return []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil), contextLine(s)}
}
