package chatops

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/slack-go/slack"
)

// maxBody bounds a request from Slack.
const maxBody = 1 << 20

// Handler serves HTTP mode: /slack/commands, /slack/interactivity and
// /slack/events. Every request is verified first (signature, freshness,
// replay); anything else gets 401 and has no effect. Handlers answer
// within Config.AckBudget and finish the work asynchronously.
func (a *Adapter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /slack/commands", a.serveCommand)
	mux.HandleFunc("POST /slack/interactivity", a.serveInteraction)
	mux.HandleFunc("POST /slack/events", a.serveEvent)
	return mux
}

// readVerified reads and verifies the body; on failure it has answered.
func (a *Adapter) readVerified(w http.ResponseWriter, r *http.Request, endpoint string) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		a.m.requests.WithLabelValues(endpoint, "bad_request").Inc()
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return nil, false
	}
	if err := a.verify.Verify(r.Header, body); err != nil {
		a.m.requests.WithLabelValues(endpoint, verifyResult(err)).Inc()
		a.log.Warn().Str("endpoint", endpoint).Str("remote", r.RemoteAddr).Err(err).Msg("slack request refused")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return nil, false
	}
	a.m.requests.WithLabelValues(endpoint, "ok").Inc()
	return body, true
}

func verifyResult(err error) string {
	switch {
	case errors.Is(err, ErrUnsigned):
		return "unsigned"
	case errors.Is(err, ErrStale):
		return "stale"
	case errors.Is(err, ErrReplayed):
		return "replayed"
	}
	return "bad_signature"
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if v == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}

func (a *Adapter) serveCommand(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readVerified(w, r, "commands")
	if !ok {
		return
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	sc := slack.SlashCommand{
		TeamID: vals.Get("team_id"), ChannelID: vals.Get("channel_id"), UserID: vals.Get("user_id"),
		Command: vals.Get("command"), Text: vals.Get("text"), TriggerID: vals.Get("trigger_id"),
		ResponseURL: vals.Get("response_url"), EnterpriseID: vals.Get("enterprise_id"),
	}
	writeJSON(w, a.onCommand(sc))
}

func (a *Adapter) serveInteraction(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readVerified(w, r, "interactivity")
	if !ok {
		return
	}
	ic, err := decodeInteraction(body)
	if err != nil {
		http.Error(w, "bad payload", http.StatusBadRequest)
		return
	}
	writeJSON(w, a.onInteraction(ic))
}

// decodeInteraction decodes the form-encoded payload of an interactivity
// request.
func decodeInteraction(body []byte) (slack.InteractionCallback, error) {
	var ic slack.InteractionCallback
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return ic, err
	}
	p := vals.Get("payload")
	if p == "" {
		return ic, errors.New("no payload")
	}
	if err := json.Unmarshal([]byte(p), &ic); err != nil {
		return ic, err
	}
	return ic, nil
}

func (a *Adapter) serveEvent(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readVerified(w, r, "events")
	if !ok {
		return
	}
	resp, err := a.onEvent(body)
	if err != nil {
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	writeJSON(w, resp)
}
