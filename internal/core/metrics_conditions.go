package core

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/botwarden/botwarden/internal/lifecycle"
)

// conditionMetrics are gauges of the conditions operators alert on
// (docs/operations/alerts.yml): the effective safety mode, gate results,
// bots stuck in STOPPING and the expiry of every open challenge. They are
// recomputed from the state after every recorded event, like botwarden_bots.
type conditionMetrics struct {
	safety     *prometheus.GaugeVec // mode: 1 for the effective mode, 0 for the others
	gates      *prometheus.GaugeVec // status: gate/scope pairs by effective result
	stuck      prometheus.Gauge
	challenges *prometheus.GaugeVec // challenge_id, op, target: expiry as Unix seconds
}

func newConditionMetrics() *conditionMetrics {
	return &conditionMetrics{
		safety: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "botwarden_safety_mode", Help: "1 for the effective safety mode (NORMAL, SAFE, EMERGENCY_STOP, UNKNOWN: missing or stale), 0 for the others.",
		}, []string{"mode"}),
		gates: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "botwarden_gates", Help: "Gate results (gate and scope pairs) by effective status; UNKNOWN counts missing or stale results.",
		}, []string{"status"}),
		stuck: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "botwarden_bots_stuck_stopping", Help: "Bots in STOPPING past the stop timeout (reported, never forced).",
		}),
		challenges: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "botwarden_challenge_expiry_timestamp_seconds", Help: "When each open (unanswered) dangerous-op challenge expires, as Unix seconds.",
		}, []string{"challenge_id", "op", "target"}),
	}
}

func (c *conditionMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.safety, c.gates, c.stuck, c.challenges}
}

// set recomputes the gauges from s. Callers hold the engine's lock.
func (c *conditionMetrics) set(s *state) {
	for _, m := range []SafetyMode{SafetyNormal, SafetySafe, SafetyEmergencyStop, SafetyUnknown} {
		v := 0.0
		if s.safety.effective == m {
			v = 1
		}
		c.safety.WithLabelValues(string(m)).Set(v)
	}
	gates := map[GateStatus]int{}
	for _, g := range s.gates {
		gates[g.effective]++
	}
	for _, st := range []GateStatus{GatePass, GateFail, GateUnknown} {
		c.gates.WithLabelValues(string(st)).Set(float64(gates[st]))
	}
	stuck := 0
	for _, b := range s.bots {
		if b.stuck && b.state == lifecycle.Stopping {
			stuck++
		}
	}
	c.stuck.Set(float64(stuck))
	c.challenges.Reset()
	for _, ch := range s.challenges {
		if ch.State == ChallengeOpen {
			c.challenges.WithLabelValues(ch.ID, string(ch.Command.Op), ch.Command.Target).
				Set(float64(ch.ExpiresAt.UnixNano()) / 1e9)
		}
	}
}
