package fakeslack

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Call is one recorded request to the fake.
type Call struct {
	Method string          // Web API method ("chat.postMessage"), "upload" or "response_url"
	Token  string          // bearer or form token, kept apart from Params
	Params url.Values      // form parameters without the token
	JSON   json.RawMessage // body of a JSON request
	At     time.Time
}

// Message is a stored channel message, as last updated.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string
	User     string // author; "" is the app's bot user (BotUserID)
	Text     string
	Blocks   json.RawMessage
	Metadata json.RawMessage // chat.postMessage metadata (event_type, event_payload), kept across updates
	Updates  int             // how many times chat.update changed it
}

// Ephemeral is a message only one user sees.
type Ephemeral struct {
	Channel, User, Text string
	Blocks              json.RawMessage
}

// Response is a post to a response_url.
type Response struct {
	URL             string
	Text            string          `json:"text"`
	Blocks          json.RawMessage `json:"blocks"`
	ResponseType    string          `json:"response_type"`
	ReplaceOriginal bool            `json:"replace_original"`
	DeleteOriginal  bool            `json:"delete_original"`
}

// View is an opened modal or a published Home tab.
type View struct {
	ID        string
	TriggerID string // views.open
	User      string // views.publish
	JSON      json.RawMessage
}

// File is an uploaded file (v2 flow: get URL, upload, complete).
type File struct {
	ID, Name, Title, Channel, ThreadTS string
	Content                            []byte
	Completed                          bool
}

type failure struct {
	status     int
	retryAfter int
	slackErr   string
}

// Server is the fake Slack. The zero value is not usable; use New or Start.
type Server struct {
	// Token, if set, is the only token the Web API accepts.
	Token string
	// AppToken, if set, is the only token apps.connections.open accepts
	// (Socket Mode); the bot token cannot open a connection then.
	AppToken string
	// PingInterval is how often the Socket Mode endpoint pings; default 5s.
	PingInterval time.Duration

	mu         sync.Mutex
	base       string // scheme://host of the server, for URLs it hands out
	calls      []Call
	messages   map[string][]*Message
	ephemerals []Ephemeral
	responses  []Response
	views      map[string]*View
	viewOrder  []string
	homes      map[string]*View
	files      map[string]*File
	fileOrder  []string
	failures   map[string][]failure
	seq        int
	ts         int64
	httpServer *httptest.Server
	changed    chan struct{}

	sock      *websocket.Conn // the current Socket Mode connection
	sockWrite sync.Mutex      // one writer at a time on sock
	connects  int
	acks      map[string]Ack
}

// New returns a fake that is not yet listening; mount Handler and call
// SetBaseURL with where it is served.
func New() *Server {
	return &Server{
		messages: map[string][]*Message{}, views: map[string]*View{}, homes: map[string]*View{},
		files: map[string]*File{}, failures: map[string][]failure{}, acks: map[string]Ack{},
		ts: 1700000000, changed: make(chan struct{}),
	}
}

// Start returns a fake serving on 127.0.0.1 (httptest). Close it when done.
func Start() *Server {
	s := New()
	s.httpServer = httptest.NewServer(s.Handler())
	s.SetBaseURL(s.httpServer.URL)
	return s
}

// Close stops the server Start started and drops any Socket Mode
// connection.
func (s *Server) Close() {
	s.closeSocket()
	if s.httpServer != nil {
		s.httpServer.Close()
	}
}

// SetBaseURL tells the fake where it is served ("http://127.0.0.1:PORT").
func (s *Server) SetBaseURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.base = strings.TrimSuffix(u, "/")
}

// URL is the Web API base URL to give the bot (ends in "/api/").
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base + "/api/"
}

// NewResponseURL returns a fresh response_url served by the fake.
func (s *Server) NewResponseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("%s/response/R%d", s.base, s.seq)
}

// Handler serves the fake: /api/{method}, /upload/{id}, /response/{id}
// and the Socket Mode WebSocket /socket.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/{method}", s.serveAPI)
	mux.HandleFunc("GET /api/{method}", s.serveAPI)
	mux.HandleFunc("POST /upload/{id}", s.serveUpload)
	mux.HandleFunc("POST /response/{id}", s.serveResponse)
	mux.HandleFunc("GET /socket", s.serveSocket)
	return mux
}

