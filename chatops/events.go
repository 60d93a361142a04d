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
	resp, user, err := a.onEventParseOnly(body)
	if user != "" {
		a.async(func(ctx context.Context) { a.publishHome(ctx, user) })
	}
	return resp, err
}

// onEventParseOnly decodes an event: the handshake answer, or the user
// whose Home tab to publish.
func (a *Adapter) onEventParseOnly(body []byte) (any, string, error) {
	ev, err := slackevents.ParseEvent(json.RawMessage(body), slackevents.OptionNoVerifyToken())
	if err != nil {
		return nil, "", fmt.Errorf("parse event: %w", err)
	}
	switch ev.Type {
	case slackevents.URLVerification:
		var uv slackevents.ChallengeResponse
		if err := json.Unmarshal(body, &uv); err != nil {
			return nil, "", fmt.Errorf("parse url_verification: %w", err)
		}
		return map[string]string{"challenge": uv.Challenge}, "", nil
	case slackevents.CallbackEvent:
		if home, ok := ev.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent); ok && home.Tab != "messages" && home.User != "" {
			return nil, home.User, nil
		}
	}
	return nil, "", nil
}
