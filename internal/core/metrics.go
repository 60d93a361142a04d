package core

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/botwarden/botwarden/internal/lifecycle"
)

// metrics are the core's own Prometheus series.
type metrics struct {
	commands      *prometheus.CounterVec // op, outcome
	challenges    *prometheus.CounterVec // outcome
	bots          *prometheus.GaugeVec   // state
	appendSeconds prometheus.Histogram
	unaudited     prometheus.Counter
	dropped       prometheus.Counter
	cond          *conditionMetrics // safety, gates, stuck bots, open challenges
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "botwarden_commands_total", Help: "Commands by op and outcome (applied, denied, challenge_issued, rejected, failed, duplicate).",
		}, []string{"op", "outcome"}),
		challenges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "botwarden_challenges_total", Help: "Dangerous-op challenges by outcome (issued, approved, confirmed, rejected, expired, superseded).",
		}, []string{"outcome"}),
		bots: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "botwarden_bots", Help: "Bots by recorded lifecycle state.",
		}, []string{"state"}),
		appendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "botwarden_core_audit_append_seconds", Help: "Latency of the core's audit appends, as the core sees it.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		unaudited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "botwarden_unaudited_effects_total", Help: "Safety-increasing effects applied while the ledger could not record them.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "botwarden_notices_dropped_total", Help: "Notices a slow subscriber lost.",
		}),
	}
	m.cond = newConditionMetrics()
	if reg == nil {
		return m, nil
	}
	cs := append([]prometheus.Collector{m.commands, m.challenges, m.bots, m.appendSeconds, m.unaudited, m.dropped}, m.cond.collectors()...)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register core metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) setBots(s *state) {
	counts := map[lifecycle.State]int{}
	for _, b := range s.bots {
		counts[b.state]++
	}
	for _, st := range lifecycle.States {
		m.bots.WithLabelValues(string(st)).Set(float64(counts[st]))
	}
	m.cond.set(s)
}

func (m *metrics) command(o Outcome) {
	outcome := string(o.Status)
	if o.Duplicate {
		outcome = "duplicate"
	}
	m.commands.WithLabelValues(string(o.Op), outcome).Inc()
}
