package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/botwarden/botwarden/internal/api"
)

// handler is the main listener: health, metrics, Slack and the safety
// surface shared with outside systems.
func (s *service) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	if s.slack != nil {
		h := s.slack.Handler()
		mux.Handle("/slack/", h)
	}
	if s.push != nil {
		s.push.Register(mux)
	}
	s.kill.Register(mux)
	s.api.Register(mux)
	return mux
}

// adminHandler is the loopback-only admin listener the local CLI uses
// while the service holds the ledger's lock.
func (s *service) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/admin/ledger/", http.StripPrefix("/admin/ledger", ledgerAdminHandler(s.ledger)))
	tokens := http.StripPrefix("/admin", api.AdminHandler(s.tokenAdmin()))
	mux.Handle("/admin/tokens", tokens)
	mux.Handle("/admin/tokens/", tokens)
	return mux
}

// healthz says the process serves, and what it runs: the version and the
// digests of its config and policy (the ones its start recorded in the
// ledger), so a deploy can be checked against `botwarden check`.
func (s *service) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"status": "ok", "version": buildVersion(), "environment": s.cfg.Environment,
		"policy_digest": s.policyDigest, "config_digest": s.cfg.digest,
	})
}

// readyz is false while the ledger cannot take appends: without audit the
// service refuses dangerous operations, and a load balancer should know.
func (s *service) readyz(w http.ResponseWriter, _ *http.Request) {
	if err := s.audit.ready(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ready": true, "ledger_size": s.ledger.Head().Size})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// banner prints where to look, for the person who just ran `make run`.
func (s *service) banner(out io.Writer, httpURL, adminURL string) {
	snap := s.engine.Snapshot()
	fmt.Fprintf(out, "\nBotwarden %s is running (environment %s, data folder %s)\n\n", version, s.cfg.Environment, s.cfg.DataDir)
	fmt.Fprintf(out, "  health      %s/healthz   %s/readyz\n", httpURL, httpURL)
	fmt.Fprintf(out, "  metrics     %s/metrics\n", httpURL)
	fmt.Fprintf(out, "  kill-switch %s/v1/killswitch\n", httpURL)
	fmt.Fprintf(out, "  api         %s/v1/ (bearer tokens: botwarden token create --actor NAME; docs/api/README.md)\n", httpURL)
	fmt.Fprintf(out, "  admin       %s (loopback only; the ledger commands use it while the service runs)\n", adminURL)
	fmt.Fprintf(out, "  ledger      %d entries; verifier key %s\n", s.ledger.Head().Size, s.ledger.VerifierKey())
	fmt.Fprintf(out, "  policy      %s  %s (recorded at this start)\n", s.cfg.path(s.cfg.PolicyFile), s.policyDigest)
	if s.play != nil {
		s.play.banner(out)
	} else if s.slack != nil {
		fmt.Fprintf(out, "  slack       HTTP mode: point the app's request URLs at %s/slack/{commands,interactivity,events}\n", httpURL)
	} else {
		fmt.Fprintf(out, "  slack       not configured (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET; see docs/slack.md; the playground runs in dev only)\n")
	}
	fmt.Fprintf(out, "\n  bots:")
	for _, b := range snap.Bots {
		fmt.Fprintf(out, "  %s=%s", b.ID, b.State)
	}
	// As this binary was started: ./bin/botwarden from `make run`, the
	// image's /usr/local/bin/botwarden in a container.
	self := os.Args[0]
	fmt.Fprintf(out, "\n\n  try:  %s ledger head --data %s\n        %s ledger verify --data %s\n\n", self, s.cfg.DataDir, self, s.cfg.DataDir)
}
