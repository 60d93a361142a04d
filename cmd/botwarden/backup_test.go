package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/botwarden/botwarden/internal/api"
	"github.com/botwarden/botwarden/internal/core"
)

// TestBackup_OnlineExportRestores is the backup runbook end to end
// (docs/operations/README.md): while the service runs, `ledger export`
// (through its admin endpoint) is the backup; `ledger restore` rebuilds
// a new data folder from it, with the signing key and token file put
// back; a service started there knows everything the original recorded:
// the kill-switch, every command (a retried command_id is still a
// duplicate) and the tokens, under the same verifier key.
func TestBackup_OnlineExportRestores(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	op := createToken(t, dir, "U0OPERATOR")
	addr, stop := startServe(t, dir, nil)
	c := &api.Client{BaseURL: "http://" + addr, Token: op}
	ks, err := c.Submit(ctx, api.CommandRequest{Target: "group:majors", Op: core.OpKillSwitchSet,
		Params: core.Params{Level: string(core.LevelReduceOnly)}, Reason: "drill"}, "backup-ks-1")
	if err != nil || ks.Status != core.StatusApplied {
		t.Fatalf("kill-switch: %+v, %v", ks, err)
	}

	backup := filepath.Join(t.TempDir(), "ledger.jsonl")
	if out, code := runCLI(t, "ledger", "export", "--data", dir, "--out", backup); code != 0 {
		t.Fatalf("online export: code %d: %s", code, out)
	}
	key, code := runCLI(t, "ledger", "key", "--data", dir)
	if code != 0 {
		t.Fatalf("ledger key: %s", key)
	}
	stop()

	restored := t.TempDir()
	for _, name := range []string{"ledger.key", "api_tokens.json"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(restored, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, code := runCLI(t, "ledger", "restore", "--data", restored, "--export", backup, "--key", strings.TrimSpace(key))
	if code != 0 || !strings.Contains(out, "signing with the original key") {
		t.Fatalf("restore: code %d: %s", code, out)
	}
	if out, code := runCLI(t, "ledger", "restore", "--data", restored, "--export", backup, "--key", strings.TrimSpace(key)); code == 0 {
		t.Fatalf("a second restore into the same folder succeeded: %s", out)
	}

	addr, stop = startServe(t, restored, nil)
	defer stop()
	c.BaseURL = "http://" + addr
	again, err := c.Submit(ctx, api.CommandRequest{Target: "group:majors", Op: core.OpKillSwitchSet,
		Params: core.Params{Level: string(core.LevelReduceOnly)}, Reason: "drill"}, "backup-ks-1")
	if err != nil || !again.Duplicate || again.Seq != ks.Seq {
		t.Fatalf("retried command after restore: %+v, %v; want the original outcome (seq %d) as a duplicate", again, err, ks.Seq)
	}
	var bot api.BotDetail
	if err := c.Do(ctx, http.MethodGet, "/v1/bots/alpha", nil, nil, &bot); err != nil || bot.KillSwitch["group:majors"] != core.LevelReduceOnly {
		t.Fatalf("restored kill-switch: %+v, %v", bot.KillSwitch, err)
	}
	if k2, _ := runCLI(t, "ledger", "key", "--data", restored); k2 != key {
		t.Fatalf("restored verifier key %q, want %q", k2, key)
	}
}
