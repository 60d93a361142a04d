package source_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/botwarden/botwarden/docs/contracts"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
	"github.com/botwarden/botwarden/internal/source"
	"github.com/rs/zerolog"
)

var _ source.Sink = (*core.Engine)(nil)

func safetyDoc(mode core.SafetyMode, at time.Time, ttl int) string {
	return fmt.Sprintf(`{"schema_version":"1.0","safety_mode":%q,"source":"risk-engine","updated_at":%q,"ttl_seconds":%d}`,
		mode, at.Format(time.RFC3339Nano), ttl)
}

func gatesDoc(st core.GateStatus, at time.Time, ttl int) string {
	return fmt.Sprintf(`{"schema_version":"1.0","source":"gatekeeper","results":[{"gate":"risk","scope":"global","status":%q,"evaluated_at":%q,"ttl_seconds":%d}]}`,
		st, at.Format(time.RFC3339Nano), ttl)
}

func pushTo(t *testing.T, srv *httptest.Server, path, body string) int {
	t.Helper()
	req, _ := http.NewRequest("PUT", srv.URL+path, bytes.NewReader([]byte(body)))
	req.Header.Set("Authorization", "Bearer push-token")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func gate(h *coretest.Harness) core.GateView {
	for _, g := range h.Engine.Snapshot().Gates {
		if g.Gate == "risk" && g.Scope == "global" {
			return g
		}
	}
	return core.GateView{}
}

func hasEvent(h *coretest.Harness, typ string) bool {
	for _, ev := range h.Events() {
		if ev.Type == typ {
			return true
		}
	}
	return false
}

// TestPush_IntoEngine_StalenessDeniesLiveStart pushes real documents into
// the real engine: a bad document keeps the last good state, and once the
// pushed results outlive their TTL they are UNKNOWN and live start is denied.
func TestPush_IntoEngine_StalenessDeniesLiveStart(t *testing.T) {
	h := coretest.NewEngine(t)
	v, err := contracts.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	p, err := source.NewPush("push-token", h.Engine, v, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	p.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	liveStart := func(bot string) core.Outcome {
		return h.Submit(h.Cmd(coretest.Admin, bot, core.OpStart, core.Params{Mode: lifecycle.Live}))
	}
	if o := liveStart("alpha"); o.Status != core.StatusDenied {
		t.Fatalf("live start with no data since start: %s, want denied", o.Status)
	}
	now := h.Clock.Now()
	if c := pushTo(t, srv, "/v1/safety", safetyDoc(core.SafetyNormal, now, 60)); c != 200 {
		t.Fatalf("push safety: %d", c)
	}
	if c := pushTo(t, srv, "/v1/gates", gatesDoc(core.GatePass, now, 60)); c != 200 {
		t.Fatalf("push gates: %d", c)
	}
	bad := `{"schema_version":"1.0","source":"gatekeeper","results":[{"gate":"risk","scope":"global","status":"FAIL","evaluated_at":"` +
		now.Format(time.RFC3339) + `","ttl_seconds":60,"override":true}]}`
	if c := pushTo(t, srv, "/v1/gates", bad); c != 400 {
		t.Fatalf("bad gates doc: %d, want 400", c)
	}
	if g := gate(h); g.Status != core.GatePass {
		t.Fatalf("after a bad document the gate is %s, want the last good PASS", g.Status)
	}
	if o := liveStart("alpha"); o.Status != core.StatusChallenged {
		t.Fatalf("live start with fresh data: %s %s, want a challenge", o.Status, o.Detail)
	}
	h.Clock.Advance(61 * time.Second)
	h.Engine.Tick(context.Background())
	if g := gate(h); g.Status != core.GateUnknown || !g.Stale {
		t.Fatalf("after the ttl the gate is %+v, want stale UNKNOWN", g)
	}
	if s := h.Engine.Snapshot().Safety.Mode; s != core.SafetyUnknown {
		t.Errorf("after the ttl safety is %s, want UNKNOWN", s)
	}
	if !hasEvent(h, "gate.transition") || !hasEvent(h, "safety.transition") {
		t.Error("transitions to UNKNOWN were not audited")
	}
	if o := liveStart("beta"); o.Status != core.StatusDenied {
		t.Fatalf("live start on stale data: %s, want denied", o.Status)
	}
}

func TestWatcher_IntoEngine(t *testing.T) {
	h := coretest.NewEngine(t)
	v, err := contracts.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "safety.json")
	w, err := source.NewWatcher([]source.File{{Path: path, Kind: source.KindSafety}}, h.Engine, v, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(safetyDoc(core.SafetyEmergencyStop, h.Clock.Now(), 600))
	if err := w.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := h.Engine.Snapshot().Safety.Mode; s != core.SafetyEmergencyStop {
		t.Fatalf("safety %s, want EMERGENCY_STOP from the file", s)
	}
	write(`{"schema_version":"1.0","safety_mode":"NORMAL"}`)
	if err := w.Poll(context.Background()); err == nil {
		t.Fatal("a document without source and updated_at was accepted")
	}
	if s := h.Engine.Snapshot().Safety.Mode; s != core.SafetyEmergencyStop {
		t.Errorf("after a bad file safety is %s, want the last good EMERGENCY_STOP", s)
	}
}

func TestKillSwitch_FromEngineSnapshot(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	if o := h.Submit(h.Cmd(coretest.Operator, "group:majors", core.OpKillSwitchSet, core.Params{Level: "halt"})); o.Status != core.StatusApplied {
		t.Fatalf("kill-switch set: %+v", o)
	}
	view := source.KillSwitchFunc(func() map[string]core.Level { return h.Engine.Snapshot().KillSwitch })
	rec := httptest.NewRecorder()
	source.NewKillSwitch(view, h.Engine.Environment(), "", nil).ServeHTTP(rec, httptest.NewRequest("GET", "/v1/killswitch", nil))
	var doc source.KillSwitchDoc
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Levels["group:majors"] != core.LevelHalt || doc.Environment != "dev" {
		t.Errorf("published %+v, want group:majors=halt in dev", doc)
	}
}
