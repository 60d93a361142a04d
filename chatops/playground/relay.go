package playground

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/botwarden/botwarden/chatops/fakeslack"
)

// responseCtx is where a response_url answers: the channel and user of the
// request that carried it.
type responseCtx struct{ channel, user string }

// errRelay marks a request the bot did not accept (not 200).
var errRelay = errors.New("bot refused the request")

// sender signs as Slack does, for the bot's current URL.
func (s *Server) sender() (fakeslack.Sender, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.botURL == "" {
		return fakeslack.Sender{}, errors.New("playground: bot URL not set")
	}
	return fakeslack.Sender{BaseURL: s.botURL, Secret: s.cfg.SigningSecret.Reveal(), Client: s.cfg.Client}, nil
}

// newTrigger returns a fresh trigger_id owned by user: a modal opened with
// it shows only to them.
func (s *Server) newTrigger(user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("%d.%s.playground", s.seq, user)
	s.triggers[id] = user
	return id
}

// newResponseURL returns a response_url that answers in channel to user.
func (s *Server) newResponseURL(channel, user string) string {
	u := s.fake.NewResponseURL()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responses[u] = responseCtx{channel: channel, user: user}
	return u
}

// post relays one signed request and returns the bot's answer body.
func (s *Server) post(ctx context.Context, send func(fakeslack.Sender) (*http.Response, error)) ([]byte, error) {
	snd, err := s.sender()
	if err != nil {
		return nil, err
	}
	resp, err := send(snd)
	if err != nil {
		return nil, fmt.Errorf("post to bot: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read bot answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("%w: %d %s", errRelay, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return body, nil
}

type commandReq struct {
	User    string `json:"user"`
	Channel string `json:"channel"`
	Text    string `json:"text"`
}

// serveCommand sends what the user typed as a slash command. Text that
// does not start with the command is refused here, as Slack would post it
// as a plain message the app never sees.
func (s *Server) serveCommand(w http.ResponseWriter, r *http.Request) {
	var req commandReq
	if !s.decode(w, r, &req) || !s.checkUser(w, req.User) || !s.checkChannel(w, req.Channel) {
		return
	}
	text := strings.TrimSpace(req.Text)
	if text != s.cfg.Command && !strings.HasPrefix(text, s.cfg.Command+" ") {
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false,
			"error": "The app only sees slash commands: start with " + s.cfg.Command + "."})
		return
	}
	sc := fakeslack.SlashCommand{TeamID: s.cfg.TeamID, ChannelID: req.Channel, UserID: req.User,
		Command: s.cfg.Command, Text: strings.TrimSpace(strings.TrimPrefix(text, s.cfg.Command)),
		TriggerID: s.newTrigger(req.User), ResponseURL: s.newResponseURL(req.Channel, req.User)}
	s.addLocal(localItem{Kind: "echo", Channel: req.Channel, User: req.User, Text: text})
	body, err := s.post(r.Context(), func(snd fakeslack.Sender) (*http.Response, error) { return snd.Command(r.Context(), sc) })
	if err != nil {
		s.relayFailed(w, req.Channel, req.User, err)
		return
	}
	s.addAck(req.Channel, req.User, body)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// addAck shows a slash command's acknowledgement body, if it has one, as
// Slack does: ephemeral unless response_type is in_channel.
func (s *Server) addAck(channel, user string, body []byte) {
	var msg struct {
		Text         string          `json:"text"`
		Blocks       json.RawMessage `json:"blocks"`
		ResponseType string          `json:"response_type"`
	}
	if len(strings.TrimSpace(string(body))) == 0 || json.Unmarshal(body, &msg) != nil || (msg.Text == "" && len(msg.Blocks) == 0) {
		return
	}
	it := localItem{Kind: "ephemeral", Channel: channel, User: user, Text: msg.Text, Blocks: msg.Blocks}
	if msg.ResponseType == "in_channel" {
		it.Kind, it.User = "message", ""
	}
	s.addLocal(it)
}

// relayFailed tells the page, and the user in the channel, that the bot
// did not take the request, the way Slack says "dispatch_failed".
func (s *Server) relayFailed(w http.ResponseWriter, channel, user string, err error) {
	s.addLocal(localItem{Kind: "ephemeral", Channel: channel, User: user, Text: "The app did not accept this request: " + err.Error()})
	writeJSON(w, http.StatusBadGateway, map[string]any{"ok": false, "error": err.Error()})
}

type actionReq struct {
	User     string `json:"user"`
	Surface  string `json:"surface"` // "message" (default) or "home"
	Channel  string `json:"channel"`
	TS       string `json:"ts"`
	ActionID string `json:"action_id"`
	BlockID  string `json:"block_id"`
	Value    string `json:"value"`
}

// serveAction sends a button click as a block_actions payload.
func (s *Server) serveAction(w http.ResponseWriter, r *http.Request) {
	var req actionReq
	if !s.decode(w, r, &req) || !s.checkUser(w, req.User) {
		return
	}
	var payload []byte
	if req.Surface == "home" {
		payload = homeClick(s.cfg.TeamID, req, s.newTrigger(req.User))
	} else {
		if !s.checkChannel(w, req.Channel) {
			return
		}
		payload = fakeslack.Click{TeamID: s.cfg.TeamID, UserID: req.User, ChannelID: req.Channel, MessageTS: req.TS,
			ActionID: req.ActionID, BlockID: req.BlockID, Value: req.Value,
			TriggerID: s.newTrigger(req.User), ResponseURL: s.newResponseURL(req.Channel, req.User)}.JSON()
	}
	if _, err := s.post(r.Context(), func(snd fakeslack.Sender) (*http.Response, error) { return snd.Interaction(r.Context(), payload) }); err != nil {
		s.relayFailed(w, req.Channel, req.User, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// homeClick is a block_actions payload from the App Home tab: its
// container is the view, and Slack gives no channel or response_url.
func homeClick(team string, req actionReq, trigger string) []byte {
	b, _ := json.Marshal(map[string]any{
		"type": "block_actions", "team": map[string]any{"id": team},
		"user":       map[string]any{"id": req.User, "username": strings.ToLower(req.User)},
		"trigger_id": trigger, "api_app_id": "A0FAKE",
		"container": map[string]any{"type": "view", "view_id": "home-" + req.User},
		"view":      map[string]any{"id": "home-" + req.User, "type": "home"},
		"actions": []any{map[string]any{"type": "button", "action_id": req.ActionID, "block_id": req.BlockID,
			"value": req.Value, "action_ts": "1700000000.000001"}},
	})
	return b
}

type submitReq struct {
	User   string                       `json:"user"`
	ViewID string                       `json:"view_id"`
	Values map[string]map[string]string `json:"values"` // block_id -> action_id -> value
}

// serveSubmit sends a modal's submit as a view_submission payload and
// applies the bot's response_action: errors stay in the modal, update
// replaces it, anything else closes it.
func (s *Server) serveSubmit(w http.ResponseWriter, r *http.Request) {
	var req submitReq
	if !s.decode(w, r, &req) || !s.checkUser(w, req.User) {
		return
	}
	v, ok := s.modalFor(req.User, req.ViewID)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "no such open modal"})
		return
	}
	var meta struct {
		CallbackID      string `json:"callback_id"`
		PrivateMetadata string `json:"private_metadata"`
	}
	_ = json.Unmarshal(v.JSON, &meta) // the bot wrote it; a bad one submits empty fields
	payload := fakeslack.Submission{TeamID: s.cfg.TeamID, UserID: req.User, ViewID: v.ID,
		CallbackID: meta.CallbackID, PrivateMetadata: meta.PrivateMetadata, Values: req.Values}.JSON()
	body, err := s.post(r.Context(), func(snd fakeslack.Sender) (*http.Response, error) { return snd.Interaction(r.Context(), payload) })
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]any{"ok": false, "error": err.Error()})
		return
	}
	errs, closed := s.applySubmitAnswer(v.ID, body)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "closed": closed, "errors": errs})
}

