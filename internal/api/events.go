package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/botwarden/botwarden/internal/core"
)

// sseBuffer is how many notices a slow SSE client may lag before the
// stream catches up from the ledger.
const sseBuffer = 256

// events streams recorded events as Server-Sent Events: id is the ledger
// seq, event the audit event type, data the recorded event JSON. With
// Last-Event-ID (or ?last_event_id=) it first replays every recorded event
// after that seq from the ledger, then follows live; a client that fell
// behind is caught up from the ledger too, so no event is skipped.
func (s *Server) events(w http.ResponseWriter, r *http.Request, actor string) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeProblem(w, r, newProblem(http.StatusInternalServerError, ReasonInternal, "streaming unsupported"))
		return
	}
	last, resume, err := lastEventID(r)
	if err != nil {
		badRequest(w, r, err)
		return
	}
	if !s.openStream(actor) {
		w.Header().Set("Retry-After", "30")
		p := newProblem(http.StatusTooManyRequests, ReasonTooManyStreams,
			fmt.Sprintf("actor %s already holds %d open event streams; close one (or share one) first", actor, s.cfg.MaxStreams))
		p.Runbook = s.deps.Core.Runbook("rate_limited")
		writeProblem(w, r, p)
		return
	}
	defer s.closeStream(actor)
	live, cancel := s.deps.Core.Subscribe(sseBuffer)
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": botwarden events\nretry: 2000\n\n")
	fl.Flush()
	ctx := r.Context()
	sent := last
	if !resume {
		sent = s.deps.Ledger.Head().Size
	} else if sent, err = s.replay(ctx, w, sent); err != nil {
		return
	}
	// An id with no data dispatches nothing but names where the stream
	// stands, so a client that reconnects before any event arrives (an
	// EventSource, `ctl watch`) resumes from here and misses nothing.
	fmt.Fprintf(w, "id: %d\n\n", sent)
	fl.Flush()
	secret, _ := bearer(r)
	s.follow(ctx, w, fl, live, sent, secret)
}

// follow writes live notices after seq sent until the request ends, the
// stream breaks or its token stops being valid.
func (s *Server) follow(ctx context.Context, w io.Writer, fl http.Flusher, live <-chan core.Notice, sent uint64, secret string) {
	ping := time.NewTicker(s.cfg.SSEPing)
	defer ping.Stop()
	recheck := time.NewTicker(s.cfg.TokenRecheck)
	defer recheck.Stop()
	var err error
	for {
		select {
		case <-ctx.Done():
			return
		case <-ping.C:
			if _, err := io.WriteString(w, ": ping\n\n"); err != nil {
				return
			}
		case <-recheck.C:
			// Authentication was checked when the stream opened; a token
			// revoked or expired since must not keep reading. The client's
			// reconnect then learns why (401).
			if _, err := s.deps.Tokens.Authenticate(secret); err != nil {
				fmt.Fprint(w, ": the token is no longer valid; the stream ends\n\n")
				fl.Flush()
				return
			}
			continue
		case n, ok := <-live:
			if !ok {
				return
			}
			if n.Dropped > 0 || n.Seq > sent+1 {
				if sent, err = s.replay(ctx, w, sent); err != nil {
					return
				}
			}
			if n.Seq > sent {
				if err := writeEvent(w, n.Seq, n.EventType, n.Event); err != nil {
					return
				}
				sent = n.Seq
			}
		}
		fl.Flush()
	}
}

// openStream counts one more open stream for actor, unless it already
// holds MaxStreams.
func (s *Server) openStream(actor string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streams[actor] >= s.cfg.MaxStreams {
		return false
	}
	s.streams[actor]++
	s.m.streams.Add(1)
	return true
}

func (s *Server) closeStream(actor string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m.streams.Add(-1)
	if s.streams[actor]--; s.streams[actor] <= 0 {
		delete(s.streams, actor)
	}
}

// replay writes every streamable event after seq from the ledger and
// returns the last seq it covered.
func (s *Server) replay(ctx context.Context, w io.Writer, after uint64) (uint64, error) {
	last := after
	err := s.deps.Ledger.Scan(ctx, after+1, func(seq uint64, ev []byte) error {
		last = seq
		typ := eventType(ev)
		if !streamed(typ) {
			return nil
		}
		return writeEvent(w, seq, typ, ev)
	})
	return last, err
}

// streamed says whether an event type goes to /v1/events: everything the
// core records but the service's own starts and stops. Those (which carry
// the whole policy, who holds which role) and token events stay in the
// ledger, for auditors: a stream needs only the status permission.
func streamed(typ string) bool {
	return typ != "" && !strings.HasPrefix(typ, "api.") && typ != core.EvStarted && typ != core.EvStopped
}

func eventType(ev []byte) string {
	var h struct {
		Type string `json:"event_type"`
	}
	_ = json.Unmarshal(ev, &h)
	return h.Type
}

func writeEvent(w io.Writer, seq uint64, typ string, data []byte) error {
	if !streamed(typ) {
		return nil
	}
	_, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", seq, typ, data)
	return err
}

func lastEventID(r *http.Request) (uint64, bool, error) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("last_event_id")
	}
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("%w: Last-Event-ID %q is not a ledger seq", errRequest, v)
	}
	return n, true, nil
}
