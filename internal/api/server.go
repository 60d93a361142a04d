package api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/token"
)

// Channel is the command channel the API reports to the core, for the
// policy's allowed channels and for the ledger.
const Channel = "api"

// ErrConfig marks a Config or Deps the server refuses.
var ErrConfig = errors.New("invalid api configuration")

// Config tunes the API.
type Config struct {
	MaxBody int64         // request body limit in bytes (default 64 KiB)
	Rate    float64       // requests per second per actor (default 20)
	Burst   int           // burst per actor (default 40)
	SSEPing time.Duration // keep-alive comment interval on /v1/events (default 15s)
	// TokenRecheck is how often an open /v1/events stream checks that its
	// token is still valid (default 1s): a revoked or expired token's
	// stream ends within it.
	TokenRecheck time.Duration
	// MaxStreams caps the /v1/events streams one actor may hold open at
	// once (default 8); one more is answered 429.
	MaxStreams int
}

// Deps are the server's collaborators: Core, Ledger and Tokens are
// required, the rest optional.
type Deps struct {
	Core   Core
	Ledger Ledger
	Tokens Tokens
	Logger zerolog.Logger
	Now    func() time.Time // default time.Now
	// BundleDir is the folder support bundles are built in; GET
	// /v1/bundles serves files from it only ("": bundles are not served).
	BundleDir string
	// Registerer, if set, gets the API's metrics (requests by route and
	// code, latency, open event streams).
	Registerer prometheus.Registerer
	NewID      func() string // trace and run ids; default 64 random bits
}

// Server serves /v1. Safe for concurrent use.
type Server struct {
	cfg  Config
	deps Deps
	log  zerolog.Logger

	mu      sync.Mutex
	actors  map[string]*rate.Limiter // per authenticated actor
	denied  map[string]*rate.Limiter // per client address, for refused tokens
	streams map[string]int           // open /v1/events streams per actor
	m       *metrics
}

// New checks deps and applies defaults.
func New(cfg Config, deps Deps) (*Server, error) {
	if deps.Core == nil || deps.Ledger == nil || deps.Tokens == nil {
		return nil, fmt.Errorf("%w: Core, Ledger and Tokens are required", ErrConfig)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 64 << 10
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 20
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 40
	}
	if cfg.SSEPing <= 0 {
		cfg.SSEPing = 15 * time.Second
	}
	if cfg.TokenRecheck <= 0 {
		cfg.TokenRecheck = time.Second
	}
	if cfg.MaxStreams <= 0 {
		cfg.MaxStreams = 8
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.NewID == nil {
		deps.NewID = randomID
	}
	m, err := newMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, deps: deps, log: deps.Logger, m: m,
		actors: map[string]*rate.Limiter{}, denied: map[string]*rate.Limiter{}, streams: map[string]int{}}, nil
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "api-" + hex.EncodeToString(b[:])
}

// perm is what a route requires beyond a valid token.
type perm int

const (
	permAny    perm = iota // authenticated; the core checks the operation itself
	permStatus             // the policy's status permission (read state)
	permAudit              // the policy's audit permission (read the ledger)
	permBundle             // the policy's support_bundle permission (fetch a bundle)
)

// handlerFunc is a route handler that knows its caller.
type handlerFunc func(w http.ResponseWriter, r *http.Request, actor string)

// Register mounts every /v1 route of the API on mux. The safety surface
// (PUT /v1/safety, PUT /v1/gates, GET /v1/killswitch) is internal/source's
// and is not registered here.
func (s *Server) Register(mux *http.ServeMux) {
	routes := []struct {
		pattern string
		p       perm
		h       handlerFunc
	}{
		{"POST /v1/commands", permAny, s.postCommand},
		{"GET /v1/commands/{command_id}", permStatus, s.getCommand},
		{"GET /v1/bundles/{command_id}", permBundle, s.getBundle},
		{"GET /v1/challenges", permStatus, s.listChallenges},
		{"GET /v1/challenges/{id}", permStatus, s.getChallenge},
		{"POST /v1/challenges/{id}/confirm", permAny, s.confirm},
		{"POST /v1/challenges/{id}/reject", permAny, s.reject},
		{"GET /v1/bots", permStatus, s.bots},
		{"GET /v1/bots/{id}", permStatus, s.bot},
		{"GET /v1/safety", permStatus, s.safety},
		{"GET /v1/gates", permStatus, s.gates},
		{"GET /v1/me", permAny, s.me},
		{"GET /v1/events", permStatus, s.events},
		{"GET /v1/ledger/head", permAudit, s.ledgerHead},
		{"GET /v1/ledger/export", permAudit, s.ledgerExport},
		{"GET /v1/ledger/checkpoints", permAudit, s.ledgerCheckpoints},
		{"GET /v1/ledger/proofs/inclusion", permAudit, s.proveInclusion},
		{"GET /v1/ledger/proofs/consistency", permAudit, s.proveConsistency},
	}
	for _, rt := range routes {
		mux.Handle(rt.pattern, s.m.instrument(rt.pattern, rt.pattern == "GET /v1/events", s.authed(rt.p, rt.h)))
	}
}

