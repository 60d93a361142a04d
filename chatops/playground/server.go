package playground

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/botwarden/botwarden/chatops"
	"github.com/botwarden/botwarden/chatops/fakeslack"
)

//go:embed assets
var assets embed.FS

// User is a person the page lets you act as.
type User struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

// Channel is a conversation shown in the sidebar.
type Channel struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Config configures a playground.
type Config struct {
	SigningSecret chatops.Secret // signs every request relayed to the bot
	BotToken      chatops.Secret // the only token the fake Web API accepts
	Command       string         // slash command; chatops.DefaultCommand if empty
	TeamID        string         // workspace id in payloads; "T0PLAYGROUND" if empty
	Users         []User         // who you can be; at least one
	Channels      []Channel      // sidebar; the first is where commands go by default
	Ledger        Ledger         // optional: the ledger panel and downloads
	Client        *http.Client   // to the bot; a 10 s timeout client if nil
}

// ErrConfig is returned (wrapped) by New for an unusable configuration.
var ErrConfig = errors.New("playground: invalid config")

// ErrNotLoopback is returned by CheckLoopback for an address that is not on
// the loopback interface.
var ErrNotLoopback = errors.New("not a loopback address")

// Server is the playground. Create it with New, tell it where it is served
// (SetBaseURL) and where the bot listens (SetBotURL), serve Handler, and
// run Run while it serves.
type Server struct {
	cfg  Config
	fake *fakeslack.Server

	mu        sync.Mutex
	botURL    string
	triggers  map[string]string       // trigger_id -> user who caused it
	responses map[string]responseCtx  // response_url -> where it answers
	locals    []localItem             // acks and command echoes
	views     map[string]*modalStatus // view id -> page-side modal state
	order     map[string]int64        // item key -> first-seen sequence
	seq       int64
	version   int64
	changed   chan struct{}
}

// New returns a playground that is not yet serving.
func New(cfg Config) (*Server, error) {
	if cfg.SigningSecret == "" || cfg.BotToken == "" {
		return nil, fmt.Errorf("%w: signing secret and bot token are required", ErrConfig)
	}
	if len(cfg.Users) == 0 || len(cfg.Channels) == 0 {
		return nil, fmt.Errorf("%w: at least one user and one channel", ErrConfig)
	}
	if cfg.Command == "" {
		cfg.Command = chatops.DefaultCommand
	}
	if cfg.TeamID == "" {
		cfg.TeamID = "T0PLAYGROUND"
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	fake := fakeslack.New()
	fake.Token = cfg.BotToken.Reveal()
	return &Server{
		cfg: cfg, fake: fake,
		triggers: map[string]string{}, responses: map[string]responseCtx{},
		views: map[string]*modalStatus{}, order: map[string]int64{}, changed: make(chan struct{}),
	}, nil
}

// SetBaseURL tells the playground where it is served
// ("http://127.0.0.1:8090"), for the URLs it hands to the bot.
func (s *Server) SetBaseURL(u string) { s.fake.SetBaseURL(u) }

// APIURL is the Web API base URL to configure the bot's adapter with.
func (s *Server) APIURL() string { return s.fake.URL() }

// SetBotURL tells the playground the bot's HTTP root, where /slack/* is
// served ("http://127.0.0.1:8080").
func (s *Server) SetBotURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.botURL = strings.TrimSuffix(u, "/")
}

// Handler serves the page, its JSON endpoints under /play/ and the fake
// Slack Web API. Requests whose Host is not a loopback name get 403.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	fake := s.fake.Handler()
	for _, p := range []string{"/api/", "/upload/", "/response/"} {
		mux.Handle(p, fake)
	}
	static, _ := fs.Sub(assets, "assets") // cannot fail: the folder is embedded
	files := http.FileServerFS(static)
	mux.Handle("GET /{$}", files)
	mux.Handle("GET /{file}", files)
	mux.HandleFunc("GET /play/config", s.serveConfig)
	mux.HandleFunc("GET /play/state", s.serveState)
	mux.HandleFunc("POST /play/command", s.serveCommand)
	mux.HandleFunc("POST /play/action", s.serveAction)
	mux.HandleFunc("POST /play/submit", s.serveSubmit)
	mux.HandleFunc("POST /play/close", s.serveClose)
	mux.HandleFunc("POST /play/home", s.serveHome)
	mux.HandleFunc("GET /play/files/{id}", s.serveFile)
	s.registerLedger(mux)
	return loopbackHost(mux)
}

// loopbackHost refuses requests addressed to a name other than a loopback
// one: a page on another site that rebinds its DNS name to 127.0.0.1 would
// send its own Host.
func loopbackHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			http.Error(w, "the playground answers only on loopback addresses", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CheckLoopback returns nil only for a host:port on the loopback interface
// (127.0.0.0/8, ::1 or localhost).
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("address %q: %w (use 127.0.0.1 or [::1])", addr, ErrNotLoopback)
	}
	return nil
}

// Run mirrors every change of the fake Slack into the page's version
// counter until ctx ends, so long-polling pages wake up.
func (s *Server) Run(ctx context.Context) {
	for {
		ch := s.fake.Changed()
		select {
		case <-ctx.Done():
			return
		case <-ch:
			s.bump()
		}
	}
}

// bump records a change: it gives new items their place in the timeline
// and wakes the pages waiting for one.
func (s *Server) bump() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observeLocked()
	s.version++
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait returns once the version differs from after, or when ctx ends or
// timeout passes, with the version then.
func (s *Server) wait(ctx context.Context, after int64, timeout time.Duration) int64 {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		s.mu.Lock()
		v, ch := s.version, s.changed
		s.mu.Unlock()
		if v != after {
			return v
		}
		select {
		case <-ctx.Done():
			return v
		case <-t.C:
			return v
		case <-ch:
		}
	}
}

func (s *Server) serveConfig(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"users": s.cfg.Users, "channels": s.cfg.Channels, "command": s.cfg.Command,
		"ledger": s.cfg.Ledger != nil,
	})
}

func (s *Server) user(id string) (User, bool) {
	for _, u := range s.cfg.Users {
		if u.ID == id {
			return u, true
		}
	}
	return User{}, false
}
