package ledgercli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/botwarden/botwarden/ledger"
)

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := NewCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage = true
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func newLedger(t *testing.T, n int) (string, *ledger.Log) {
	t.Helper()
	dir := t.TempDir()
	l, err := ledger.Open(context.Background(), dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		if _, err := l.Append(context.Background(), fmt.Appendf(nil, `{"type":"t","i":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, l
}

func TestCommand_OfflineRoundTrip(t *testing.T) {
	dir, l := newLedger(t, 25)
	l.Close()
	out, stderr, err := run(t, "head", "--data", dir)
	if err != nil || !strings.Contains(out, `"size": 25`) || !strings.Contains(stderr, "opened data folder") {
		t.Fatalf("head: %v %s %s", err, out, stderr)
	}
	key, _, err := run(t, "key", "--data", dir)
	if err != nil || !strings.HasPrefix(key, "botwarden-ledger+") {
		t.Fatalf("key: %v %q", err, key)
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte(key), 0o644)
	if out, _, err := run(t, "verify", "--data", dir); err != nil || !strings.HasPrefix(out, "ok: entries 1..25") {
		t.Fatalf("verify: %v %s", err, out)
	}
	exp := filepath.Join(t.TempDir(), "audit.jsonl")
	if _, _, err := run(t, "export", "--data", dir, "--from", "3", "--to", "20", "--out", exp); err != nil {
		t.Fatal(err)
	}
	if out, _, err := run(t, "verify", "--export", exp, "--key", keyFile); err != nil || !strings.HasPrefix(out, "ok: export 3..20") {
		t.Fatalf("verify --export: %v %s", err, out)
	}
	if out, _, err := run(t, "prove", "--data", dir, "--seq", "7"); err != nil || !strings.Contains(out, `"seq": 7`) {
		t.Fatalf("prove: %v %s", err, out)
	}
	b, _ := os.ReadFile(exp)
	os.WriteFile(exp, bytes.Replace(b, []byte(`"i":9}`), []byte(`"i":8}`), 1), 0o644)
	_, _, err = run(t, "verify", "--export", exp, "--key", key)
	if !errors.Is(err, ledger.ErrTampered) || !strings.Contains(err.Error(), "seq 9") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("tampered export: %v", err)
	}
}

func TestCommand_UsesRunningService(t *testing.T) {
	dir, l := newLedger(t, 12)
	defer l.Close()
	srv := httptest.NewUnstartedServer(nil) // 127.0.0.1
	token, cleanup, err := PublishAdmin(dir, "http://"+srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	mux := http.NewServeMux()
	mux.Handle("/admin/ledger/", http.StripPrefix("/admin/ledger", RequireToken(token, AdminHandler(l))))
	srv.Config.Handler = mux
	srv.Start()
	defer srv.Close()
	if resp, err := http.Get(srv.URL + "/admin/ledger/head"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("admin endpoint without the token: %v %v, want 401", resp, err)
	}

	out, stderr, err := run(t, "head", "--data", dir)
	if err != nil || !strings.Contains(out, `"size": 12`) || !strings.Contains(stderr, "using the running service at "+srv.URL) {
		t.Fatalf("head: %v %s %s", err, out, stderr)
	}
	if out, _, err := run(t, "verify", "--data", dir); err != nil || !strings.HasPrefix(out, "ok: entries 1..12") {
		t.Fatalf("verify: %v %s", err, out)
	}
	exp := filepath.Join(t.TempDir(), "a.jsonl")
	if _, _, err := run(t, "export", "--data", dir, "--out", exp); err != nil {
		t.Fatal(err)
	}
	if out, _, err := run(t, "verify", "--export", exp, "--key", l.VerifierKey()); err != nil || !strings.HasPrefix(out, "ok: export 1..12") {
		t.Fatalf("verify --export: %v %s", err, out)
	}
	if out, _, err := run(t, "prove", "--data", dir, "--seq", "5", "--size", "10"); err != nil || !strings.Contains(out, `"size": 10`) {
		t.Fatalf("prove: %v %s", err, out)
	}
	if _, _, err := run(t, "prove", "--data", dir, "--seq", "50"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("prove beyond head: %v", err)
	}
	if out, _, err := run(t, "checkpoint", "--data", dir); err != nil || !strings.Contains(out, "\n12\n") {
		t.Fatalf("checkpoint: %v %s", err, out)
	}
}

func TestCheckLoopback(t *testing.T) {
	for url, ok := range map[string]bool{"http://127.0.0.1:8080": true, "http://[::1]:1": true, "http://10.0.0.1:80": false, "https://127.0.0.1:1": false, "http://example.com": false} {
		if err := checkLoopback(url); (err == nil) != ok {
			t.Errorf("checkLoopback(%q) = %v", url, err)
		}
	}
}

// A failed export leaves the previous one whole under its name (a nightly
// backup is not lost to a failing run) and no temporary files behind.
func TestCommand_ExportReplacesOnlyWhenDone(t *testing.T) {
	dir, l := newLedger(t, 10)
	l.Close()
	folder := t.TempDir()
	exp := filepath.Join(folder, "backup.jsonl")
	if _, _, err := run(t, "export", "--data", dir, "--out", exp); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(exp)
	beforeCP, _ := os.ReadFile(exp + ".checkpoint")
	if _, _, err := run(t, "export", "--data", dir, "--to", "99", "--out", exp); err == nil {
		t.Fatal("an export beyond the head succeeded")
	}
	after, _ := os.ReadFile(exp)
	afterCP, _ := os.ReadFile(exp + ".checkpoint")
	if len(before) == 0 || !bytes.Equal(before, after) || !bytes.Equal(beforeCP, afterCP) {
		t.Fatal("the failed export changed the previous one")
	}
	if names, _ := os.ReadDir(folder); len(names) != 2 {
		t.Fatalf("files left: %v, want the export and its checkpoint", names)
	}
}

// An incremental backup: a whole export, then one --after its checkpoint,
// then nothing new; `restore` with both rebuilds the same log.
func TestCommand_IncrementalExportsRestore(t *testing.T) {
	dir, l := newLedger(t, 20)
	key := l.VerifierKey()
	folder := t.TempDir()
	full, inc := filepath.Join(folder, "full.jsonl"), filepath.Join(folder, "inc.jsonl")
	l.Close()
	if _, _, err := run(t, "export", "--data", dir, "--out", full); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(context.Background(), dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 21; i <= 30; i++ {
		if _, err := l.Append(context.Background(), fmt.Appendf(nil, `{"type":"t","i":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	head := l.Head()
	l.Close()
	if _, _, err := run(t, "export", "--data", dir, "--after", full+".checkpoint", "--out", inc); err != nil {
		t.Fatal(err)
	}
	if out, _, err := run(t, "verify", "--export", inc, "--key", key, "--since-checkpoint", full+".checkpoint"); err != nil || !strings.HasPrefix(out, "ok: export 21..30") {
		t.Fatalf("the incremental export: %v %s", err, out)
	}
	if _, stderr, err := run(t, "export", "--data", dir, "--after", inc+".checkpoint", "--out", filepath.Join(folder, "none.jsonl")); err != nil || !strings.Contains(stderr, "nothing after seq 30") {
		t.Fatalf("nothing new: %v %s", err, stderr)
	}
	other, ol := newLedger(t, 3)
	ol.Close()
	otherExp := filepath.Join(t.TempDir(), "o.jsonl")
	if _, _, err := run(t, "export", "--data", other, "--out", otherExp); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "export", "--data", dir, "--after", otherExp+".checkpoint", "--out", inc); err == nil {
		t.Fatal("--after another ledger's checkpoint was accepted")
	}
	restored := t.TempDir()
	out, _, err := run(t, "restore", "--data", restored, "--export", full, "--export", inc, "--key", key)
	if err != nil || !strings.Contains(out, "restored 30 entries from 2 export(s)") {
		t.Fatalf("restore: %v %s", err, out)
	}
	r, err := ledger.Open(context.Background(), restored, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Head().Root != head.Root {
		t.Fatal("the restored root differs from the source's")
	}
}
