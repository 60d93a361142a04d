package chatops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// Action ids of the buttons the audit channel offers next to an event.
const (
	actionBundle  = "offer_bundle"   // value: bot id
	actionStop    = "offer_stop"     // value: bot id
	actionStopAll = "offer_stop_all" // value: "live"
)

// maxStopButtons bounds the per-bot stop buttons on one message (Slack
// allows 25 elements per actions block).
const maxStopButtons = 10

// offerBlocks are the buttons an event earns in the audit channel: a
// support bundle when a bot is stuck STOPPING or enters ERROR (issue 6),
// stops when safety leaves NORMAL while bots run live (issue 7). Offers
// only: nothing happens until someone clicks, and then only through the
// core, as the clicking user.
func offerBlocks(ev core.Event, s core.Snapshot) []slack.Block {
	switch {
	case ev.Type == core.EvStuck || (ev.Type == core.EvTransition && ev.To == lifecycle.Error):
		b := slack.NewButtonBlockElement(actionBundle, ev.Target, plain("Support bundle for "+ev.Target))
		return []slack.Block{slack.NewActionBlock("offer_bundle", b)}
	case ev.Type == core.EvSafety && ev.Safety != nil &&
		(ev.Safety.Mode == core.SafetySafe || ev.Safety.Mode == core.SafetyEmergencyStop):
		return stopOffer(ev.Safety.Mode, liveBots(s))
	}
	return nil
}

func liveBots(s core.Snapshot) []string {
	var out []string
	for _, b := range s.Bots {
		if b.State == lifecycle.RunningLive {
			out = append(out, b.ID)
		}
	}
	return out
}

func stopOffer(mode core.SafetyMode, live []string) []slack.Block {
	if len(live) == 0 {
		return nil
	}
	text := fmt.Sprintf("%s Safety is %s and %d bot(s) still run *live*: %s. The control plane stops nothing on its own; stop them here if the runbook says so.",
		liveMarker, safetyBadge(mode), len(live), "`"+strings.Join(live, "`, `")+"`")
	all := slack.NewButtonBlockElement(actionStopAll, "live", plain("Stop all live bots"))
	all.Style = slack.StyleDanger
	all.Confirm = slack.NewConfirmationBlockObject(plain("Stop all live bots?"),
		plain("Stops "+strings.Join(live, ", ")+" through the control plane, as you."), plain("Stop them"), plain("Cancel"))
	elems := []slack.BlockElement{all}
	for i, id := range live {
		if i == maxStopButtons {
			break
		}
		elems = append(elems, slack.NewButtonBlockElement(actionStop, id, plain("Stop "+id)))
	}
	return []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil), slack.NewActionBlock("offer_stop", elems...)}
}

// offerClicked runs what an offer button asks, as the clicking user,
// through the core (which authorises and records it). The command_id is
// derived from the message, the button and the user, so double clicks
// are one command.
func (a *Adapter) offerClicked(ctx context.Context, ic slack.InteractionCallback, act *slack.BlockAction) {
	var targets []string
	op := core.OpStop
	switch act.ActionID {
	case actionBundle:
		op, targets = core.OpBundle, []string{act.Value}
	case actionStop:
		targets = []string{act.Value}
	case actionStopAll:
		targets = liveBots(a.core.Snapshot())
	}
	var lines []string
	for _, t := range targets {
		out, err := a.submitOffer(ic, op, t)
		if err != nil {
			lines = append(lines, fmt.Sprintf(":warning: `%s %s` refused as malformed: %s", op, esc(t), esc(err.Error())))
			continue
		}
		lines = append(lines, firstSection(outcomeBlocks(out, nil, a.cfg.RunbookBaseURL)))
	}
	if len(lines) == 0 {
		lines = []string{"No bot runs live any more; nothing to stop."}
	}
	snap := a.core.Snapshot()
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(strings.Join(lines, "\n")), nil, nil), contextLine(snap)}
	a.reportBlocks(ctx, ic.ResponseURL, ic.Channel.ID, ic.User.ID, blocks)
}

func (a *Adapter) submitOffer(ic slack.InteractionCallback, op core.Op, target string) (core.Outcome, error) {
	h := sha256.New()
	for _, part := range []string{ic.Team.ID, ic.Channel.ID, ic.Container.MessageTs, string(op), target, ic.User.ID} {
		fmt.Fprintf(h, "%d:%s;", len(part), part)
	}
	id := "slack-btn-" + hex.EncodeToString(h.Sum(nil))[:28]
	cmd := core.Command{
		SchemaVersion: core.SchemaVersion, CommandID: id, Actor: ic.User.ID, Target: target, Op: op,
		RequestedTransition: a.core.RequestedTransition(target, op, core.Params{}), Environment: a.core.Environment(),
		TraceID: "tr-" + strings.TrimPrefix(id, "slack-"), RunID: a.runID, Channel: ic.Channel.ID,
		Reason: "offered in the audit channel after " + ic.Container.MessageTs,
	}
	inflight := true // a double click: the first click's entry stays for its upload
	if op == core.OpBundle {
		_, inflight = a.bundles.LoadOrStore(id, bundleReq{channel: ic.Channel.ID, user: ic.User.ID, thread: ic.Container.MessageTs})
	}
	out, err := a.core.Submit(a.coreCtx(), cmd)
	if !inflight && (err != nil || out.Status != core.StatusApplied || out.Duplicate) {
		a.bundles.Delete(id) // nothing (new) to upload
	}
	return out, err
}
