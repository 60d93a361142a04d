package api

import (
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the API's Prometheus series.
type metrics struct {
	requests *prometheus.CounterVec   // by route and status code
	duration *prometheus.HistogramVec // by route, event streams excepted
	streams  atomic.Int64             // open /v1/events streams
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "botwarden_api_requests_total", Help: "Operator API requests by route and HTTP status code (401: token refused, 429: rate limited).",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "botwarden_api_request_duration_seconds", Help: "Operator API request latency by route, until the answer is written (event streams are not timed).",
			Buckets: []float64{.001, .0025, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
	}
	if reg == nil {
		return m, nil
	}
	streams := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "botwarden_api_event_streams", Help: "Open GET /v1/events streams.",
	}, func() float64 { return float64(m.streams.Load()) })
	for _, c := range []prometheus.Collector{m.requests, m.duration, streams} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register api metrics: %w", err)
		}
	}
	return m, nil
}

// instrument counts (and, but for streams, times) route's requests.
func (m *metrics) instrument(route string, stream bool, h http.Handler) http.Handler {
	labels := prometheus.Labels{"route": route}
	if !stream {
		h = promhttp.InstrumentHandlerDuration(m.duration.MustCurryWith(labels), h)
	}
	return promhttp.InstrumentHandlerCounter(m.requests.MustCurryWith(labels), h)
}
