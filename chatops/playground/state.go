package playground

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/botwarden/botwarden/chatops/fakeslack"
)

// Item is one entry of a channel's timeline as the page shows it.
type Item struct {
	Key      string          `json:"key"`
	Seq      int64           `json:"seq"`  // place in the timeline: first seen
	Kind     string          `json:"kind"` // message, ephemeral, echo, file
	Channel  string          `json:"channel"`
	TS       string          `json:"ts,omitempty"`
	ThreadTS string          `json:"thread_ts,omitempty"`
	User     string          `json:"user,omitempty"` // recipient of an ephemeral, author of an echo
	Text     string          `json:"text,omitempty"`
	Blocks   json.RawMessage `json:"blocks,omitempty"`
	Edited   bool            `json:"edited,omitempty"`
	File     *FileInfo       `json:"file,omitempty"`
}

// FileInfo describes an uploaded file; the page links to /play/files/{id}.
type FileInfo struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Title string `json:"title"`
	Size  int    `json:"size"`
}

// localItem is an item the playground itself adds: acknowledgements the
// bot returned in its HTTP answer, and the echo of a typed command.
type localItem = Item

// modalStatus is what the page knows of a modal beyond the fake's copy.
type modalStatus struct {
	closed   bool
	errors   map[string]string
	override json.RawMessage // a response_action "update"
}

// State is what one user sees: the timeline, their open modal, their Home.
type State struct {
	Version int64           `json:"version"`
	Items   []Item          `json:"items"`
	Modal   *Modal          `json:"modal"`
	Home    json.RawMessage `json:"home,omitempty"`
}

// Modal is the modal open for a user, with the errors the bot returned.
type Modal struct {
	ID     string            `json:"id"`
	View   json.RawMessage   `json:"view"`
	Errors map[string]string `json:"errors,omitempty"`
}

func (s *Server) addLocal(it localItem) {
	s.mu.Lock()
	it.Key = "l:" + strconv.Itoa(len(s.locals))
	s.locals = append(s.locals, it)
	s.mu.Unlock()
	s.bump()
}

// collectLocked gathers every item of every user. Caller holds s.mu; the
// fake has its own lock and never calls back.
func (s *Server) collectLocked() []Item {
	var out []Item
	for _, ch := range s.cfg.Channels {
		for _, m := range s.fake.Messages(ch.ID) {
			out = append(out, Item{Key: "m:" + ch.ID + ":" + m.TS, Kind: "message", Channel: ch.ID, TS: m.TS,
				ThreadTS: m.ThreadTS, Text: m.Text, Blocks: m.Blocks, Edited: m.Updates > 0})
		}
	}
	for _, u := range s.cfg.Users {
		for i, e := range s.fake.Ephemerals(u.ID) {
			out = append(out, Item{Key: fmt.Sprintf("e:%s:%d", u.ID, i), Kind: "ephemeral", Channel: e.Channel,
				User: u.ID, Text: e.Text, Blocks: e.Blocks})
		}
	}
	out = append(out, s.responseItemsLocked()...)
	for _, f := range s.fake.Files() {
		if f.Completed && f.Channel != "" {
			out = append(out, Item{Key: "f:" + f.ID, Kind: "file", Channel: f.Channel, ThreadTS: f.ThreadTS,
				File: &FileInfo{ID: f.ID, Name: f.Name, Title: f.Title, Size: len(f.Content)}})
		}
	}
	return append(out, s.locals...)
}

// responseItemsLocked turns posts to response_urls into items. A post
// with replace_original or delete_original changes the earlier post to the
// same URL, as Slack does for the message a response_url belongs to.
func (s *Server) responseItemsLocked() []Item {
	var out []Item
	last := map[string]int{} // url -> index in out
	for i, r := range s.fake.Responses() {
		rc, ok := s.responses[r.URL]
		if !ok {
			continue
		}
		it := Item{Key: "r:" + strconv.Itoa(i), Kind: "ephemeral", Channel: rc.channel, User: rc.user, Text: r.Text, Blocks: r.Blocks}
		if r.ResponseType == "in_channel" {
			it.Kind, it.User = "message", ""
		}
		if j, seen := last[r.URL]; seen && (r.ReplaceOriginal || r.DeleteOriginal) {
			if r.DeleteOriginal {
				out[j].Kind = "deleted"
				continue
			}
			it.Key, it.Kind, it.User, it.Edited = out[j].Key, out[j].Kind, out[j].User, true
			out[j] = it
			continue
		}
		last[r.URL] = len(out)
		out = append(out, it)
	}
	return out
}

