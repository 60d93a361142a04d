package chatops

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/botwarden/botwarden/internal/core"
)

// onInteraction handles a verified interactivity payload. Button clicks
// are acknowledged empty and handled asynchronously; a modal submission
// waits up to AckBudget for the core so a mistyped target can be shown in
// the modal itself.
func (a *Adapter) onInteraction(ic slack.InteractionCallback) any {
	switch ic.Type {
	case slack.InteractionTypeBlockActions:
		for _, act := range ic.ActionCallback.BlockActions {
			id := act.Value
			switch act.ActionID {
			case actionConfirm:
				a.async(func(ctx context.Context) { a.confirmClicked(ctx, ic, id) })
			case actionReject:
				a.async(func(ctx context.Context) { a.rejectClicked(ctx, ic, id) })
			case actionBundle, actionStop, actionStopAll:
				a.async(func(ctx context.Context) { a.offerClicked(ctx, ic, act) })
			}
		}
	case slack.InteractionTypeViewSubmission:
		if ic.View.CallbackID == callbackModal {
			return a.onConfirmSubmit(ic)
		}
	}
	return nil
}

// confirmClicked opens the confirm modal for an approver. It decides from
// the adapter's cache of open challenges and the (lock-free) role lookup,
// never waiting for the core: Slack's trigger_id lives 3 s and a slow
// driver may hold the core longer. The core checks everything again on
// submit. Anyone else's click goes to the core as a confirm attempt, so
// the core records the denial; the user is told why.
func (a *Adapter) confirmClicked(ctx context.Context, ic slack.InteractionCallback, id string) {
	ch, ok := a.cache.get(id)
	if !ok {
		ch, ok = a.core.Challenge(id) // not seen by this process yet
	}
	if ok && a.mayOpenModal(ic.User.ID, ch) {
		err := a.call(ctx, "views.open", func(ctx context.Context) error {
			_, err := a.api.OpenViewContext(ctx, ic.TriggerID, confirmModal(ch))
			return err
		})
		if err != nil {
			a.log.Warn().Err(err).Str("challenge", id).Msg("open confirm modal failed")
			a.respond(ctx, ic.ResponseURL, slack.ResponseTypeEphemeral, errorBlocks("Could not open the confirm dialog ("+err.Error()+").", "Click Confirm again.", nil))
		}
		return
	}
	out, err := a.core.Confirm(a.coreCtx(), core.ConfirmRequest{ChallengeID: id, Actor: ic.User.ID, Channel: ic.Channel.ID, Reason: "confirm clicked in Slack"})
	a.reportInteraction(ctx, ic.ResponseURL, "", ic.User.ID, out, err)
	a.refreshChallenge(ctx, id)
}

// mayOpenModal is the adapter's early answer to "may user confirm ch":
// open, unexpired, the required role, not the requester under a
// second-person policy, not approved by user already.
func (a *Adapter) mayOpenModal(user string, ch core.Challenge) bool {
	switch {
	case ch.State != core.ChallengeOpen || !a.cfg.Clock.Now().Before(ch.ExpiresAt):
		return false
	case !slices.Contains(a.core.Roles(user), ch.Requires.Role):
		return false
	case ch.Requires.SecondPerson && ch.Command.Actor == user:
		return false
	}
	return !slices.ContainsFunc(ch.Approvals, func(ap core.Approval) bool { return ap.Actor == user })
}

// rejectClicked rejects a challenge; the core checks who may.
func (a *Adapter) rejectClicked(ctx context.Context, ic slack.InteractionCallback, id string) {
	out, err := a.core.Reject(a.coreCtx(), core.RejectRequest{ChallengeID: id, Actor: ic.User.ID, Channel: ic.Channel.ID, Reason: "rejected in Slack"})
	a.refreshChallenge(ctx, id)
	if err == nil && out.Status == core.StatusRejected && out.Reason == core.ReasonRejected {
		return // the updated message says it
	}
	a.reportInteraction(ctx, ic.ResponseURL, "", ic.User.ID, out, err)
}

