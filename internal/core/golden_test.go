package core_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// TestGolden_LiveStartEvents pins the exact ledger events of a confirmed
// live start and a graceful stop, so any change to the audit format shows
// up in review. Refresh with: go test ./internal/core -run Golden -update
func TestGolden_LiveStartEvents(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Live}))
	h.Clock.Advance(30 * time.Second)
	h.Confirm(o.Challenge.ID, coretest.Approver)
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStop, core.Params{}))
	h.Engine.Tick(t.Context())
	h.ValidateEvents()

	got := bytes.Join(h.Auditor.Raw(), []byte("\n"))
	got = append(got, '\n')
	path := filepath.Join("testdata", "golden", "live_start.jsonl")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("events differ from %s (run with -update and review the diff):\n%s", path, got)
	}
}
