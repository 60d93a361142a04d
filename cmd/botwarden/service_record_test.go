package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/policy"
)

// exportedEvents exports dir's ledger offline and returns its events.
func exportedEvents(t *testing.T, dir string) []core.Event {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ledger.jsonl")
	if msg, code := runCLI(t, "ledger", "export", "--data", dir, "--out", out); code != 0 {
		t.Fatalf("export: %s", msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var evs []core.Event
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Event core.Event `json:"event"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line.Event.Type != "" { // not the trailer
			evs = append(evs, line.Event)
		}
	}
	return evs
}

// The real service records each start with its version, config and the
// policy in force, and each clean stop; a policy edited between two runs
// is recorded whole, with the digest it replaced, so an auditor sees who
// was made an approver and when.
func TestServe_RecordsStartsStopsAndPolicyChanges(t *testing.T) {
	dir := t.TempDir()
	_, stop := startServe(t, dir, nil)
	stop()

	// The same demo policy, but the operator is an approver too.
	pol := strings.Replace(string(policy.DemoSource()), "U0OPERATOR: [operator]", "U0OPERATOR: [operator, approver]", 1)
	polFile := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(polFile, []byte(pol), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stop = startServeWith(t, dir, nil, func(c *Config) { c.PolicyFile = polFile })
	stop()

	var started, stopped []core.Event
	for _, ev := range exportedEvents(t, dir) {
		switch ev.Type {
		case core.EvStarted:
			started = append(started, ev)
		case core.EvStopped:
			stopped = append(stopped, ev)
		}
	}
	if len(started) != 2 || len(stopped) != 2 {
		t.Fatalf("%d starts and %d stops recorded, want 2 and 2", len(started), len(stopped))
	}
	sum := sha256.Sum256(demoConfig)
	_, demoDigest := policy.Demo().Canonical()
	first, second := started[0].Service, started[1].Service
	if first.Version != buildVersion() || first.ConfigDigest != "sha256:"+hex.EncodeToString(sum[:]) ||
		first.PolicyDigest != demoDigest || first.Policy == nil || first.PreviousRun != "" {
		t.Fatalf("first start %+v", first)
	}
	if second.PreviousRun != "stopped" || second.PreviousPolicyDigest != demoDigest || second.PolicyDigest == demoDigest {
		t.Fatalf("second start %+v", second)
	}
	var doc policy.Document
	if err := json.Unmarshal(second.Policy, &doc); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(doc.Actors["U0OPERATOR"], ","); got != "approver,operator" {
		t.Fatalf("recorded policy gives U0OPERATOR %q", got)
	}
	if stopped[0].Detail != "shutdown requested" {
		t.Fatalf("stop detail %q", stopped[0].Detail)
	}
}

// A run that ends in an error after the start was recorded (here: its
// port is taken) records its stop and why, so the next start does not
// read it as a crash.
func TestServe_FailedListenRecordsItsStop(t *testing.T) {
	dir := t.TempDir()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = dir
	cfg.Listen.HTTP, cfg.Listen.Admin, cfg.Listen.Playground = taken.Addr().String(), "127.0.0.1:0", "127.0.0.1:0"
	err = serve(t.Context(), cfg, serveEnv{getenv: func(string) string { return "" }, out: io.Discard, logOut: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("serve on a taken port = %v, want a listen error", err)
	}
	evs := exportedEvents(t, dir)
	last := evs[len(evs)-1]
	if last.Type != core.EvStopped || !strings.Contains(last.Detail, "stopped after an error: listen") {
		t.Fatalf("last event %s %q, want the stop and why", last.Type, last.Detail)
	}
}

// `make run` prints where to look: the banner names the URLs, the
// verifier key, the playground and the policy the start recorded.
func TestServe_BannerSaysWhereToLook(t *testing.T) {
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = t.TempDir()
	cfg.Listen.HTTP, cfg.Listen.Admin, cfg.Listen.Playground = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	ctx, cancel := context.WithCancel(t.Context())
	var out bytes.Buffer // written before started is called, read after
	started := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- serve(ctx, cfg, serveEnv{getenv: func(string) string { return "" }, out: &out, logOut: io.Discard,
			started: func(httpAddr, _ string) { started <- httpAddr }})
	}()
	var addr string
	select {
	case addr = <-started:
	case err := <-errc:
		t.Fatalf("serve: %v", err)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	_, digest := policy.Demo().Canonical()
	for _, want := range []string{
		"http://" + addr + "/healthz", "http://" + addr + "/metrics", "verifier key botwarden-ledger-dev+",
		"playground  http://127.0.0.1:", "policy      embedded:demo  " + digest, "alpha=IDLE",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}
}

// A lost signing key stops nothing silently: the service and the tools
// refuse the folder and say how to go on; `ledger rotate-key` gives it a
// new key, the next start records the change, and the key history
// verifies an export whose checkpoints span the rotation.
func TestLedger_LostKeyThenRotation(t *testing.T) {
	dir := t.TempDir()
	_, stop := startServe(t, dir, nil)
	stop()
	old, code := runCLI(t, "ledger", "key", "--data", dir)
	if code != 0 {
		t.Fatalf("ledger key: %s", old)
	}
	old = strings.TrimSpace(old)
	before := filepath.Join(t.TempDir(), "before.jsonl")
	if msg, code := runCLI(t, "ledger", "export", "--data", dir, "--out", before); code != 0 {
		t.Fatalf("export: %s", msg)
	}
	if err := os.Remove(filepath.Join(dir, "ledger.key")); err != nil {
		t.Fatal(err)
	}
	if msg, code := runCLI(t, "ledger", "head", "--data", dir); code == 0 || !strings.Contains(msg, "rotate-key") {
		t.Fatalf("ledger head without the key: %d %s", code, msg)
	}
	out, code := runCLI(t, "ledger", "rotate-key", "--data", dir)
	if code != 0 || !strings.Contains(out, "new verifier key: ") || !strings.Contains(out, "previous signing key was missing") {
		t.Fatalf("rotate-key: %d %s", code, out)
	}
	_, stop = startServe(t, dir, nil)
	stop()
	newKey, _ := runCLI(t, "ledger", "key", "--data", dir)
	newKey = strings.TrimSpace(newKey)
	// The old key is retired at the size the rotation found signed.
	all, _ := runCLI(t, "ledger", "key", "--all", "--data", dir)
	lines := strings.Split(strings.TrimSpace(all), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], old+" ") || lines[1] != newKey {
		t.Fatalf("ledger key --all = %q, want %s retired at a size, then %s", all, old, newKey)
	}
	var last core.Event
	for _, ev := range exportedEvents(t, dir) {
		if ev.Type == core.EvStarted {
			last = ev
		}
	}
	if last.Service.LedgerKey != newKey || last.Service.PreviousLedgerKey != old {
		t.Fatalf("start after the rotation recorded %+v", last.Service)
	}
	after := filepath.Join(t.TempDir(), "after.jsonl")
	if msg, code := runCLI(t, "ledger", "export", "--data", dir, "--out", after); code != 0 {
		t.Fatalf("export: %s", msg)
	}
	keys := filepath.Join(dir, "ledger.keys")
	if msg, code := runCLI(t, "ledger", "verify", "--export", after, "--key", keys, "--since-checkpoint", before+".checkpoint"); code != 0 || !strings.HasPrefix(msg, "ok:") {
		t.Fatalf("verify across the rotation with the key history: %s", msg)
	}
	if msg, code := runCLI(t, "ledger", "verify", "--export", after, "--key", old); code == 0 {
		t.Fatalf("an export signed after the rotation verified with the old key: %s", msg)
	}
	// Backups across the rotation: an incremental export after the old
	// backup's checkpoint, and a restore from both with the key history.
	inc := filepath.Join(t.TempDir(), "inc.jsonl")
	if msg, code := runCLI(t, "ledger", "export", "--data", dir, "--after", before+".checkpoint", "--out", inc); code != 0 {
		t.Fatalf("incremental export after the rotation: %s", msg)
	}
	restored := t.TempDir()
	if msg, code := runCLI(t, "ledger", "restore", "--data", restored, "--export", before, "--export", inc, "--key", keys); code != 0 {
		t.Fatalf("restore across the rotation: %s", msg)
	}
	if h, err := os.ReadFile(filepath.Join(restored, "ledger.keys")); err != nil || !strings.HasPrefix(string(h), lines[0]+"\n"+newKey+" ") {
		t.Fatalf("restored key history %q (%v), want the earlier keys first", h, err)
	}
}
