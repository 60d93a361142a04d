package bundle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"

	"github.com/botwarden/botwarden/bundle/redact"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// collector stages the redacted files of one build.
type collector struct {
	st     *stage
	red    *redact.Redactor
	counts redact.Counts
	notes  []string
}

// json stages v as redacted, indented JSON.
func (c *collector) json(name string, v any) error {
	b, err := c.red.JSON(v, c.counts)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return c.st.addBytes(name, b)
}

// note records, redacted, why something was not collected.
func (c *collector) note(format string, args ...any) {
	c.notes = append(c.notes, c.red.String(fmt.Sprintf(format, args...), c.counts))
}

// addState stages the fleet, safety, gates, kill-switch and open
// challenges from one snapshot.
func (c *collector) addState(snap core.Snapshot) error {
	parts := []struct {
		name string
		v    any
	}{
		{"state/fleet.json", struct {
			Environment string         `json:"environment"`
			LedgerSeq   uint64         `json:"ledger_seq"`
			At          any            `json:"at"`
			Bots        []core.BotView `json:"bots"`
		}{snap.Environment, snap.LedgerSeq, snap.At, snap.Bots}},
		{"state/safety.json", snap.Safety},
		{"state/gates.json", snap.Gates},
		{"state/killswitch.json", snap.KillSwitch},
		{"state/challenges.json", snap.Challenges},
	}
	for _, p := range parts {
		if err := c.json(p.name, p.v); err != nil {
			return err
		}
	}
	return nil
}

// addLogs stages the ring's lines, each redacted by every rule.
func (c *collector) addLogs(ring *Ring) error {
	if ring == nil {
		c.note("logs: no log ring configured")
		return nil
	}
	return c.st.add("logs/service.log", func(w io.Writer) error {
		for _, line := range ring.Snapshot() {
			if _, err := w.Write(c.red.Bytes(line, c.counts)); err != nil {
				return err
			}
		}
		return nil
	})
}

// addMetrics stages a text-exposition snapshot of the gatherer, redacted.
func (c *collector) addMetrics(g prometheus.Gatherer) error {
	if g == nil {
		c.note("metrics: no gatherer configured")
		return nil
	}
	mfs, err := g.Gather()
	if err != nil && len(mfs) == 0 {
		c.note("metrics: %v", err)
		return nil
	}
	var buf bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			return fmt.Errorf("metrics %s: %w", mf.GetName(), err)
		}
	}
	return c.st.addBytes("metrics/metrics.txt", c.red.Bytes(buf.Bytes(), c.counts))
}

// addDrivers stages the driver diagnostics of bots, redacted.
func (c *collector) addDrivers(ctx context.Context, diag DiagnosticsFunc, bots []core.BotView) error {
	if diag == nil {
		c.note("drivers: no diagnostics source configured")
		return nil
	}
	ids := make([]string, 0, len(bots))
	for _, b := range bots {
		ids = append(ids, b.ID)
	}
	sort.Strings(ids)
	for _, id := range ids {
		d, err := diag(ctx, id)
		switch {
		case errors.Is(err, ErrNoDiagnostics):
			continue
		case err != nil:
			c.note("drivers/%s: %v", id, err)
			continue
		}
		name := "drivers/" + id + ".json"
		if !validName(name) {
			c.note("drivers: bot id %q cannot be a file name", id)
			continue
		}
		if err := c.json(name, d); err != nil {
			return err
		}
	}
	return nil
}

// liveRuntime reads the Go runtime facts of this process.
func liveRuntime() RuntimeFacts {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return RuntimeFacts{
		GoVersion: runtime.Version(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH,
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), Goroutines: runtime.NumGoroutine(),
		HeapAlloc: ms.HeapAlloc, HeapInuse: ms.HeapInuse, Sys: ms.Sys, NumGC: ms.NumGC, PauseTotalNs: ms.PauseTotalNs,
	}
}
