package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runCLI runs the botwarden command tree in-process and returns its
// stdout and exit code (0, the ctl exit codes, or 1 for any other error).
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	var ex *exitCodeError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ex):
		return out.String(), ex.code
	}
	return out.String() + errb.String() + err.Error(), 1
}

var tokenRE = regexp.MustCompile(`bw_[A-Za-z0-9_-]{20,}`)

// createToken makes a token for actor in dir (the service is not running:
// the CLI opens the data folder directly) and returns it.
func createToken(t *testing.T, dir, actor string) string {
	t.Helper()
	out, code := runCLI(t, "token", "create", "--actor", actor, "--data", dir)
	tok := tokenRE.FindString(out)
	if code != 0 || tok == "" {
		t.Fatalf("token create for %s: code %d, output %q", actor, code, out)
	}
	return tok
}

// TestCtl_DangerousFlowAndBundle drives the real service through the
// ctl client end to end: a paper start applies, a live start only issues
// a challenge (exit 3), the requester cannot confirm it, a wrong typed
// target confirms nothing, the approver confirms, and `bundle create`
// produces a bundle through the same authorised, audited path.
func TestCtl_DangerousFlowAndBundle(t *testing.T) {
	dir := t.TempDir()
	op := createToken(t, dir, "U0OPERATOR")
	appr := createToken(t, dir, "U0APPROVER")
	viewer := createToken(t, dir, "U0VIEWER")
	addr, stop := startServe(t, dir, nil)
	defer stop()
	url := "http://" + addr
	ctl := func(tok string, args ...string) (string, int) {
		return runCLI(t, append([]string{"ctl", "--url", url, "--token", tok}, args...)...)
	}

	if out, code := ctl(viewer, "stop", "beta"); code != exitDenied {
		t.Fatalf("viewer stop: code %d (%s), want %d", code, out, exitDenied)
	}
	if out, code := ctl(op, "start", "beta", "--mode", "paper", "--reason", "warm up"); code != 0 || !strings.Contains(out, "RUNNING_PAPER") {
		t.Fatalf("paper start: code %d, output %q", code, out)
	}
	out, code := ctl(op, "--output", "json", "start", "alpha", "--mode", "live", "--reason", "open")
	if code != exitPending {
		t.Fatalf("live start: code %d (%s), want a pending challenge (%d)", code, out, exitPending)
	}
	ch := regexp.MustCompile(`"challenge_id":\s*"([^"]+)"`).FindStringSubmatch(out)
	if ch == nil {
		t.Fatalf("no challenge id in %s", out)
	}
	if out, code := ctl(op, "confirm", ch[1], "--target", "alpha", "--reason", "me"); code != exitDenied {
		t.Fatalf("requester confirm: code %d (%s), want denied", code, out)
	}
	if out, code := ctl(appr, "confirm", ch[1], "--target", "alpah", "--reason", "typo"); code != exitDenied {
		t.Fatalf("mistyped confirm: code %d (%s), want denied", code, out)
	}
	if out, code := ctl(appr, "confirm", ch[1], "--target", "alpha", "--reason", "approved"); code != 0 || !strings.Contains(out, "RUNNING_LIVE") {
		t.Fatalf("approver confirm: code %d, output %q", code, out)
	}

	// The bundle is downloaded through the API, as Slack uploads it.
	got := filepath.Join(t.TempDir(), "beta.tar.gz")
	out, code = runCLI(t, "bundle", "create", "beta", "--url", url, "--token", op, "--reason", "diagnose", "--id", "ctl-bundle-1", "--out", got)
	if code != 0 {
		t.Fatalf("bundle create: code %d, output %q", code, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "bundles", "*.tar.gz"))
	if len(files) != 1 {
		t.Fatalf("bundles on disk = %v, want one", files)
	}
	if out, code := runCLI(t, "bundle", "inspect", got); code != 0 {
		t.Fatalf("bundle inspect of the download: code %d, output %q", code, out)
	}
	again := filepath.Join(t.TempDir(), "again.tar.gz")
	if out, code := ctl(op, "bundle-fetch", "ctl-bundle-1", "--out", again); code != 0 || !strings.Contains(out, "as the ledger recorded it") {
		t.Fatalf("bundle-fetch: code %d, output %q", code, out)
	}
	a, _ := os.ReadFile(got)
	b, _ := os.ReadFile(again)
	if disk, _ := os.ReadFile(files[0]); len(a) == 0 || !bytes.Equal(a, disk) || !bytes.Equal(b, disk) {
		t.Fatal("the downloaded bundles differ from the file the service built")
	}
	if out, code := ctl(viewer, "bundle-fetch", "ctl-bundle-1", "--out", filepath.Join(t.TempDir(), "x")); code == 0 {
		t.Fatalf("a viewer fetched a bundle: %q", out)
	}
}

