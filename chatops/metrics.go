package chatops

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests *prometheus.CounterVec // by endpoint, result
	slack    *prometheus.CounterVec // Web API calls by method, result
	dropped  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "botwarden_slack_requests_total", Help: "Requests from Slack by endpoint and result (ok, unsigned, bad_signature, stale, replayed, bad_request).",
		}, []string{"endpoint", "result"}),
		slack: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "botwarden_slack_api_calls_total", Help: "Slack Web API calls by method and result (ok, ratelimited, error).",
		}, []string{"method", "result"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "botwarden_slack_notices_dropped_total", Help: "Audit-channel notices dropped because Slack stayed unavailable (the ledger still has them).",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.slack, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register chatops metrics: %w", err)
		}
	}
	return m, nil
}