type closeReq struct {
	User   string `json:"user"`
	ViewID string `json:"view_id"`
}

// serveClose closes a modal (Cancel). The bot asked for no view_closed
// notification, so nothing is sent.
func (s *Server) serveClose(w http.ResponseWriter, r *http.Request) {
	var req closeReq
	if !s.decode(w, r, &req) || !s.checkUser(w, req.User) {
		return
	}
	s.closeModal(req.ViewID)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

type homeReq struct {
	User string `json:"user"`
}

// serveHome sends app_home_opened for the user; the bot publishes the tab.
func (s *Server) serveHome(w http.ResponseWriter, r *http.Request) {
	var req homeReq
	if !s.decode(w, r, &req) || !s.checkUser(w, req.User) {
		return
	}
	s.mu.Lock()
	s.seq++
	eventID := "Ev" + strconv.FormatInt(s.seq, 10)
	s.mu.Unlock()
	payload := fakeslack.AppHomeOpened(s.cfg.TeamID, req.User, eventID)
	if _, err := s.post(r.Context(), func(snd fakeslack.Sender) (*http.Response, error) { return snd.Event(r.Context(), payload) }); err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]any{"ok": false, "error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// decode reads a JSON body. Requiring application/json means a form on
// another site cannot post here without a CORS preflight, which fails.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]any{"ok": false, "error": "send application/json"})
		return false
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "bad JSON: " + err.Error()})
		return false
	}
	return true
}

func (s *Server) checkUser(w http.ResponseWriter, id string) bool {
	if _, ok := s.user(id); !ok {
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "unknown user " + strconv.Quote(id)})
		return false
	}
	return true
}

func (s *Server) checkChannel(w http.ResponseWriter, id string) bool {
	for _, c := range s.cfg.Channels {
		if c.ID == id {
			return true
		}
	}
	writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "unknown channel " + strconv.Quote(id)})
	return false
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
