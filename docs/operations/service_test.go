package operations

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testVersion is what the test binary is stamped with, the way the
// Makefile and the Dockerfile stamp releases (-X main.version=…).
const testVersion = "opstest"

var (
	tmpOnce sync.Once
	tmpRoot string

	binOnce sync.Once
	binPath string
	binErr  error

	svcOnce sync.Once
	svcRun  *serviceRun
	svcErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if tmpRoot != "" {
		os.RemoveAll(tmpRoot)
	}
	os.Exit(code)
}

// scratch is a folder shared by the tests of this run (the binary is
// built once), removed by TestMain.
func scratch(t testing.TB) string {
	tmpOnce.Do(func() { tmpRoot, _ = os.MkdirTemp("", "botwarden-ops-") })
	if tmpRoot == "" {
		t.Fatal("cannot create a temporary folder")
	}
	return tmpRoot
}

// binary builds cmd/botwarden once per test run. It builds with -race when
// the test itself does, so `make test` reuses the packages `go test -race`
// already compiled instead of building the whole tree a second time.
func binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binPath = filepath.Join(scratch(t), "botwarden")
		args := []string{"build", "-ldflags", "-X main.version=" + testVersion, "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool(), append(args, "./cmd/botwarden")...)
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/botwarden: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// serviceRun is what one real run of `botwarden serve` exposed.
type serviceRun struct {
	metrics map[string]bool // sample names on /metrics (histograms: _bucket, _sum, _count)
	health  map[string]any  // /healthz
	exit    error           // how serve ended on SIGTERM
	last    []byte          // the last ledger entry after the stop (export line)
}

// service starts the real service once, drives one dangerous command
// through its Slack endpoint so the per-command series exist, scrapes
// /metrics and stops it with SIGTERM.
func service(t *testing.T) *serviceRun {
	t.Helper()
	svcOnce.Do(func() {
		bin := binary(t)
		svcRun, svcErr = runService(bin, scratch(t))
	})
	if svcErr != nil {
		t.Fatal(svcErr)
	}
	return svcRun
}

const signingSecret = "opstest-signing-secret"

func runService(bin, root string) (*serviceRun, error) {
	dir, err := os.MkdirTemp(root, "serve-")
	if err != nil {
		return nil, err
	}
	slack := fakeSlack()
	defer slack.Close()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(serviceConfig(port)), 0o600); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", cfg, "--data", filepath.Join(dir, "data"))
	cmd.Env = append(cleanEnv(), "SLACK_SIGNING_SECRET="+signingSecret, "SLACK_BOT_TOKEN=xoxb-opstest",
		"SLACK_API_URL="+slack.URL+"/api/")
	logs, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return nil, err
	}
	defer logs.Close()
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.Cancel = func() error { return cmd.Process.Kill() }
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	run, err := drive(ctx, base, slack.URL)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	exit := cmd.Wait()
	if err != nil {
		tail, _ := os.ReadFile(logs.Name())
		return nil, fmt.Errorf("%w\nserve output:\n%s", err, lastLines(string(tail), 40))
	}
	run.exit = exit
	exp := filepath.Join(dir, "ledger.jsonl")
	if out, err := exec.Command(bin, "ledger", "export", "--data", filepath.Join(dir, "data"), "--out", exp).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ledger export after the stop: %v\n%s", err, out)
	}
	b, err := os.ReadFile(exp)
	if err != nil {
		return nil, err
	}
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if bytes.Contains(line, []byte(`"event":`)) { // not the export's trailer
			run.last = line
		}
	}
	return run, nil
}

// drive waits for the service, issues a live start (a challenge), and
// scrapes once the series it causes are there.
func drive(ctx context.Context, base, slackURL string) (*serviceRun, error) {
	run := &serviceRun{}
	if err := poll(ctx, "GET /healthz", func() (bool, error) {
		return getJSON(base+"/healthz", &run.health)
	}); err != nil {
		return nil, err
	}
	// The demo feed publishes NORMAL and PASS gates; a start before it is denied.
	if err := waitMetric(ctx, base, `botwarden_safety_mode{mode="NORMAL"} 1`); err != nil {
		return nil, err
	}
	if err := slashCommand(base, slackURL, "start alpha --mode live --reason opstest"); err != nil {
		return nil, err
	}
	// An API request without a token: refused (401), and counted.
	if resp, err := http.Get(base + "/v1/me"); err != nil {
		return nil, err
	} else if resp.Body.Close(); resp.StatusCode != http.StatusUnauthorized {
		return nil, fmt.Errorf("GET /v1/me without a token: %s, want 401", resp.Status)
	}
	if err := waitMetric(ctx, base, "botwarden_challenge_expiry_timestamp_seconds{", "botwarden_commands_total{", "botwarden_api_requests_total{",
		"botwarden_slack_api_calls_total{", "botwarden_slack_requests_total{"); err != nil {
		return nil, err
	}
	body, err := get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	run.metrics = sampleNames(body)
	return run, nil
}

