package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/botwarden/botwarden/internal/core"
)

// BotList is the answer of GET /v1/bots.
type BotList struct {
	Environment string         `json:"environment"`
	Bots        []core.BotView `json:"bots"`
	LedgerSeq   uint64         `json:"ledger_seq"`
	At          time.Time      `json:"at"`
}

// BotDetail is the answer of GET /v1/bots/{id}: the bot, the gates and
// kill-switch levels on its scopes (the bot, its group, global).
type BotDetail struct {
	core.BotView
	Environment string                `json:"environment"`
	Gates       []core.GateView       `json:"gates"`
	KillSwitch  map[string]core.Level `json:"killswitch_scopes"`
	Safety      core.SafetyView       `json:"safety"`
}

// Me is the answer of GET /v1/me: who the caller is and what they may do
// now on a target (least privilege, answered by the core).
type Me struct {
	Actor       string    `json:"actor"`
	Roles       []string  `json:"roles"`
	Environment string    `json:"environment"`
	Target      string    `json:"target"`
	Allowed     []core.Op `json:"allowed"`
	MayAudit    bool      `json:"may_audit"`
	MayApprove  []string  `json:"may_approve"` // open challenge ids the caller may confirm now
}

func (s *Server) bots(w http.ResponseWriter, _ *http.Request, _ string) {
	snap := s.deps.Core.Snapshot()
	writeJSON(w, http.StatusOK, BotList{Environment: snap.Environment, Bots: snap.Bots, LedgerSeq: snap.LedgerSeq, At: snap.At})
}

func (s *Server) bot(w http.ResponseWriter, r *http.Request, _ string) {
	id := r.PathValue("id")
	snap := s.deps.Core.Snapshot()
	i := slices.IndexFunc(snap.Bots, func(b core.BotView) bool { return b.ID == id })
	if i < 0 {
		writeProblem(w, r, newProblem(http.StatusNotFound, string(core.ReasonUnknownTarget), "no bot "+id+" in "+snap.Environment))
		return
	}
	b := snap.Bots[i]
	scopes := []string{"global", b.ID}
	if b.Group != "" {
		scopes = append(scopes, "group:"+b.Group)
	}
	d := BotDetail{BotView: b, Environment: snap.Environment, Gates: []core.GateView{},
		KillSwitch: map[string]core.Level{}, Safety: snap.Safety}
	for _, g := range snap.Gates {
		if slices.Contains(scopes, g.Scope) {
			d.Gates = append(d.Gates, g)
		}
	}
	for _, sc := range scopes {
		d.KillSwitch[sc] = core.LevelOff
		if l, ok := snap.KillSwitch[sc]; ok {
			d.KillSwitch[sc] = l
		}
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) safety(w http.ResponseWriter, _ *http.Request, _ string) {
	writeJSON(w, http.StatusOK, s.deps.Core.Snapshot().Safety)
}

// GateList is the answer of GET /v1/gates.
type GateList struct {
	Gates []core.GateView `json:"gates"`
}

func (s *Server) gates(w http.ResponseWriter, _ *http.Request, _ string) {
	writeJSON(w, http.StatusOK, GateList{Gates: s.deps.Core.Snapshot().Gates})
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, actor string) {
	target := strings.TrimSpace(r.URL.Query().Get("target"))
	if target == "" {
		target = "global"
	}
	// An unknown target is said so, not answered "you may do nothing",
	// which would read as missing permissions.
	if !s.deps.Core.TargetExists(target) {
		writeProblem(w, r, newProblem(http.StatusNotFound, string(core.ReasonUnknownTarget),
			fmt.Sprintf("no bot or group %q in %s", target, s.deps.Core.Environment())))
		return
	}
	m := Me{Actor: actor, Roles: s.deps.Core.Roles(actor), Environment: s.deps.Core.Environment(), Target: target,
		Allowed: s.deps.Core.Allowed(actor, target), MayAudit: s.deps.Core.MayAudit(actor), MayApprove: []string{}}
	if m.Roles == nil {
		m.Roles = []string{}
	}
	if m.Allowed == nil {
		m.Allowed = []core.Op{}
	}
	for _, ch := range s.deps.Core.Snapshot().Challenges {
		if s.deps.Core.MayApprove(actor, ch.ID) {
			m.MayApprove = append(m.MayApprove, ch.ID)
		}
	}
	writeJSON(w, http.StatusOK, m)
}
