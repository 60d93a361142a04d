package api

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/botwarden/botwarden/ledger"
	"github.com/botwarden/botwarden/ledger/ledgercli"
)

// CheckpointHeader carries an export's signed checkpoint (base64), as on
// the admin endpoint the `ledger export` CLI uses.
const CheckpointHeader = ledger.CheckpointHeader

// CheckpointList is the answer of GET /v1/ledger/checkpoints: one page
// of stored checkpoints in increasing size. Next, when set, is the from
// of the following page; without it the list reached the newest one.
type CheckpointList struct {
	Checkpoints []CheckpointInfo `json:"checkpoints"`
	Next        uint64           `json:"next,omitempty"`
}

// maxCheckpointPage is the largest page (and the default) of
// GET /v1/ledger/checkpoints.
const maxCheckpointPage = 1000

// CheckpointInfo is one stored signed checkpoint.
type CheckpointInfo struct {
	Size uint64 `json:"size"`
	Note string `json:"note"`
}

// ConsistencyInfo is a consistency proof between two tree sizes with the
// checkpoint signed at the newer one.
type ConsistencyInfo struct {
	From       uint64   `json:"from"`
	To         uint64   `json:"to"`
	FromRoot   string   `json:"from_root"`
	ToRoot     string   `json:"to_root"`
	Proof      []string `json:"proof"`
	Checkpoint string   `json:"checkpoint"`
}

func (s *Server) ledgerHead(w http.ResponseWriter, _ *http.Request, _ string) {
	l := s.deps.Ledger
	h := l.Head()
	writeJSON(w, http.StatusOK, ledgercli.HeadInfo{Size: h.Size, Root: hex.EncodeToString(h.Root[:]),
		Hash: hex.EncodeToString(h.Hash[:]), Time: h.Time, Checkpoint: string(l.LatestCheckpoint()), Key: l.VerifierKey(), Keys: l.VerifierKeys()})
}

// ledgerExport streams [from, to] as the ledger's JSON Lines export (the
// bytes `ledger export` writes), signing the checkpoint first so the
// header can carry it; a missing trailer tells the client it is cut.
func (s *Server) ledgerExport(w http.ResponseWriter, r *http.Request, _ string) {
	from, err1 := uintQuery(r, "from", 1)
	to, err2 := uintQuery(r, "to", 0)
	if err := errors.Join(err1, err2); err != nil {
		badRequest(w, r, err)
		return
	}
	if to == 0 {
		to = s.deps.Ledger.Head().Size
	}
	if from < 1 || from > to {
		badRequest(w, r, fmt.Errorf("%w: want 1 <= from <= to <= %d", errRequest, s.deps.Ledger.Head().Size))
		return
	}
	cp, err := s.deps.Ledger.CheckpointAt(r.Context(), to)
	if err != nil {
		ledgerProblem(w, r, err)
		return
	}
	w.Header().Set(CheckpointHeader, base64.StdEncoding.EncodeToString(cp))
	w.Header().Set("Content-Type", "application/jsonl")
	if _, err := s.deps.Ledger.Export(r.Context(), w, from, to); err != nil {
		s.log.Warn().Err(err).Msg("ledger export cut short")
	}
}

