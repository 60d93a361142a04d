package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/botwarden/botwarden/internal/core"
)

// ChallengeView is a challenge as the API shows it to one caller: with
// whether that caller may approve it now.
type ChallengeView struct {
	core.Challenge
	MayApprove bool `json:"may_approve"`
}

// ChallengeList is the answer of GET /v1/challenges.
type ChallengeList struct {
	Challenges []ChallengeView `json:"challenges"`
}

func (s *Server) listChallenges(w http.ResponseWriter, r *http.Request, actor string) {
	if st := r.URL.Query().Get("state"); st != "" && st != string(core.ChallengeOpen) {
		badRequest(w, r, fmt.Errorf("%w: state=%q: only state=open is listed; GET /v1/challenges/{id} shows any", errRequest, st))
		return
	}
	out := ChallengeList{Challenges: []ChallengeView{}}
	for _, ch := range s.deps.Core.Snapshot().Challenges {
		out.Challenges = append(out.Challenges, ChallengeView{Challenge: ch, MayApprove: s.deps.Core.MayApprove(actor, ch.ID)})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getChallenge(w http.ResponseWriter, r *http.Request, actor string) {
	ch, ok := s.deps.Core.Challenge(r.PathValue("id"))
	if !ok {
		writeProblem(w, r, newProblem(http.StatusNotFound, ReasonNotFound, fmt.Sprintf("no challenge %q", r.PathValue("id"))))
		return
	}
	writeJSON(w, http.StatusOK, ChallengeView{Challenge: ch, MayApprove: s.deps.Core.MayApprove(actor, ch.ID)})
}

func (s *Server) confirm(w http.ResponseWriter, r *http.Request, actor string) {
	var b ConfirmBody
	if err := DecodeStrict(r.Body, &b); err != nil {
		badRequest(w, r, err)
		return
	}
	out, err := s.deps.Core.Confirm(acting(r), core.ConfirmRequest{ChallengeID: r.PathValue("id"),
		Actor: actor, Reason: b.Reason, TypedTarget: b.TypedTarget, Channel: Channel})
	s.answerChallenge(w, r, out, err, false)
}

func (s *Server) reject(w http.ResponseWriter, r *http.Request, actor string) {
	var b RejectBody
	if err := DecodeStrict(r.Body, &b); err != nil {
		badRequest(w, r, err)
		return
	}
	out, err := s.deps.Core.Reject(acting(r), core.RejectRequest{ChallengeID: r.PathValue("id"),
		Actor: actor, Reason: b.Reason, Channel: Channel})
	s.answerChallenge(w, r, out, err, true)
}

// answerChallenge answers a confirm or reject. A reject that ended the
// challenge is a success (200 with the outcome).
func (s *Server) answerChallenge(w http.ResponseWriter, r *http.Request, out core.Outcome, err error, rejecting bool) {
	switch {
	case err == nil && rejecting && out.Status == core.StatusRejected && out.Reason == core.ReasonRejected:
		writeJSON(w, http.StatusOK, out)
	case errors.Is(err, core.ErrUnknownChallenge):
		writeProblem(w, r, newProblem(http.StatusNotFound, ReasonNotFound, err.Error()))
	case err != nil:
		writeProblem(w, r, newProblem(http.StatusUnprocessableEntity, string(core.ReasonInvalid), err.Error()))
	default:
		writeOutcome(w, r, out)
	}
}
