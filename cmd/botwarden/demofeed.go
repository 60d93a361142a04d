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

// demoFeed stands in for a safety system in the embedded demo only: it
// reports NORMAL and every gate PASS with a short TTL, so that stopping the
// feed shows UNKNOWN at work. It is refused in prod by config validation.
type demoFeed struct {
	sink  safetySink
	every time.Duration
	log   zerolog.Logger
}

// publish reports NORMAL and every demo gate PASS, valid for three periods.
func (f demoFeed) publish(ctx context.Context) {
	now := time.Now().UTC()
	ttl := int((3 * f.every).Seconds())
	if err := f.sink.SetSafety(ctx, core.SafetyDoc{
		SchemaVersion: core.SchemaVersion, Mode: core.SafetyNormal,
		Source: "demo-feed", UpdatedAt: now, TTLSeconds: ttl,
	}); err != nil {
		f.log.Warn().Err(err).Msg("demo feed: safety rejected")
	}
	doc := core.GatesDoc{SchemaVersion: core.SchemaVersion, Source: "demo-feed"}
	for _, g := range demoGates {
		doc.Results = append(doc.Results, core.GateResult{
			Gate: g, Scope: "global", Status: core.GatePass, EvaluatedAt: now, TTLSeconds: ttl,
		})
	}
	if err := f.sink.SetGates(ctx, doc); err != nil {
		f.log.Warn().Err(err).Msg("demo feed: gates rejected")
	}
}

// run publishes every period until ctx ends.
func (f demoFeed) run(ctx context.Context) {
	t := time.NewTicker(f.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f.publish(ctx)
		}
	}
}
