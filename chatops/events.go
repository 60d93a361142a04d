package chatops

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/slack-go/slack/slackevents"
)

// onEvent handles a verified Events API payload: the URL verification
// handshake and app_home_opened (the Home tab is published asynchronously).
func (a *Adapter) onEvent(body []byte) (any, error) {
	ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	if err != nil {
		return nil, fmt.Errorf("parse event: %w", err)
	}
	switch ev.Type {
	case slackevents.URLVerification:
		var uv slackevents.ChallengeResponse
		if err := json.Unmarshal(body, &uv); err != nil {
			return nil, fmt.Errorf("parse url_verification: %w", err)
		}
		return map[string]string{"challenge": uv.Challenge}, nil
	case slackevents.CallbackEvent:
		if home, ok := ev.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent); ok && home.Tab != "messages" {
			user := home.User
			a.async(func(ctx context.Context) { a.publishHome(ctx, user) })
		}
	}
	return nil, nil
}