func serviceConfig(port int) string {
	return fmt.Sprintf(`environment: dev
listen:
  http: 127.0.0.1:%d
  admin: 127.0.0.1:0
policy_file: embedded:demo
stop_timeout: 5s
runbook_base_url: %s
bots:
  - id: alpha
    group: majors
    driver: sim
  - id: beta
    group: majors
    driver: sim
slack:
  audit_channel: C0AUDIT
  approvers_channel: C0APPROVERS
demo:
  safety_feed: true
`, port, runbookBaseURL)
}

// cleanEnv is the test's environment without anything that could point
// the service at a real Slack or hand it real secrets.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SLACK_") && !strings.HasPrefix(kv, "BOTWARDEN_") {
			out = append(out, kv)
		}
	}
	return out
}

// fakeSlack answers every Web API call and response_url post with ok.
func fakeSlack() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"channel":"C0AUDIT","ts":"1700000000.000100"}`)
	}))
}

// slashCommand posts a slash command signed the way Slack signs it
// (v0 HMAC-SHA256 of "v0:timestamp:body").
func slashCommand(base, slackURL, text string) error {
	form := url.Values{"command": {"/warden"}, "text": {text}, "user_id": {"U0OPERATOR"}, "user_name": {"operator"},
		"channel_id": {"C0OPS"}, "team_id": {"T0OPS"}, "response_url": {slackURL + "/respond"}, "trigger_id": {"1.2.3"}}
	body := form.Encode()
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(signingSecret))
	mac.Write([]byte("v0:" + ts + ":" + body))
	req, err := http.NewRequest(http.MethodPost, base+"/slack/commands", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", ts)
	req.Header.Set("X-Slack-Signature", "v0="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("slash command: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("slash command: %s: %s", resp.Status, b)
	}
	return nil
}

func waitMetric(ctx context.Context, base string, prefixes ...string) error {
	return poll(ctx, "metrics "+strings.Join(prefixes, ", "), func() (bool, error) {
		body, err := get(base + "/metrics")
		if err != nil {
			return false, nil
		}
		for _, p := range prefixes {
			if !strings.Contains("\n"+body, "\n"+p) {
				return false, nil
			}
		}
		return true, nil
	})
}

// poll calls f every 100ms until it reports done, fails, or ctx ends.
func poll(ctx context.Context, what string, f func() (bool, error)) error {
	for {
		done, err := f()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: gave up waiting: %w", what, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func get(u string) (string, error) {
	resp, err := http.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return string(b), err
}

func getJSON(u string, v any) (bool, error) {
	body, err := get(u)
	if err != nil {
		return false, nil // not up yet
	}
	return true, json.Unmarshal([]byte(body), v)
}

// sampleNames returns the metric name of every sample line of a text
// exposition.
func sampleNames(body string) map[string]bool {
	names := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// kitExprs is every PromQL expression of the alerts and the dashboard,
// with where it comes from.
func kitExprs(t *testing.T) map[string]string {
	exprs := map[string]string{}
	for _, a := range loadAlerts(t) {
		exprs[a.Expr] = "alert " + a.Name
	}
	for expr, where := range dashboardExprs(t) {
		exprs[expr] = where
	}
	return exprs
}

func TestService_ExposesEveryMetricTheKitUses(t *testing.T) {
	run := service(t)
	checked := 0
	for expr, where := range kitExprs(t) {
		for _, name := range metricNames(expr) {
			checked++
			if !run.metrics[name] {
				t.Errorf("%s uses %s, which the running service does not expose", where, name)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d metric references found in the kit: the extraction is broken", checked)
	}
}

func TestService_StampedVersionAndCleanStop(t *testing.T) {
	run := service(t)
	if v, _ := run.health["version"].(string); !strings.HasPrefix(v, "botwarden "+testVersion) {
		t.Errorf("/healthz version = %q: -X main.version (Makefile, Dockerfile) no longer stamps it", v)
	}
	if run.exit != nil {
		var ee *exec.ExitError
		if errors.As(run.exit, &ee) {
			t.Errorf("serve did not exit cleanly on SIGTERM (systemd's and docker's stop signal): %v", run.exit)
		} else {
			t.Errorf("serve: %v", run.exit)
		}
	}
	// A clean stop is recorded last, with the version that stopped, so the
	// next start reads this run as ended cleanly.
	var e struct {
		Event struct {
			Type    string `json:"event_type"`
			Service struct {
				Version string `json:"version"`
			} `json:"service"`
		} `json:"event"`
	}
	if err := json.Unmarshal(run.last, &e); err != nil || e.Event.Type != "controlplane.stopped" ||
		!strings.HasPrefix(e.Event.Service.Version, "botwarden "+testVersion) {
		t.Errorf("last ledger entry after SIGTERM: %s (%v), want controlplane.stopped by this version", run.last, err)
	}
}
