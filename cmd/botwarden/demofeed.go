package main

import (
	"context"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/rs/zerolog"
)

// safetySink is what the demo feed publishes to (the engine).
type safetySink interface {
	SetSafety(ctx context.Context, doc core.SafetyDoc) error
	SetGates(ctx context.Context, doc core.GatesDoc) error
}

// demoGates are the gates the demo feed reports for the whole fleet.
var demoGates = []string{"risk_limits", "market_data", "exchange_connectivity"}

// runDemoFeed stands in for a safety system in the embedded demo only: it
// reports NORMAL and every gate PASS with a short TTL, so that stopping the
// feed (or the playground flipping a gate) shows UNKNOWN and FAIL at work.
// It is refused in prod by config validation.
func runDemoFeed(ctx context.Context, sink safetySink, every time.Duration, log zerolog.Logger) {
	publish := func() {
		now := time.Now().UTC()
		ttl := int((3 * every).Seconds())
		if err := sink.SetSafety(ctx, core.SafetyDoc{
			SchemaVersion: core.SchemaVersion, Mode: core.SafetyNormal,
			Source: "demo-feed", UpdatedAt: now, TTLSeconds: ttl,
		}); err != nil {
			log.Warn().Err(err).Msg("demo feed: safety rejected")
		}
		doc := core.GatesDoc{SchemaVersion: core.SchemaVersion, Source: "demo-feed"}
		for _, g := range demoGates {
			doc.Results = append(doc.Results, core.GateResult{
				Gate: g, Scope: "global", Status: core.GatePass, EvaluatedAt: now, TTLSeconds: ttl,
			})
		}
		if err := sink.SetGates(ctx, doc); err != nil {
			log.Warn().Err(err).Msg("demo feed: gates rejected")
		}
	}
	publish()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			publish()
		}
	}
}
