package chatops

import (
	"context"
	"fmt"
	"strings"

	"github.com/slack-go/slack"
)

// publishHome publishes user's App Home: the fleet, safety / gates /
// kill-switch, the open challenges user can act on (with buttons), and
// only the commands user may run.
func (a *Adapter) publishHome(ctx context.Context, user string) {
	view := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: a.homeBlocks(user)}}
	err := a.call(ctx, "views.publish", func(ctx context.Context) error {
		_, err := a.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: user, View: view})
		return err
	})
	if err != nil {
		a.log.Warn().Err(err).Str("user", user).Msg("publish home failed")
	}
}

func (a *Adapter) homeBlocks(user string) []slack.Block {
	s := a.core.Snapshot()
	blocks := []slack.Block{slack.NewHeaderBlock(plain("Botwarden · " + s.Environment)), contextLine(s)}
	var fleet []string
	for _, b := range s.Bots {
		fleet = append(fleet, botLine(b))
	}
	if len(fleet) == 0 {
		fleet = []string{"No bots."}
	}
	blocks = append(blocks, slack.NewSectionBlock(mrkdwn("*Fleet*\n"+strings.Join(fleet, "\n")), nil, nil), slack.NewDividerBlock())
	blocks = append(blocks, slack.NewSectionBlock(mrkdwn("*Open challenges you can act on*"), nil, nil))
	n := 0
	for _, ch := range s.Challenges {
		if !a.core.MayApprove(user, ch.ID) {
			continue
		}
		n++
		confirm := slack.NewButtonBlockElement(actionConfirm, ch.ID, plain("Confirm…"))
		confirm.Style = slack.StyleDanger
		reject := slack.NewButtonBlockElement(actionReject, ch.ID, plain("Reject"))
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(challengeLine(ch)+fmt.Sprintf("\nrequested by <@%s>", esc(ch.Command.Actor))), nil, nil),
			slack.NewActionBlock("home_"+ch.ID, confirm, reject))
	}
	if n == 0 {
		blocks = append(blocks, slack.NewContextBlock("no_challenges", mrkdwn("None.")))
	}
	blocks = append(blocks, slack.NewDividerBlock())
	help := a.helpBlocks(user)
	if len(help) > 0 {
		blocks = append(blocks, help[0])
	}
	return blocks
}
