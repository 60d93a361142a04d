package fakeslack

import (
	"encoding/json"
	"math"
	"strconv"
)

// The bot's identity in the fake: auth.test answers it, and every message
// the app posts is authored by it.
const (
	BotUserID = "U0BOT"
	BotID     = "B0BOT"
)

// apiMethods are the Web API methods the fake implements. Each runs with
// s.mu held and returns the response fields or a Slack error code.
var apiMethods = map[string]func(s *Server, c Call) (map[string]any, string){
	"auth.test":                    (*Server).authTest,
	"apps.connections.open":        (*Server).openConnection,
	"chat.postMessage":             (*Server).postMessage,
	"chat.postEphemeral":           (*Server).postEphemeral,
	"chat.update":                  (*Server).updateMessage,
	"chat.delete":                  (*Server).deleteMessage,
	"conversations.history":        (*Server).history,
	"views.open":                   (*Server).openView,
	"views.push":                   (*Server).openView,
	"views.update":                 (*Server).updateView,
	"views.publish":                (*Server).publishView,
	"files.getUploadURLExternal":   (*Server).getUploadURL,
	"files.completeUploadExternal": (*Server).completeUpload,
}

func (s *Server) authTest(Call) (map[string]any, string) {
	return map[string]any{"url": "https://fake.slack.test/", "team": "Fake", "user": "botwarden",
		"team_id": "T0FAKE", "user_id": BotUserID, "bot_id": BotID}, ""
}

func (s *Server) postMessage(c Call) (map[string]any, string) {
	ch := c.Params.Get("channel")
	if ch == "" {
		return nil, "channel_not_found"
	}
	if c.Params.Get("text") == "" && c.Params.Get("blocks") == "" {
		return nil, "no_text"
	}
	m := &Message{Channel: ch, TS: s.nextTS(), ThreadTS: c.Params.Get("thread_ts"),
		Text: c.Params.Get("text"), Blocks: rawOrNil(c.Params.Get("blocks")), Metadata: rawOrNil(c.Params.Get("metadata"))}
	s.messages[ch] = append(s.messages[ch], m)
	return map[string]any{"channel": ch, "ts": m.TS, "message": map[string]any{"text": m.Text, "ts": m.TS}}, ""
}

// PostAs stores a message as if user had posted it (not the app), with
// optional metadata JSON: for tests of what the app trusts in history.
func (s *Server) PostAs(channel, user, text string, metadata []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &Message{Channel: channel, TS: s.nextTS(), User: user, Text: text, Metadata: metadata}
	s.messages[channel] = append(s.messages[channel], m)
	return m.TS
}

func (s *Server) postEphemeral(c Call) (map[string]any, string) {
	ch, user := c.Params.Get("channel"), c.Params.Get("user")
	if ch == "" || user == "" {
		return nil, "user_not_in_channel"
	}
	s.ephemerals = append(s.ephemerals, Ephemeral{Channel: ch, User: user, Text: c.Params.Get("text"),
		Blocks: rawOrNil(c.Params.Get("blocks"))})
	return map[string]any{"message_ts": s.nextTS()}, ""
}

