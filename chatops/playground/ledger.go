package playground

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// LedgerHead is the audit ledger's current size and Merkle root.
type LedgerHead struct {
	Size uint64    `json:"size"`
	Root string    `json:"root"` // hex
	Time time.Time `json:"time"` // append time of the last entry
}

// Ledger is what the ledger panel reads of the audit ledger; all of it is
// read-only. cmd/botwarden adapts the ledger package to it.
type Ledger interface {
	// Head returns the current size and root.
	Head() LedgerHead
	// Event returns the event bytes and append time of entry seq.
	Event(ctx context.Context, seq uint64) ([]byte, time.Time, error)
	// Export writes entries [1, size] to w in the ledger's export format.
	Export(ctx context.Context, w io.Writer, size uint64) error
	// Checkpoint returns the signed checkpoint note for size.
	Checkpoint(ctx context.Context, size uint64) ([]byte, error)
	// VerifierKey is the key an auditor verifies checkpoints with.
	VerifierKey() string
}

// recentEvents is how many of the last ledger events the panel shows.
const recentEvents = 8

// EventSummary is one ledger event as the panel lists it.
type EventSummary struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Type      string    `json:"event_type"`
	Actor     string    `json:"actor"`
	Op        string    `json:"op,omitempty"`
	Target    string    `json:"target,omitempty"`
	Outcome   string    `json:"outcome,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Challenge string    `json:"challenge_id,omitempty"`
}

func (s *Server) registerLedger(mux *http.ServeMux) {
	mux.HandleFunc("GET /play/ledger", s.serveLedgerHead)
	mux.HandleFunc("GET /play/ledger/export", s.serveExport)
	mux.HandleFunc("GET /play/ledger/checkpoint", s.serveCheckpoint)
	mux.HandleFunc("GET /play/ledger/key", s.serveKey)
}

func (s *Server) ledgerOr404(w http.ResponseWriter) (Ledger, bool) {
	if s.cfg.Ledger == nil {
		http.Error(w, "no ledger wired to the playground", http.StatusNotFound)
		return nil, false
	}
	return s.cfg.Ledger, true
}

// serveLedgerHead answers the head and the last events, newest first.
func (s *Server) serveLedgerHead(w http.ResponseWriter, r *http.Request) {
	l, ok := s.ledgerOr404(w)
	if !ok {
		return
	}
	head := l.Head()
	events := []EventSummary{}
	for seq := head.Size; seq > 0 && head.Size-seq < recentEvents; seq-- {
		ev, at, err := l.Event(r.Context(), seq)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]any{"error": fmt.Sprintf("read entry %d: %v", seq, err)})
			return
		}
		sum := EventSummary{Seq: seq, Time: at}
		_ = json.Unmarshal(ev, &sum) // a foreign event still lists with its seq and time
		sum.Seq, sum.Time = seq, at
		events = append(events, sum)
	}
	writeJSON(w, http.StatusOK, map[string]any{"head": head, "events": events, "verifier_key": l.VerifierKey()})
}

// sizeParam reads ?size=N, defaulting to the current head; a size past the
// head is refused.
func sizeParam(r *http.Request, l Ledger) (uint64, error) {
	head := l.Head().Size
	v := r.URL.Query().Get("size")
	if v == "" {
		return head, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > head {
		return 0, fmt.Errorf("size %q: want 0..%d", v, head)
	}
	return n, nil
}

// serveExport downloads entries 1..size; with the checkpoint for the same
// size and the verifier key, `botwarden ledger verify` checks it offline.
func (s *Server) serveExport(w http.ResponseWriter, r *http.Request) {
	l, ok := s.ledgerOr404(w)
	if !ok {
		return
	}
	size, err := sizeParam(r, l)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/jsonl")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=\"ledger-%d.jsonl\"", size))
	// Once streaming started the status is sent; a failure leaves the
	// export without its trailer, which the verifier reports.
	_ = l.Export(r.Context(), w, size)
}

func (s *Server) serveCheckpoint(w http.ResponseWriter, r *http.Request) {
	l, ok := s.ledgerOr404(w)
	if !ok {
		return
	}
	size, err := sizeParam(r, l)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	note, err := l.Checkpoint(r.Context(), size)
	if err != nil {
		http.Error(w, "checkpoint: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=\"ledger-%d.jsonl.checkpoint\"", size))
	_, _ = w.Write(note)
}

func (s *Server) serveKey(w http.ResponseWriter, _ *http.Request) {
	l, ok := s.ledgerOr404(w)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, l.VerifierKey()+"\n")
}
