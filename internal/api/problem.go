package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/botwarden/botwarden/internal/core"
)

// ProblemTypeBase prefixes every problem type URI; the reason code (or
// the HTTP condition) follows.
const ProblemTypeBase = "https://botwarden.dev/problems/"

// The API's own reason codes, beside the core's denial reasons.
const (
	ReasonUnauthenticated = "unauthenticated"
	ReasonTokenRevoked    = "token_revoked"
	ReasonTokenExpired    = "token_expired"
	ReasonRateLimited     = "rate_limited"
	ReasonTooManyStreams  = "too_many_streams"
	ReasonBadRequest      = "bad_request"
	ReasonNotFound        = "not_found"
	ReasonActorMismatch   = "actor_mismatch"
	ReasonInternal        = "internal"
)

// Problem is an RFC 9457 problem details document. Reason is the
// machine-readable code (a core.Reason for denials); Outcome is set when
// the problem is a command's recorded outcome (denied, rejected, failed).
type Problem struct {
	Type     string        `json:"type"`
	Title    string        `json:"title"`
	Status   int           `json:"status"`
	Detail   string        `json:"detail,omitempty"`
	Instance string        `json:"instance,omitempty"`
	Reason   string        `json:"reason"`
	Runbook  string        `json:"runbook,omitempty"`
	Outcome  *core.Outcome `json:"outcome,omitempty"`
}

// newProblem builds a problem for a reason code.
func newProblem(status int, reason, detail string) Problem {
	return Problem{Type: ProblemTypeBase + reason, Title: http.StatusText(status), Status: status,
		Detail: detail, Reason: reason}
}

func writeProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	if p.Instance == "" && r != nil {
		p.Instance = r.URL.Path
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	p := newProblem(http.StatusTooManyRequests, ReasonRateLimited,
		"too many requests for this actor; retry after "+strconv.Itoa(secs)+"s")
	p.Runbook = s.deps.Core.Runbook("rate_limited")
	writeProblem(w, r, p)
}

// reasonStatus maps a core reason code to the HTTP status of a refused
// command. Unlisted reasons are state conflicts (409).
var reasonStatus = map[core.Reason]int{
	core.ReasonForbidden:         http.StatusForbidden,
	core.ReasonChannel:           http.StatusForbidden,
	core.ReasonSelfConfirm:       http.StatusForbidden,
	core.ReasonInvalid:           http.StatusUnprocessableEntity,
	core.ReasonIDConflict:        http.StatusUnprocessableEntity,
	core.ReasonWrongEnvironment:  http.StatusUnprocessableEntity,
	core.ReasonModeRequired:      http.StatusUnprocessableEntity,
	core.ReasonTargetMismatch:    http.StatusUnprocessableEntity,
	core.ReasonPolicyLimit:       http.StatusUnprocessableEntity,
	core.ReasonLevel:             http.StatusUnprocessableEntity,
	core.ReasonUnknownTarget:     http.StatusNotFound,
	core.ReasonLedgerUnavailable: http.StatusServiceUnavailable,
	core.ReasonUnavailable:       http.StatusServiceUnavailable,
	core.ReasonDriver:            http.StatusBadGateway,
}

// writeOutcome answers a recorded outcome: applied 200, challenge issued
// (or still awaiting approvals) 202, anything else a problem carrying the
// outcome, its reason and runbook.
func writeOutcome(w http.ResponseWriter, r *http.Request, o core.Outcome) {
	switch o.Status {
	case core.StatusApplied:
		writeJSON(w, http.StatusOK, o)
		return
	case core.StatusChallenged:
		writeJSON(w, http.StatusAccepted, o)
		return
	}
	status, ok := reasonStatus[o.Reason]
	if !ok {
		status = http.StatusConflict
	}
	p := newProblem(status, string(o.Reason), o.Detail)
	if o.Reason == "" {
		p = newProblem(status, string(o.Status), o.Detail)
	}
	p.Title = "command " + string(o.Status)
	p.Runbook, p.Outcome = o.Runbook, &o
	writeProblem(w, r, p)
}
