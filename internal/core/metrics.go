package core

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the core's own Prometheus series.
type metrics struct {
	commands      *prometheus.CounterVec // op, outcome
	challenges    *prometheus.CounterVec // outcome
	appendSeconds prometheus.Histogram
	unaudited     prometheus.Counter
	late          prometheus.Gauge
	drifted       *prometheus.CounterVec // bot
	dropped       prometheus.Counter
	uncleanStart  prometheus.Gauge // this run's start time, if it followed an unclean end
	policyChange  prometheus.Gauge // this run's start time, if its policy changed
	state         *stateMetrics    // bots by state, safety, gates, stuck bots, open challenges
}

// newMetrics registers the core's series on reg (none if nil); load
// returns the published state, for the gauges derived from it.
func newMetrics(reg prometheus.Registerer, load func() *state) (*metrics, error) {
	m := &metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "botwarden_commands_total", Help: "Commands by op and outcome (applied, denied, challenge_issued, rejected, failed, duplicate).",
		}, []string{"op", "outcome"}),
		challenges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "botwarden_challenges_total", Help: "Dangerous-op challenges by outcome (issued, approved, confirmed, rejected, expired, superseded).",
		}, []string{"outcome"}),
		appendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "botwarden_core_audit_append_seconds", Help: "Latency of the core's audit appends, as the core sees it.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		unaudited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "botwarden_unaudited_effects_total", Help: "Safety-increasing effects applied while the ledger could not record them.",
		}),
		late: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "botwarden_unaudited_effects_pending", Help: "Unaudited effects whose events wait to be recorded late, once the ledger takes appends again.",
		}),
		drifted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "botwarden_reconcile_quarantines_total", Help: "Bots reconciliation found doing more than their record says, and quarantined and stopped.",
		}, []string{"bot"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "botwarden_notices_dropped_total", Help: "Notices a slow subscriber lost.",
		}),
		uncleanStart: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "botwarden_unclean_start_timestamp_seconds",
			Help: "Unix time of this run's start if the run before recorded no stop (killed, crashed, machine lost); 0 otherwise.",
		}),
		policyChange: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "botwarden_policy_change_start_timestamp_seconds",
			Help: "Unix time of this run's start if its policy differs from the last start's (recorded whole in the ledger); 0 otherwise.",
		}),
	}
	m.state = newStateMetrics(load)
	if reg == nil {
		return m, nil
	}
	cs := []prometheus.Collector{m.commands, m.challenges, m.appendSeconds, m.unaudited, m.late, m.drifted, m.dropped,
		m.uncleanStart, m.policyChange, m.state}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register core metrics: %w", err)
		}
	}
	return m, nil
}

// started sets the start gauges from this run's start record.
func (m *metrics) started(info *ServiceInfo, now time.Time) {
	if info.PreviousRun == "unclean" {
		m.uncleanStart.Set(float64(now.Unix()))
	}
	if info.PreviousPolicyDigest != "" {
		m.policyChange.Set(float64(now.Unix()))
	}
}

func (m *metrics) command(o Outcome) {
	outcome := string(o.Status)
	if o.Duplicate {
		outcome = "duplicate"
	}
	m.commands.WithLabelValues(string(o.Op), outcome).Inc()
}
