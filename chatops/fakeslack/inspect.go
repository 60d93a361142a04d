package fakeslack

import (
	"encoding/json"
	"sort"
	"strings"
)

// Calls returns every recorded call, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallsTo returns the recorded calls of one method.
func (s *Server) CallsTo(method string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Messages returns a copy of a channel's messages, oldest first.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, 0, len(s.messages[channel]))
	for _, m := range s.messages[channel] {
		out = append(out, *m)
	}
	return out
}

// Message returns one message by channel and ts.
func (s *Server) Message(channel, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.find(channel, ts); m != nil {
		return *m, true
	}
	return Message{}, false
}

// Ephemerals returns the ephemeral messages shown to user.
func (s *Server) Ephemerals(user string) []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ephemeral
	for _, e := range s.ephemerals {
		if e.User == user {
			out = append(out, e)
		}
	}
	return out
}

// Responses returns the posts to response_urls, in order.
func (s *Server) Responses() []Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Response(nil), s.responses...)
}

// Views returns the modals opened or pushed, in order, as last updated.
func (s *Server) Views() []View {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]View, 0, len(s.viewOrder))
	for _, id := range s.viewOrder {
		out = append(out, *s.views[id])
	}
	return out
}

// Home returns the Home tab last published for user.
func (s *Server) Home(user string) (View, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.homes[user]
	if !ok {
		return View{}, false
	}
	return *v, true
}

// Files returns the uploaded files, in upload order.
func (s *Server) Files() []File {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]File, 0, len(s.fileOrder))
	for _, id := range s.fileOrder {
		out = append(out, *s.files[id])
	}
	return out
}

// Texts returns every human-readable string in Block Kit JSON (text
// fields, button labels, …) joined by newlines, for assertions.
func Texts(blocks json.RawMessage) string {
	var v any
	if err := json.Unmarshal(blocks, &v); err != nil {
		return ""
	}
	var out []string
	walk(v, func(key string, val any) {
		if s, ok := val.(string); ok && key == "text" {
			out = append(out, s)
		}
	})
	return strings.Join(out, "\n")
}

// ActionIDs returns the action_id of every interactive element in Block
// Kit JSON; an empty result means nothing is clickable.
func ActionIDs(blocks json.RawMessage) []string {
	var v any
	if err := json.Unmarshal(blocks, &v); err != nil {
		return nil
	}
	var out []string
	walk(v, func(key string, val any) {
		if s, ok := val.(string); ok && key == "action_id" {
			out = append(out, s)
		}
	})
	return out
}

// ButtonValue returns the value of the element with action_id, if any.
func ButtonValue(blocks json.RawMessage, actionID string) (string, bool) {
	var v any
	if err := json.Unmarshal(blocks, &v); err != nil {
		return "", false
	}
	var val string
	var found bool
	walkMaps(v, func(m map[string]any) {
		if m["action_id"] == actionID {
			val, _ = m["value"].(string)
			found = true
		}
	})
	return val, found
}

func walk(v any, fn func(key string, val any)) {
	walkKeyed("", v, fn)
}

func walkKeyed(key string, v any, fn func(string, any)) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			walkKeyed(k, t[k], fn)
		}
	case []any:
		for _, x := range t {
			walkKeyed(key, x, fn)
		}
	default:
		fn(key, t)
	}
}

func walkMaps(v any, fn func(map[string]any)) {
	switch t := v.(type) {
	case map[string]any:
		fn(t)
		for _, x := range t {
			walkMaps(x, fn)
		}
	case []any:
		for _, x := range t {
			walkMaps(x, fn)
		}
	}
}