// TestServe_LedgerUnavailable proves audit-first end to end: with the
// ledger unable to append (its free-space reserve is larger than the
// disk), /readyz is false, a start is refused with ledger_unavailable, and
// a quarantine — safety-increasing — still runs.
func TestServe_LedgerUnavailable(t *testing.T) {
	dir := t.TempDir()
	op := createToken(t, dir, "U0OPERATOR")
	// While the ledger still works: initialise the bots and start beta.
	addr, stop := startServe(t, dir, nil)
	if out, code := runCLI(t, "ctl", "--url", "http://"+addr, "--token", op, "start", "beta", "--mode", "paper"); code != 0 {
		t.Fatalf("paper start: code %d, output %q", code, out)
	}
	stop()
	s, stop := startServeWith(t, dir, nil, func(c *Config) { c.LedgerReserveMB = 1 << 30 })
	defer stop()
	url := "http://" + s.http

	if code, v := getJSON(t, url+"/readyz"); code != 503 || v["ready"] != false {
		t.Fatalf("readyz with a full ledger disk = %d %v, want 503 not ready", code, v)
	}
	ctl := func(args ...string) (string, int) {
		return runCLI(t, append([]string{"ctl", "--url", url, "--token", op}, args...)...)
	}
	out, code := ctl("start", "alpha", "--mode", "paper")
	if code != exitDenied || !strings.Contains(out, "ledger_unavailable") {
		t.Fatalf("start without a ledger: code %d, output %q; want denied ledger_unavailable", code, out)
	}
	// beta's simulated process died with the first service, so
	// reconciliation puts it in ERROR (within a tick, about a second);
	// quarantine isolates it all the same. ctl names the transition it
	// sees, so it must see ERROR, or the engine refuses a stale FROM.
	waitBotState(t, url, op, "beta", "ERROR")
	if out, code := ctl("quarantine", "beta", "--reason", "disk full"); code != 0 || !strings.Contains(out, "QUARANTINED") {
		t.Fatalf("quarantine without a ledger: code %d, output %q; want it to run, unaudited", code, out)
	}
}

// waitBotState polls GET /v1/bots/{bot} until it reports state.
func waitBotState(t *testing.T, url, token, bot, state string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodGet, url+"/v1/bots/"+bot, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ State string }
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err == nil && v.State == state {
			return
		}
		last = v.State
	}
	t.Fatalf("%s is %s, want %s", bot, last, state)
}

// The config's api block sets the per-actor rate limit the service uses.
func TestServe_APIRateLimitFromConfig(t *testing.T) {
	dir := t.TempDir()
	op := createToken(t, dir, "U0OPERATOR")
	s, stop := startServeWith(t, dir, nil, func(c *Config) { c.API = APIConfig{RatePerActor: 0.01, Burst: 2} })
	defer stop()
	codes := make([]int, 3)
	for i := range codes {
		req, err := http.NewRequest(http.MethodGet, "http://"+s.http+"/v1/me", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+op)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[i] = resp.StatusCode
		if i == 2 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != http.StatusTooManyRequests {
		t.Fatalf("status codes %v, want 200 200 429 with burst 2", codes)
	}
}