func (s *Server) find(ch, ts string) *Message {
	for _, m := range s.messages[ch] {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

func (s *Server) updateMessage(c Call) (map[string]any, string) {
	ch, ts := c.Params.Get("channel"), c.Params.Get("ts")
	m := s.find(ch, ts)
	if m == nil {
		return nil, "message_not_found"
	}
	m.Text = c.Params.Get("text")
	m.Blocks = rawOrNil(c.Params.Get("blocks"))
	if md := c.Params.Get("metadata"); md != "" {
		m.Metadata = rawOrNil(md)
	}
	m.Updates++
	return map[string]any{"channel": ch, "ts": ts, "text": m.Text}, ""
}

func (s *Server) deleteMessage(c Call) (map[string]any, string) {
	ch, ts := c.Params.Get("channel"), c.Params.Get("ts")
	for i, m := range s.messages[ch] {
		if m.TS == ts {
			s.messages[ch] = append(s.messages[ch][:i], s.messages[ch][i+1:]...)
			return map[string]any{"channel": ch, "ts": ts}, ""
		}
	}
	return nil, "message_not_found"
}

// history returns a channel's messages newer than oldest, newest first,
// as Slack does; metadata only with include_all_metadata=1.
func (s *Server) history(c Call) (map[string]any, string) {
	ch := c.Params.Get("channel")
	if ch == "" {
		return nil, "channel_not_found"
	}
	ms := s.messages[ch]
	limit, _ := strconv.Atoi(c.Params.Get("limit"))
	if limit <= 0 {
		limit = 100
	}
	oldest, _ := strconv.ParseFloat(c.Params.Get("oldest"), 64)
	before := math.Inf(1) // the cursor is the ts of the last message of the previous page
	if cur := c.Params.Get("cursor"); cur != "" {
		before, _ = strconv.ParseFloat(cur, 64)
	}
	withMeta := c.Params.Get("include_all_metadata") == "1"
	out := make([]map[string]any, 0, min(limit, len(ms)))
	more := false
	for i := len(ms) - 1; i >= 0; i-- {
		ts, _ := strconv.ParseFloat(ms[i].TS, 64)
		if ts >= before {
			continue
		}
		if ts <= oldest {
			break
		}
		if len(out) == limit {
			more = true
			break
		}
		m := map[string]any{"type": "message", "ts": ms[i].TS, "text": ms[i].Text, "blocks": ms[i].Blocks,
			"user": BotUserID, "bot_id": BotID}
		if ms[i].User != "" {
			m["user"] = ms[i].User
			delete(m, "bot_id")
		}
		if ms[i].ThreadTS != "" {
			m["thread_ts"] = ms[i].ThreadTS
		}
		if withMeta && ms[i].Metadata != nil {
			m["metadata"] = ms[i].Metadata
		}
		out = append(out, m)
	}
	resp := map[string]any{"messages": out, "has_more": more}
	if more {
		resp["response_metadata"] = map[string]any{"next_cursor": out[len(out)-1]["ts"]}
	}
	return resp, ""
}

type viewReq struct {
	TriggerID string          `json:"trigger_id"`
	UserID    string          `json:"user_id"`
	ViewID    string          `json:"view_id"`
	View      json.RawMessage `json:"view"`
}

func (s *Server) openView(c Call) (map[string]any, string) {
	var req viewReq
	if err := json.Unmarshal(c.JSON, &req); err != nil || len(req.View) == 0 {
		return nil, "invalid_arguments"
	}
	if req.TriggerID == "" {
		return nil, "invalid_trigger_id"
	}
	v := &View{ID: s.nextID("V"), TriggerID: req.TriggerID, JSON: req.View}
	s.views[v.ID] = v
	s.viewOrder = append(s.viewOrder, v.ID)
	return map[string]any{"view": viewJSON(v)}, ""
}

func (s *Server) updateView(c Call) (map[string]any, string) {
	var req viewReq
	if err := json.Unmarshal(c.JSON, &req); err != nil {
		return nil, "invalid_arguments"
	}
	v, ok := s.views[req.ViewID]
	if !ok {
		return nil, "not_found"
	}
	v.JSON = req.View
	return map[string]any{"view": viewJSON(v)}, ""
}

func (s *Server) publishView(c Call) (map[string]any, string) {
	var req viewReq
	if err := json.Unmarshal(c.JSON, &req); err != nil || req.UserID == "" {
		return nil, "invalid_arguments"
	}
	v, ok := s.homes[req.UserID]
	if !ok {
		v = &View{ID: s.nextID("V"), User: req.UserID}
		s.homes[req.UserID] = v
	}
	v.JSON = req.View
	return map[string]any{"view": viewJSON(v)}, ""
}

func viewJSON(v *View) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(v.JSON, &m)
	if m == nil {
		m = map[string]any{}
	}
	m["id"] = v.ID
	return m
}

func (s *Server) getUploadURL(c Call) (map[string]any, string) {
	name := c.Params.Get("filename")
	if name == "" || c.Params.Get("length") == "" {
		return nil, "invalid_arguments"
	}
	f := &File{ID: s.nextID("F"), Name: name}
	s.files[f.ID] = f
	s.fileOrder = append(s.fileOrder, f.ID)
	return map[string]any{"upload_url": s.base + "/upload/" + f.ID, "file_id": f.ID}, ""
}

func (s *Server) completeUpload(c Call) (map[string]any, string) {
	var files []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(c.Params.Get("files")), &files); err != nil || len(files) == 0 {
		return nil, "invalid_arguments"
	}
	out := make([]map[string]any, 0, len(files))
	for _, fs := range files {
		f, ok := s.files[fs.ID]
		if !ok || f.Content == nil {
			return nil, "file_not_found"
		}
		f.Title, f.Channel, f.ThreadTS, f.Completed = fs.Title, c.Params.Get("channel_id"), c.Params.Get("thread_ts"), true
		out = append(out, map[string]any{"id": f.ID, "title": f.Title})
	}
	return map[string]any{"files": out}, ""
}

func rawOrNil(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}
