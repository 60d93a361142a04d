package core

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/botwarden/botwarden/internal/lifecycle"
)

// stateMetrics are the gauges derived from the published state: bots by
// lifecycle state and the conditions operators alert on
// (docs/operations/alerts.yml): the effective safety mode, gate results,
// bots stuck in STOPPING and the expiry of every open challenge. They are
// computed from the state when scraped, so they can never drift from it
// and cost the command path nothing.
type stateMetrics struct {
	load                                   func() *state
	bots, safety, gates, stuck, challenges *prometheus.Desc
}

func newStateMetrics(load func() *state) *stateMetrics {
	return &stateMetrics{
		load: load,
		bots: prometheus.NewDesc("botwarden_bots", "Bots by recorded lifecycle state.", []string{"state"}, nil),
		safety: prometheus.NewDesc("botwarden_safety_mode",
			"1 for the effective safety mode (NORMAL, SAFE, EMERGENCY_STOP, UNKNOWN: missing or stale), 0 for the others.", []string{"mode"}, nil),
		gates: prometheus.NewDesc("botwarden_gates",
			"Gate results (gate and scope pairs) by effective status; UNKNOWN counts missing or stale results.", []string{"status"}, nil),
		stuck: prometheus.NewDesc("botwarden_bots_stuck_stopping",
			"Bots in STOPPING past the stop timeout (reported, never forced).", nil, nil),
		challenges: prometheus.NewDesc("botwarden_challenge_expiry_timestamp_seconds",
			"When each open (unanswered) dangerous-op challenge expires, as Unix seconds.", []string{"challenge_id", "op", "target"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *stateMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.bots, c.safety, c.gates, c.stuck, c.challenges} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one consistent snapshot of the
// published state (which never changes once published).
func (c *stateMetrics) Collect(ch chan<- prometheus.Metric) {
	s := c.load()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	bots := map[lifecycle.State]int{}
	stuck := 0
	for _, b := range s.bots {
		bots[b.state]++
		if b.stuck && b.state == lifecycle.Stopping {
			stuck++
		}
	}
	for _, st := range lifecycle.States {
		gauge(c.bots, float64(bots[st]), string(st))
	}
	gauge(c.stuck, float64(stuck))
	for _, m := range []SafetyMode{SafetyNormal, SafetySafe, SafetyEmergencyStop, SafetyUnknown} {
		v := 0.0
		if s.safety.effective == m {
			v = 1
		}
		gauge(c.safety, v, string(m))
	}
	gates := map[GateStatus]int{}
	for _, g := range s.gates {
		gates[g.effective]++
	}
	for _, st := range []GateStatus{GatePass, GateFail, GateUnknown} {
		gauge(c.gates, float64(gates[st]), string(st))
	}
	for _, chg := range s.challenges {
		if chg.State == ChallengeOpen {
			gauge(c.challenges, float64(chg.ExpiresAt.UnixNano())/1e9, chg.ID, string(chg.Command.Op), chg.Command.Target)
		}
	}
}
