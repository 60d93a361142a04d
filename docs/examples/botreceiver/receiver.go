package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/driver/httpdriver"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// maxBody bounds a control request.
const maxBody = 64 << 10

// answer is what the receiver replied to a command_id; repeats get it again.
type answer struct {
	Code   int    `json:"-"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// bot is the simulated strategy the receiver controls.
type bot struct {
	running, paused bool
	mode            lifecycle.Mode
	configRef       string
	effects         int // commands applied, for tests and the log
}

// receiver verifies and applies control requests for one bot.
type receiver struct {
	secret  httpdriver.Secret
	now     func() time.Time
	maxSkew time.Duration
	log     *log.Logger

	mu      sync.Mutex
	seen    map[string]time.Time // signature -> when it may be forgotten
	answers map[string]answer    // command_id -> first answer
	bot     bot
}

func newReceiver(secret httpdriver.Secret, now func() time.Time, logger *log.Logger) *receiver {
	return &receiver{secret: secret, now: now, maxSkew: httpdriver.DefaultMaxSkew, log: logger,
		seen: make(map[string]time.Time), answers: make(map[string]answer)}
}

func (rc *receiver) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /control", rc.control)
	mux.HandleFunc("GET /control/status", rc.status)
	return mux
}

// verified reads the body and checks signature and freshness; on failure
// it has answered 401.
func (rc *receiver) verified(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "body too large or unreadable", http.StatusBadRequest)
		return nil, false
	}
	ts, sig := r.Header.Get(httpdriver.HeaderTimestamp), r.Header.Get(httpdriver.HeaderSignature)
	if err := httpdriver.Verify(rc.secret, ts, body, sig, rc.now(), rc.maxSkew); err != nil {
		rc.log.Printf("refused request from %s: %v", r.RemoteAddr, err)
		http.Error(w, "signature check failed", http.StatusUnauthorized)
		return nil, false
	}
	return body, true
}

// replayed reports whether sig was seen within the window, remembering it.
// Entries outlive the skew window on both sides, after which Verify alone
// refuses the request as stale.
func (rc *receiver) replayed(sig string) bool {
	now := rc.now()
	for s, until := range rc.seen {
		if now.After(until) {
			delete(rc.seen, s)
		}
	}
	if _, ok := rc.seen[sig]; ok {
		return true
	}
	rc.seen[sig] = now.Add(2 * rc.maxSkew)
	return false
}

func (rc *receiver) control(w http.ResponseWriter, r *http.Request) {
	body, ok := rc.verified(w, r)
	if !ok {
		return
	}
	var req httpdriver.Request
	if err := json.Unmarshal(body, &req); err != nil || req.CommandID == "" {
		http.Error(w, "malformed request", http.StatusBadRequest)
		return
	}
	if r.Header.Get(httpdriver.HeaderIdempotencyKey) != req.CommandID {
		http.Error(w, "Idempotency-Key does not match command_id", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.replayed(r.Header.Get(httpdriver.HeaderSignature)) {
		http.Error(w, "replayed request", http.StatusConflict)
		return
	}
	a, repeat := rc.answers[req.CommandID]
	if !repeat {
		a = rc.apply(req)
		rc.answers[req.CommandID] = a
		rc.log.Printf("command %s %s (trace %s): %s", req.CommandID, req.Op, req.TraceID, a.Detail)
	} else {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.Code)
	_ = json.NewEncoder(w).Encode(a)
}

// apply runs one command on the bot. Refusals are 409: final for the
// control plane, which will not retry them.
func (rc *receiver) apply(req httpdriver.Request) answer {
	b := &rc.bot
	err := func() error {
		switch req.Op {
		case core.OpStart:
			if b.running {
				return errors.New("already running")
			}
			if _, err := lifecycle.ParseMode(string(req.Mode)); err != nil {
				return err
			}
			b.running, b.paused, b.mode = true, false, req.Mode
		case core.OpStop:
			b.running, b.paused, b.mode = false, false, ""
		case core.OpPause:
			if !b.running || b.paused {
				return errors.New("not running")
			}
			b.paused = true
		case core.OpResume:
			if !b.paused {
				return errors.New("not paused")
			}
			if _, err := lifecycle.ParseMode(string(req.Mode)); err != nil {
				return err
			}
			b.paused, b.mode = false, req.Mode
		case core.OpApply:
			b.configRef = req.ConfigRef
		default:
			return fmt.Errorf("unknown op %q", req.Op)
		}
		return nil
	}()
	if err != nil {
		return answer{Code: http.StatusConflict, Detail: err.Error()}
	}
	b.effects++
	return answer{Code: http.StatusOK, OK: true, Detail: string(req.Op) + " applied"}
}

func (rc *receiver) status(w http.ResponseWriter, r *http.Request) {
	if _, ok := rc.verified(w, r); !ok {
		return
	}
	rc.mu.Lock()
	b := rc.bot
	rc.mu.Unlock()
	reply := httpdriver.StatusReply{Alive: b.running, Stopped: !b.running, Paused: b.paused, Mode: b.mode,
		Detail: fmt.Sprintf("%d commands applied", b.effects)}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(reply)
}
