package fakeslack

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SlashCommand is what Slack posts to a slash command's request URL.
type SlashCommand struct {
	TeamID, ChannelID, UserID, Command, Text, TriggerID, ResponseURL string
}

// Form encodes the command as Slack does.
func (c SlashCommand) Form() url.Values {
	return url.Values{
		"team_id": {c.TeamID}, "channel_id": {c.ChannelID}, "user_id": {c.UserID},
		"command": {c.Command}, "text": {c.Text}, "trigger_id": {c.TriggerID},
		"response_url": {c.ResponseURL}, "user_name": {strings.ToLower(c.UserID)},
	}
}

// Click is a button click on a message (a block_actions payload), or in
// the App Home when HomeViewID is set (then Slack sends no channel and no
// response_url).
type Click struct {
	TeamID, UserID, ChannelID, MessageTS string
	ActionID, BlockID, Value             string
	TriggerID, ResponseURL               string
	HomeViewID                           string
}

// JSON returns the block_actions payload.
func (c Click) JSON() []byte {
	if c.HomeViewID != "" {
		b, _ := json.Marshal(map[string]any{
			"type": "block_actions", "team": map[string]any{"id": c.TeamID},
			"user":       map[string]any{"id": c.UserID, "username": strings.ToLower(c.UserID)},
			"trigger_id": c.TriggerID, "api_app_id": "A0FAKE",
			"container": map[string]any{"type": "view", "view_id": c.HomeViewID},
			"view":      map[string]any{"id": c.HomeViewID, "type": "home"},
			"actions": []any{map[string]any{"type": "button", "action_id": c.ActionID, "block_id": c.BlockID,
				"value": c.Value, "action_ts": "1700000000.000001"}},
		})
		return b
	}
	b, _ := json.Marshal(map[string]any{
		"type": "block_actions", "team": map[string]any{"id": c.TeamID},
		"user":       map[string]any{"id": c.UserID, "username": strings.ToLower(c.UserID)},
		"trigger_id": c.TriggerID, "response_url": c.ResponseURL, "api_app_id": "A0FAKE",
		"container": map[string]any{"type": "message", "message_ts": c.MessageTS, "channel_id": c.ChannelID},
		"channel":   map[string]any{"id": c.ChannelID},
		"message":   map[string]any{"ts": c.MessageTS, "type": "message"},
		"actions": []any{map[string]any{"type": "button", "action_id": c.ActionID, "block_id": c.BlockID,
			"value": c.Value, "action_ts": "1700000000.000001"}},
	})
	return b
}

// Submission is a modal's submit (a view_submission payload). Values maps
// block_id -> action_id -> typed value.
type Submission struct {
	TeamID, UserID, ViewID, CallbackID, PrivateMetadata string
	Values                                              map[string]map[string]string
}

// JSON returns the view_submission payload.
func (s Submission) JSON() []byte {
	vals := map[string]any{}
	for block, actions := range s.Values {
		m := map[string]any{}
		for action, v := range actions {
			m[action] = map[string]any{"type": "plain_text_input", "value": v}
		}
		vals[block] = m
	}
	b, _ := json.Marshal(map[string]any{
		"type": "view_submission", "team": map[string]any{"id": s.TeamID},
		"user": map[string]any{"id": s.UserID}, "api_app_id": "A0FAKE", "trigger_id": "T-submit",
		"view": map[string]any{"id": s.ViewID, "type": "modal", "callback_id": s.CallbackID,
			"private_metadata": s.PrivateMetadata, "state": map[string]any{"values": vals}},
	})
	return b
}

// AppHomeOpened returns the Events API payload Slack sends when user opens
// the app's Home tab.
func AppHomeOpened(teamID, userID, eventID string) []byte {
	b, _ := json.Marshal(map[string]any{
		"type": "event_callback", "team_id": teamID, "api_app_id": "A0FAKE", "event_id": eventID,
		"event_time": 1700000000,
		"event":      map[string]any{"type": "app_home_opened", "user": userID, "channel": "D0" + userID, "tab": "home"},
	})
	return b
}

// URLVerification returns the Events API handshake payload.
func URLVerification(challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": "url_verification", "token": "x", "challenge": challenge})
	return b
}

// Sign returns Slack's v0 signature of body sent at Unix time ts.
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%d:", ts)
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// Sender posts signed requests to a bot the way Slack does.
type Sender struct {
	BaseURL string           // the bot's HTTP root, e.g. "http://127.0.0.1:8080"
	Secret  string           // the app's signing secret
	Now     func() time.Time // default time.Now
	Client  *http.Client     // default http.DefaultClient
}

// Command posts a slash command to /slack/commands.
func (s Sender) Command(ctx context.Context, c SlashCommand) (*http.Response, error) {
	return s.Post(ctx, "/slack/commands", "application/x-www-form-urlencoded", []byte(c.Form().Encode()), nil)
}

// Interaction posts an interactivity payload to /slack/interactivity.
func (s Sender) Interaction(ctx context.Context, payload []byte) (*http.Response, error) {
	body := url.Values{"payload": {string(payload)}}.Encode()
	return s.Post(ctx, "/slack/interactivity", "application/x-www-form-urlencoded", []byte(body), nil)
}

// Event posts an Events API payload to /slack/events.
func (s Sender) Event(ctx context.Context, payload []byte) (*http.Response, error) {
	return s.Post(ctx, "/slack/events", "application/json", payload, nil)
}

// Post sends body to path, signed now, with extra headers (e.g.
// X-Slack-Retry-Num) added.
func (s Sender) Post(ctx context.Context, path, contentType string, body []byte, extra http.Header) (*http.Response, error) {
	req, err := s.Request(ctx, path, contentType, body)
	if err != nil {
		return nil, err
	}
	for k, vs := range extra {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	c := s.Client
	if c == nil {
		c = http.DefaultClient
	}
	return c.Do(req)
}

// Request builds the signed request without sending it (to replay it, or
// to tamper with it in a test).
func (s Sender) Request(ctx context.Context, path, contentType string, body []byte) (*http.Request, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(s.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	ts := now().Unix()
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("X-Slack-Signature", Sign(s.Secret, ts, body))
	return req, nil
}