// RateLimit makes the next n calls of method answer 429 with Retry-After.
func (s *Server) RateLimit(method string, n, retryAfterSeconds int) {
	s.inject(method, n, failure{status: http.StatusTooManyRequests, retryAfter: retryAfterSeconds})
}

// Fail makes the next n calls of method answer {"ok":false,"error":slackErr}.
func (s *Server) Fail(method string, n int, slackErr string) {
	s.inject(method, n, failure{status: http.StatusOK, slackErr: slackErr})
}

// Down makes the next n calls of method answer 503 (a Slack outage).
func (s *Server) Down(method string, n int) {
	s.inject(method, n, failure{status: http.StatusServiceUnavailable})
}

func (s *Server) inject(method string, n int, f failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures[method] = append(s.failures[method], f)
	}
}

// Changed returns a channel closed at the next recorded call; tests wait
// on it instead of sleeping.
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// record stores c and wakes waiters. Caller holds s.mu.
func (s *Server) record(c Call) {
	c.At = time.Now()
	s.calls = append(s.calls, c)
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) nextTS() string {
	s.ts++
	return fmt.Sprintf("%d.%06d", s.ts, s.ts%1000000)
}

func (s *Server) nextID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%06d", prefix, s.seq)
}

// readCall decodes a Web API request into a Call.
func readCall(method string, r *http.Request) (Call, error) {
	c := Call{Method: method}
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "Bearer ") {
		c.Token = strings.TrimPrefix(auth, "Bearer ")
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		b, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			return c, err
		}
		c.JSON = b
		c.Params = url.Values{}
		return c, nil
	}
	if err := r.ParseForm(); err != nil {
		return c, err
	}
	c.Params = r.Form
	if tok := c.Params.Get("token"); tok != "" {
		c.Token = tok
	}
	c.Params.Del("token")
	return c, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// popFailure returns the next injected failure for method, if any. Caller
// holds s.mu.
func (s *Server) popFailure(method string) (failure, bool) {
	q := s.failures[method]
	if len(q) == 0 {
		return failure{}, false
	}
	s.failures[method] = q[1:]
	return q[0], true
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	c, err := readCall(method, r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "invalid_form_data"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record(c)
	if f, ok := s.popFailure(method); ok {
		writeFailure(w, f)
		return
	}
	if want := s.tokenFor(method); want != "" && c.Token != want {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	h, ok := apiMethods[method]
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "unknown_method"})
		return
	}
	resp, slackErr := h(s, c)
	if slackErr != "" {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": slackErr})
		return
	}
	resp["ok"] = true
	writeJSON(w, http.StatusOK, resp)
}

// tokenFor is the token a method demands: the app-level token for
// apps.connections.open, the bot token for everything else.
func (s *Server) tokenFor(method string) string {
	if method == "apps.connections.open" {
		return s.AppToken
	}
	return s.Token
}

func writeFailure(w http.ResponseWriter, f failure) {
	switch {
	case f.status == http.StatusTooManyRequests:
		w.Header().Set("Retry-After", fmt.Sprint(f.retryAfter))
		writeJSON(w, f.status, map[string]any{"ok": false, "error": "ratelimited"})
	case f.status != http.StatusOK:
		http.Error(w, "slack is down", f.status)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": f.slackErr})
	}
}

func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var content []byte
	if f, _, err := r.FormFile("file"); err == nil {
		content, _ = io.ReadAll(io.LimitReader(f, 64<<20))
		_ = f.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record(Call{Method: "upload", Params: url.Values{"id": {id}}})
	file, ok := s.files[id]
	if !ok {
		http.Error(w, "no such upload", http.StatusNotFound)
		return
	}
	file.Content = content
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "OK")
}

func (s *Server) serveResponse(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	var resp Response
	if err := json.Unmarshal(b, &resp); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"ok": false, "error": "invalid_json"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record(Call{Method: "response_url", JSON: b, Params: url.Values{}})
	if f, ok := s.popFailure("response_url"); ok {
		writeFailure(w, f)
		return
	}
	resp.URL = s.base + r.URL.Path
	s.responses = append(s.responses, resp)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}