// Handler returns a mux with only the API's routes (tests, benchmarks).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.Register(mux)
	return mux
}

// authed authenticates the bearer token, rate-limits its actor, checks
// the route's permission and limits the body.
func (s *Server) authed(p perm, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="botwarden"`)
			p := newProblem(http.StatusUnauthorized, ReasonUnauthenticated,
				"send an API token: Authorization: Bearer bw_… (botwarden token create --actor NAME)")
			p.Runbook = s.deps.Core.Runbook("api_token")
			writeProblem(w, r, p)
			return
		}
		rec, err := s.deps.Tokens.Authenticate(secret)
		if err != nil {
			s.refuseToken(w, r, rec, err)
			return
		}
		if wait := s.reserve(s.actors, rec.Actor); wait > 0 {
			s.tooMany(w, r, wait)
			return
		}
		if !s.permitted(p, rec.Actor) {
			writeProblem(w, r, s.forbidden(p, rec.Actor))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
		h(w, r, rec.Actor)
	})
}

func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

func (s *Server) permitted(p perm, actor string) bool {
	switch p {
	case permStatus:
		return s.deps.Core.Policy().MayRequest(actor, s.deps.Core.Environment(), "status")
	case permAudit:
		return s.deps.Core.MayAudit(actor)
	case permBundle:
		return s.deps.Core.Policy().MayRequest(actor, s.deps.Core.Environment(), string(core.OpBundle))
	}
	return true
}

func (s *Server) forbidden(p perm, actor string) Problem {
	what := "status"
	switch p {
	case permAudit:
		what = "audit"
	case permBundle:
		what = string(core.OpBundle)
	}
	pr := newProblem(http.StatusForbidden, "forbidden",
		fmt.Sprintf("actor %s has no %q permission in %s (roles: %v)", actor, what, s.deps.Core.Environment(), s.deps.Core.Roles(actor)))
	pr.Runbook = s.deps.Core.Runbook("forbidden")
	return pr
}

// refuseToken answers 401 for an unknown, revoked or expired token and
// records the refusal in the ledger first. Refusals are rate-limited per
// client address so that a flood of bad tokens cannot flood the ledger.
func (s *Server) refuseToken(w http.ResponseWriter, r *http.Request, rec token.Record, err error) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if wait := s.reserve(s.denied, host); wait > 0 {
		s.tooMany(w, r, wait)
		return
	}
	reason := ReasonUnauthenticated
	switch {
	case errors.Is(err, token.ErrRevoked):
		reason = ReasonTokenRevoked
	case errors.Is(err, token.ErrExpired):
		reason = ReasonTokenExpired
	}
	s.recordDenied(r, rec, reason, err)
	w.Header().Set("WWW-Authenticate", `Bearer realm="botwarden", error="invalid_token"`)
	p := newProblem(http.StatusUnauthorized, reason, err.Error())
	p.Runbook = s.deps.Core.Runbook("api_token")
	writeProblem(w, r, p)
}

// reserve takes one request from key's bucket; it returns how long to wait
// when the bucket is empty (and takes nothing).
func (s *Server) reserve(m map[string]*rate.Limiter, key string) time.Duration {
	s.mu.Lock()
	l := m[key]
	if l == nil {
		if len(m) >= 10000 { // bound memory against many addresses
			clear(m)
		}
		l = rate.NewLimiter(rate.Limit(s.cfg.Rate), s.cfg.Burst)
		m[key] = l
	}
	s.mu.Unlock()
	now := s.deps.Now()
	res := l.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}