// reportInteraction tells the clicking user the outcome, ephemerally:
// through responseURL when there is one, else in channel, else (a click
// in the App Home, which has neither) at the top of the user's Home tab.
func (a *Adapter) reportInteraction(ctx context.Context, responseURL, channel, user string, out core.Outcome, err error) {
	snap := a.core.Snapshot()
	blocks := outcomeBlocks(out, a.contextFor(user, &snap), a.cfg.RunbookBaseURL)
	if err != nil {
		msg := "The control plane refused this: " + err.Error() + "."
		if errors.Is(err, core.ErrUnknownChallenge) {
			msg = "That challenge is not known to the control plane."
		}
		blocks = errorBlocks(msg, "Run `"+a.cfg.Command+" challenges` to see the open ones.", &snap)
	}
	a.reportBlocks(ctx, responseURL, channel, user, blocks)
}

// reportBlocks shows blocks to user only: through responseURL when there
// is one, else ephemerally in channel, else in the user's Home tab.
func (a *Adapter) reportBlocks(ctx context.Context, responseURL, channel, user string, blocks []slack.Block) {
	if responseURL != "" {
		a.respond(ctx, responseURL, slack.ResponseTypeEphemeral, blocks)
		return
	}
	if channel == "" {
		a.homes.add(user, firstSection(blocks))
		a.publishHome(ctx, user)
		return
	}
	err := a.call(ctx, "chat.postEphemeral", func(ctx context.Context) error {
		_, err := a.api.PostEphemeralContext(ctx, channel, user, slack.MsgOptionBlocks(blocks...), slack.MsgOptionText(blocksFallback(blocks), false))
		return err
	})
	if err != nil {
		a.log.Warn().Err(err).Msg("ephemeral report failed")
	}
}

// firstSection is the text of the first section of blocks.
func firstSection(blocks []slack.Block) string {
	for _, b := range blocks {
		if s, ok := b.(*slack.SectionBlock); ok && s.Text != nil {
			return s.Text.Text
		}
	}
	return ""
}

type confirmResult struct {
	out core.Outcome
	err error
}

// onConfirmSubmit confirms a challenge from the modal. Only a submission
// whose typed target the core accepts confirms anything.
func (a *Adapter) onConfirmSubmit(ic slack.InteractionCallback) any {
	id := ic.View.PrivateMetadata
	typed := strings.TrimSpace(inputValue(ic, blockTyped))
	reason := strings.TrimSpace(inputValue(ic, blockReason))
	switch {
	case typed == "":
		return slack.NewErrorsViewSubmissionResponse(map[string]string{blockTyped: "Type the target exactly to confirm."})
	case reason == "":
		return slack.NewErrorsViewSubmissionResponse(map[string]string{blockReason: "A reason is required."})
	}
	req := core.ConfirmRequest{ChallengeID: id, Actor: ic.User.ID, Reason: reason, TypedTarget: typed}
	if ref := a.msgs.get(id); ref != nil {
		req.Channel = ref.channel
	}
	done := make(chan confirmResult, 1)
	a.async(func(ctx context.Context) {
		out, err := a.core.Confirm(a.coreCtx(), req)
		done <- confirmResult{out, err}
		a.refreshChallenge(ctx, id)
		if err == nil && out.Reason == core.ReasonTargetMismatch {
			return // shown in the modal
		}
		a.reportInteraction(ctx, "", req.Channel, ic.User.ID, out, err)
	})
	t := time.NewTimer(a.cfg.AckBudget)
	defer t.Stop()
	select {
	case r := <-done:
		if r.err == nil && r.out.Reason == core.ReasonTargetMismatch {
			return slack.NewErrorsViewSubmissionResponse(map[string]string{blockTyped: "That does not match the target. Type it exactly as shown; nothing was confirmed."})
		}
	case <-t.C:
	}
	return nil // closes the modal; the outcome follows in the channel
}

func inputValue(ic slack.InteractionCallback, block string) string {
	if ic.View.State == nil {
		return ""
	}
	return ic.View.State.Values[block][inputAction].Value
}