// observeLocked gives items seen for the first time their place in the
// timeline, and closes a user's older modals once a newer one opens
// (Slack shows one modal at a time). Caller holds s.mu.
func (s *Server) observeLocked() []Item {
	items := s.collectLocked()
	for i := range items {
		seq, ok := s.order[items[i].Key]
		if !ok {
			s.seq++
			seq = s.seq
			s.order[items[i].Key] = seq
		}
		items[i].Seq = seq
	}
	newest := map[string]string{}
	for _, v := range s.fake.Views() {
		if u := s.triggers[v.TriggerID]; u != "" {
			if old, ok := newest[u]; ok {
				s.status(old).closed = true
			}
			newest[u] = v.ID
		}
	}
	return items
}

func (s *Server) status(viewID string) *modalStatus {
	st, ok := s.views[viewID]
	if !ok {
		st = &modalStatus{}
		s.views[viewID] = st
	}
	return st
}

// stateFor returns what user sees.
func (s *Server) stateFor(user string) State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Version: s.version, Items: []Item{}}
	for _, it := range s.observeLocked() {
		switch {
		case it.Kind == "deleted":
		case (it.Kind == "ephemeral" || it.Kind == "echo") && it.User != user:
		default:
			st.Items = append(st.Items, it)
		}
	}
	sort.SliceStable(st.Items, func(i, j int) bool { return st.Items[i].Seq < st.Items[j].Seq })
	if v, ok := s.openModalLocked(user); ok {
		ms := s.status(v.ID)
		m := &Modal{ID: v.ID, View: v.JSON, Errors: ms.errors}
		if ms.override != nil {
			m.View = ms.override
		}
		st.Modal = m
	}
	if h, ok := s.fake.Home(user); ok {
		st.Home = h.JSON
	}
	return st
}

// openModalLocked returns user's open modal, the newest opened with one of
// their triggers and not closed. Caller holds s.mu.
func (s *Server) openModalLocked(user string) (fakeslack.View, bool) {
	views := s.fake.Views()
	for i := len(views) - 1; i >= 0; i-- {
		v := views[i]
		if s.triggers[v.TriggerID] == user && !s.status(v.ID).closed {
			return v, true
		}
	}
	return fakeslack.View{}, false
}

// modalFor returns viewID if it is user's open modal.
func (s *Server) modalFor(user, viewID string) (fakeslack.View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.openModalLocked(user)
	if !ok || v.ID != viewID {
		return fakeslack.View{}, false
	}
	return v, true
}

func (s *Server) closeModal(viewID string) {
	s.mu.Lock()
	s.status(viewID).closed = true
	s.mu.Unlock()
	s.bump()
}

// applySubmitAnswer applies the bot's answer to a view_submission and
// returns the errors to show and whether the modal closed.
func (s *Server) applySubmitAnswer(viewID string, body []byte) (map[string]string, bool) {
	var ans struct {
		Action string            `json:"response_action"`
		Errors map[string]string `json:"errors"`
		View   json.RawMessage   `json:"view"`
	}
	_ = json.Unmarshal(body, &ans) // an empty or non-JSON answer closes the modal, as in Slack
	s.mu.Lock()
	st := s.status(viewID)
	closed := false
	switch ans.Action {
	case "errors":
		st.errors = ans.Errors
	case "update", "push":
		st.override, st.errors = ans.View, nil
	default:
		st.closed, closed = true, true
	}
	s.mu.Unlock()
	s.bump()
	return ans.Errors, closed
}

// serveState answers what the user sees. With after=V it waits (up to
// 25 s) until something changed since version V: the page long-polls.
func (s *Server) serveState(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	if !s.checkUser(w, user) {
		return
	}
	if a := r.URL.Query().Get("after"); a != "" {
		after, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "after: not a number"})
			return
		}
		s.wait(r.Context(), after, 25*time.Second)
	}
	writeJSON(w, http.StatusOK, s.stateFor(user))
}

// serveFile downloads a file the bot uploaded (a support bundle).
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	for _, f := range s.fake.Files() {
		if f.ID == r.PathValue("id") && f.Completed {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", f.Name))
			_, _ = w.Write(f.Content)
			return
		}
	}
	http.NotFound(w, r)
}
