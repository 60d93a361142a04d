package main

import (
	"context"
	"errors"
	"testing"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/ledger"
	"github.com/prometheus/client_golang/prometheus"
)

// The auditor reads back exactly what it queued, and a seq it does not
// hold is an unavailable audit, which the core answers without acting.
func TestAuditor_ReadsBackWhatItQueued(t *testing.T) {
	ctx := context.Background()
	l, err := ledger.Open(ctx, t.TempDir(), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a := newAuditor(l, prometheus.NewRegistry())
	events := [][]byte{[]byte(`{"type":"a"}`), []byte(`{"type":"b"}`)}
	p, err := a.Queue(ctx, events...)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		got, err := a.Read(ctx, r.Seq)
		if err != nil || string(got) != string(events[i]) {
			t.Fatalf("Read(%d) = %q, %v; want %q", r.Seq, got, err, events[i])
		}
	}
	if _, err := a.Read(ctx, rs[1].Seq+1); !errors.Is(err, core.ErrAuditUnavailable) {
		t.Fatalf("Read beyond the head: %v", err)
	}
}
