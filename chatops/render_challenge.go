package chatops

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/botwarden/botwarden/internal/core"
)

// challengeBlocks renders a challenge message. While the challenge is open
// it carries Confirm (danger) and Reject buttons whose value is the
// challenge id; once it ended nothing in it is clickable and it says how
// it ended, who ended it and when.
func challengeBlocks(ch core.Challenge, s core.Snapshot) []slack.Block {
	cmd := ch.Command
	header := "Challenge: " + describe(cmd.Op, cmd.Target, cmd.Params)
	if len(header) > 150 {
		header = header[:150]
	}
	blocks := []slack.Block{slack.NewHeaderBlock(plain(header))}
	if ch.Live {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(liveMarker+" — this touches *live* trading."), nil, nil))
	}
	fields := []*slack.TextBlockObject{
		mrkdwn("*Target*\n`" + esc(cmd.Target) + "`"),
		mrkdwn("*Transition*\n" + transitionText(cmd)),
		mrkdwn("*Environment*\n*" + esc(cmd.Environment) + "*"),
		mrkdwn("*At issue*\nsafety " + safetyBadge(ch.Summary.Safety) + ", gates *" + string(ch.Summary.Gates) + "*, kill-switch *" + string(orOff(ch.Summary.KillSwitch)) + "*"),
		mrkdwn("*Requested by*\n<@" + esc(cmd.Actor) + ">"),
		mrkdwn("*Reason*\n" + orDash(esc(cmd.Reason))),
		mrkdwn("*Needs*\n" + needs(ch.Requires)),
		mrkdwn("*Expires*\n" + slackTime(ch.ExpiresAt)),
	}
	blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil))
	if len(ch.Approvals) > 0 {
		var who []string
		for _, a := range ch.Approvals {
			who = append(who, fmt.Sprintf("<@%s> (%s)", esc(a.Actor), slackTime(a.At)))
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("*Approved so far:* "+strings.Join(who, ", ")), nil, nil))
	}
	if ch.State == core.ChallengeOpen {
		confirm := slack.NewButtonBlockElement(actionConfirm, ch.ID, plain("Confirm…"))
		confirm.Style = slack.StyleDanger
		reject := slack.NewButtonBlockElement(actionReject, ch.ID, plain("Reject"))
		blocks = append(blocks, slack.NewActionBlock("challenge", confirm, reject))
	} else {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(endedText(ch)), nil, nil))
	}
	blocks = append(blocks, slack.NewContextBlock("challenge_id", mrkdwn("challenge `"+esc(ch.ID)+"` · command `"+esc(cmd.CommandID)+"`")), contextLine(s))
	return blocks
}

func endedText(ch core.Challenge) string {
	icon := map[core.ChallengeState]string{
		core.ChallengeConfirmed: ":lock: *Confirmed*", core.ChallengeRejected: ":x: *Rejected*",
		core.ChallengeExpired: ":hourglass: *Expired*", core.ChallengeSuperseded: ":arrows_counterclockwise: *Superseded* (preconditions changed)",
	}[ch.State]
	if icon == "" {
		icon = "*" + string(ch.State) + "*"
	}
	by := ""
	if ch.EndedBy != "" && ch.EndedBy != core.SystemActor {
		by = " by <@" + esc(ch.EndedBy) + ">"
	}
	at := ""
	if !ch.EndedAt.IsZero() {
		at = " at " + slackTime(ch.EndedAt)
	}
	return icon + by + at + ". Nothing here is clickable any more."
}

func needs(r core.Requirements) string {
	s := fmt.Sprintf("%d × `%s`", max(r.Approvers, 1), esc(r.Role))
	if r.SecondPerson {
		s += ", not the requester"
	}
	return s
}

func orOff(l core.Level) core.Level {
	if l == "" {
		return core.LevelOff
	}
	return l
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// challengeText is the notification fallback of a challenge message.
func challengeText(ch core.Challenge) string {
	live := ""
	if ch.Live {
		live = "[LIVE] "
	}
	return fmt.Sprintf("%sChallenge %s: %s (%s)", live, ch.State, describe(ch.Command.Op, ch.Command.Target, ch.Command.Params), ch.ID)
}

// confirmModal demands a fresh explicit act: typing the target exactly and
// a reason. private_metadata carries the challenge id.
func confirmModal(ch core.Challenge) slack.ModalViewRequest {
	cmd := ch.Command
	intro := fmt.Sprintf("You are confirming *%s* in *%s*.", esc(describe(cmd.Op, cmd.Target, cmd.Params)), esc(cmd.Environment))
	if ch.Live {
		intro = liveMarker + " " + intro
	}
	intro += fmt.Sprintf("\nRequested by <@%s>: %s", esc(cmd.Actor), orDash(esc(cmd.Reason)))
	typed := slack.NewInputBlock(blockTyped, plain("Type "+ch.Requires.TypedTarget+" to confirm"), nil,
		slack.NewPlainTextInputBlockElement(plain(ch.Requires.TypedTarget), inputAction))
	reason := slack.NewInputBlock(blockReason, plain("Reason"), nil,
		&slack.PlainTextInputBlockElement{Type: slack.METPlainTextInput, ActionID: inputAction, Multiline: true, MaxLength: maxReason})
	return slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: callbackModal, PrivateMetadata: ch.ID,
		Title: plain("Confirm operation"), Submit: plain("Confirm"), Close: plain("Cancel"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(mrkdwn(intro), nil, nil), typed, reason}},
	}
}
