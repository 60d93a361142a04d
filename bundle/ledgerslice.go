package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/botwarden/botwarden/internal/core"
)

// The ledger files inside a bundle.
const (
	ledgerExportName     = "ledger/export.jsonl"
	ledgerCheckpointName = "ledger/checkpoint"
	ledgerKeyName        = "ledger/verifier.key"
	ledgerTargetsName    = "ledger/target_seqs.json"
)

// fleetTarget is the target of a bundle covering the whole fleet.
const fleetTarget = "global"

// TargetSeqs is ledger/target_seqs.json: which entries of the embedded
// export concern the bundle's target.
type TargetSeqs struct {
	Target  string   `json:"target"`
	Matches []string `json:"matches"`       // event targets counted as concerning it
	All     bool     `json:"all,omitempty"` // fleet bundle: every entry concerns it
	Seqs    []uint64 `json:"seqs"`
}

// sliceRange returns the contiguous seq range to export: the window's
// entries up to the head. An empty window still exports the last entry,
// so the bundle always carries a verifiable signed checkpoint.
func sliceRange(ctx context.Context, l Ledger, head uint64, since time.Time) (uint64, uint64, error) {
	if since.IsZero() {
		return 1, head, nil
	}
	// Append times never go back, so the first entry at or after since is
	// found by binary search.
	lo, hi := uint64(1), head+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		e, err := l.Get(ctx, mid)
		if err != nil {
			return 0, 0, fmt.Errorf("ledger entry %d: %w", mid, err)
		}
		if e.Time.Before(since) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return min(lo, head), head, nil
}

// matchTargets returns the event targets that concern target: itself, the
// bot's group or the group's bots, and global (safety, fleet-wide
// kill-switch), or nil for the fleet (everything concerns it).
func matchTargets(target string, snap core.Snapshot) []string {
	if target == fleetTarget || target == "" {
		return nil
	}
	set := map[string]bool{target: true, fleetTarget: true}
	for _, b := range snap.Bots {
		switch {
		case b.ID == target && b.Group != "":
			set["group:"+b.Group] = true
		case strings.HasPrefix(target, "group:") && "group:"+b.Group == target:
			set[b.ID] = true
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// seqCollector is an io.Writer that sees the export stream and records
// the seqs of entries whose event target is in match. It never fails the
// export: a line it cannot parse is simply not counted.
type seqCollector struct {
	match   map[string]bool
	seqs    []uint64
	partial []byte
}

func newSeqCollector(targets []string) *seqCollector {
	c := &seqCollector{match: map[string]bool{}}
	for _, t := range targets {
		c.match[t] = true
	}
	return c
}

func (c *seqCollector) Write(p []byte) (int, error) {
	data := p
	if len(c.partial) > 0 {
		data = append(c.partial, p...)
		c.partial = nil
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			c.partial = append([]byte(nil), data...)
			return len(p), nil
		}
		c.line(data[:i])
		data = data[i+1:]
	}
}

func (c *seqCollector) line(l []byte) {
	var e struct {
		Seq   uint64 `json:"seq"`
		Event struct {
			Target string `json:"target"`
		} `json:"event"`
	}
	if json.Unmarshal(l, &e) == nil && e.Seq > 0 && c.match[e.Event.Target] {
		c.seqs = append(c.seqs, e.Seq)
	}
}

// addLedger stages the ledger slice for target: the export, its signed
// checkpoint, the verifier key and target_seqs.json.
func (b *Builder) addLedger(ctx context.Context, st *stage, m *Manifest, snap core.Snapshot) error {
	l := b.src.Ledger
	head := l.Head().Size
	if head == 0 {
		m.Notes = append(m.Notes, "ledger: empty, no export")
		return nil
	}
	window := b.opts.Window
	if m.Target == fleetTarget {
		window = b.opts.FleetWindow
	}
	var since time.Time
	if window > 0 {
		since = m.CreatedAt.Add(-window)
		m.Ledger.Window = window.String()
	}
	from, to, err := sliceRange(ctx, l, head, since)
	if err != nil {
		return err
	}
	targets := matchTargets(m.Target, snap)
	coll := newSeqCollector(targets)
	var checkpoint []byte
	err = st.add(ledgerExportName, func(w io.Writer) error {
		var err error
		checkpoint, err = l.Export(ctx, io.MultiWriter(w, coll), from, to)
		return err
	})
	if err != nil {
		return fmt.Errorf("ledger export %d..%d: %w", from, to, err)
	}
	m.Ledger = LedgerSlice{From: from, To: to, Head: head, Window: m.Ledger.Window,
		Checkpoint: string(checkpoint), VerifierKey: l.VerifierKey(), TargetSeqs: len(coll.seqs)}
	ts := TargetSeqs{Target: m.Target, Matches: targets, All: targets == nil, Seqs: coll.seqs}
	if ts.All {
		ts.Seqs, m.Ledger.TargetSeqs = []uint64{}, int(to-from+1)
	}
	if ts.Seqs == nil {
		ts.Seqs = []uint64{}
	}
	if err := st.addBytes(ledgerCheckpointName, checkpoint); err != nil {
		return err
	}
	if err := st.addBytes(ledgerKeyName, []byte(l.VerifierKey()+"\n")); err != nil {
		return err
	}
	return st.add(ledgerTargetsName, jsonFill(ts))
}

// jsonFill returns a stage fill function writing v as indented JSON.
func jsonFill(v any) func(io.Writer) error {
	return func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
}