func (s *Server) ledgerCheckpoints(w http.ResponseWriter, r *http.Request, _ string) {
	from, err1 := uintQuery(r, "from", 0)
	limit, err2 := uintQuery(r, "limit", maxCheckpointPage)
	if err := errors.Join(err1, err2); err != nil || limit < 1 || limit > maxCheckpointPage {
		badRequest(w, r, fmt.Errorf("%w: from is a size, limit a number from 1 to %d", errRequest, maxCheckpointPage))
		return
	}
	out := CheckpointList{Checkpoints: []CheckpointInfo{}}
	err := s.deps.Ledger.Checkpoints(r.Context(), from, func(size uint64, note []byte) error {
		if uint64(len(out.Checkpoints)) == limit {
			out.Next = size // one more exists: the next page starts there
			return errStop
		}
		out.Checkpoints = append(out.Checkpoints, CheckpointInfo{Size: size, Note: string(note)})
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		ledgerProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

var errStop = errors.New("stop")

func (s *Server) proveInclusion(w http.ResponseWriter, r *http.Request, _ string) {
	seq, err1 := uintQuery(r, "seq", 0)
	size, err2 := uintQuery(r, "size", 0)
	sized := size != 0
	if err := errors.Join(err1, err2); err != nil || seq == 0 {
		badRequest(w, r, fmt.Errorf("%w: seq (>= 1) and optional size are required numbers", errRequest))
		return
	}
	l := s.deps.Ledger
	if size == 0 {
		size = l.Head().Size
	}
	if sized && seq > size { // beyond the head is 404 below
		badRequest(w, r, fmt.Errorf("%w: seq %d is not in a tree of size %d: want seq <= size", errRequest, seq, size))
		return
	}
	ctx := r.Context()
	cp, err := l.CheckpointAt(ctx, size)
	var e ledger.Entry
	var p tlog.RecordProof
	var root tlog.Hash
	if err == nil {
		e, err = l.Get(ctx, seq)
	}
	if err == nil {
		p, err = l.ProveInclusion(ctx, seq, size)
	}
	if err == nil {
		root, err = l.RootAt(ctx, size)
	}
	if err != nil {
		ledgerProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ledgercli.ProofInfo{Seq: seq, Size: size, ChainHash: hex.EncodeToString(e.Hash[:]),
		Root: hex.EncodeToString(root[:]), Proof: hexes(p), Checkpoint: string(cp)})
}

func (s *Server) proveConsistency(w http.ResponseWriter, r *http.Request, _ string) {
	from, err1 := uintQuery(r, "from", 0)
	to, err2 := uintQuery(r, "to", 0)
	if err := errors.Join(err1, err2); err != nil || from == 0 {
		badRequest(w, r, fmt.Errorf("%w: from (>= 1) and optional to are required numbers", errRequest))
		return
	}
	l, ctx := s.deps.Ledger, r.Context()
	if to == 0 {
		to = l.Head().Size
	}
	if from > to {
		badRequest(w, r, fmt.Errorf("%w: from %d is larger than to %d: want from <= to", errRequest, from, to))
		return
	}
	var p tlog.TreeProof
	var oldRoot, newRoot tlog.Hash
	cp, err := l.CheckpointAt(ctx, to)
	if err == nil {
		p, err = l.ProveConsistency(ctx, from, to)
	}
	if err == nil {
		oldRoot, err = l.RootAt(ctx, from)
	}
	if err == nil {
		newRoot, err = l.RootAt(ctx, to)
	}
	if err != nil {
		ledgerProblem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ConsistencyInfo{From: from, To: to, FromRoot: hex.EncodeToString(oldRoot[:]),
		ToRoot: hex.EncodeToString(newRoot[:]), Proof: hexes(p), Checkpoint: string(cp)})
}

func hexes(hs []tlog.Hash) []string {
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		out = append(out, hex.EncodeToString(h[:]))
	}
	return out
}

func uintQuery(r *http.Request, name string, def uint64) (uint64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s=%q is not a number", errRequest, name, v)
	}
	return n, nil
}

// ledgerProblem maps ledger errors: a seq or size beyond the head is 404,
// an unavailable ledger 503, anything else 500 (logged by the caller's
// middleware-free path: the detail says what failed).
func ledgerProblem(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		writeProblem(w, r, newProblem(http.StatusNotFound, ReasonNotFound, err.Error()))
	case errors.Is(err, ledger.ErrUnavailable):
		p := newProblem(http.StatusServiceUnavailable, "ledger_unavailable", err.Error())
		writeProblem(w, r, p)
	default:
		writeProblem(w, r, newProblem(http.StatusBadRequest, ReasonBadRequest, err.Error()))
	}
}
