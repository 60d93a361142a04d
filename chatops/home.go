package chatops

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
)

// maxHomeViewers bounds the users whose Home tab is kept fresh; past it,
// the longest-known viewer is forgotten (their tab refreshes when they
// open it again).
const maxHomeViewers = 1000

// homeViewers are the users who opened the App Home, with the last
// answer to a Home click shown at the top of their tab. A poke asks the
// refresher to republish every tab; pokes in a burst coalesce.
type homeViewers struct {
	mu     sync.Mutex
	banner map[string]string
	order  []string
	poke   chan struct{}
}

func newHomeViewers() *homeViewers {
	return &homeViewers{banner: map[string]string{}, poke: make(chan struct{}, 1)}
}

// add remembers user as a viewer, with banner if it is not empty.
func (h *homeViewers) add(user, banner string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.banner[user]; !ok {
		if len(h.order) >= maxHomeViewers {
			delete(h.banner, h.order[0])
			h.order = h.order[1:]
		}
		h.order = append(h.order, user)
	}
	if banner != "" || h.banner[user] == "" {
		h.banner[user] = banner
	}
}

func (h *homeViewers) get(user string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.banner[user]
}

func (h *homeViewers) users() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.order)
}

// changed asks for a refresh of every viewer's tab; it never blocks.
func (h *homeViewers) changed() {
	select {
	case h.poke <- struct{}{}:
	default:
	}
}

// refreshHomes republishes the Home tab of every viewer when state
// changed, at most once per Config.HomeRefresh, until ctx ends. Rate
// limits are waited out per call (views.publish backs off on 429).
func (a *Adapter) refreshHomes(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.homes.poke:
		}
		for _, u := range a.homes.users() {
			a.publishHome(ctx, u)
		}
		t := time.NewTimer(a.cfg.HomeRefresh)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// publishHome publishes user's App Home: the fleet, safety / gates /
// kill-switch, the open challenges user can act on (with buttons), and
// only the commands user may run. The user's tab is kept fresh from then
// on.
func (a *Adapter) publishHome(ctx context.Context, user string) {
	a.homes.add(user, "")
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
	blocks := []slack.Block{slack.NewHeaderBlock(plain("Botwarden · " + s.Environment))}
	if a.mayView(user) {
		blocks = append(blocks, contextLine(s))
		if b := a.homes.get(user); b != "" {
			blocks = append(blocks, slack.NewSectionBlock(mrkdwn(b), nil, nil))
		}
		var fleet []string
		for _, b := range s.Bots {
			fleet = append(fleet, botLine(b))
		}
		if len(fleet) == 0 {
			fleet = []string{"No bots."}
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("*Fleet*\n"+strings.Join(fleet, "\n")), nil, nil))
	} else {
		// Least privilege: the fleet, safety and kill-switch are status.
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn("Your roles do not allow viewing the fleet here. Ask an admin for the viewer role."), nil, nil))
	}
	blocks = append(blocks, slack.NewDividerBlock())
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
