package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/policy"
	"github.com/botwarden/botwarden/ledger"
	"github.com/botwarden/botwarden/ledger/ledgercli"
)

// startServe runs serve on the demo config in dir with ephemeral loopback
// ports and returns the HTTP address and a stop function that waits for a
// clean shutdown.
func startServe(t *testing.T, dir string, getenv func(string) string) (string, func()) {
	t.Helper()
	s, stop := startServeWith(t, dir, getenv, nil)
	return s.http, stop
}

// served is where a test's service listens.
type served struct {
	http       string // host:port of the main listener
	playground string // the playground's URL, when it runs
}

// startServeWith is startServe with a chance to change the demo config.
func startServeWith(t *testing.T, dir string, getenv func(string) string, edit func(*Config)) (served, func()) {
	t.Helper()
	cfg, err := loadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = dir
	cfg.Listen.HTTP, cfg.Listen.Admin, cfg.Listen.Playground = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if edit != nil {
		edit(cfg)
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan served, 1)
	errc := make(chan error, 1)
	var s served
	go func() {
		errc <- serve(ctx, cfg, serveEnv{
			getenv: getenv, out: io.Discard, logOut: io.Discard,
			playground: func(u string) { s.playground = u }, // called before started
			started:    func(httpAddr, _ string) { s.http = httpAddr; addrs <- s },
		})
	}()
	select {
	case s := <-addrs:
		return s, func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	case err := <-errc:
		cancel()
		t.Fatalf("serve did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start within 30s")
	}
	return served{}, nil
}

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, v
}

func TestServe_DemoStartsHealthyAndStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	addr, stop := startServe(t, dir, nil)

	_, demoPolicy := policy.Demo().Canonical()
	sum := sha256.Sum256(demoConfig)
	if code, v := getJSON(t, "http://"+addr+"/healthz"); code != 200 || v["environment"] != "dev" ||
		v["policy_digest"] != demoPolicy || v["config_digest"] != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Fatalf("healthz = %d %v", code, v)
	}
	if code, v := getJSON(t, "http://"+addr+"/readyz"); code != 200 || v["ready"] != true {
		t.Fatalf("readyz = %d %v", code, v)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{`botwarden_bots{state="IDLE"} 3`, "botwarden_ledger_append_seconds", "botwarden_ledger_size"} {
		if !strings.Contains(string(body), m) {
			t.Errorf("metrics lack %q", m)
		}
	}
	base, token, err := ledgercli.ReadAdmin(dir)
	if err != nil || !strings.HasPrefix(base, "http://127.0.0.1:") || len(token) < 32 {
		t.Fatalf("admin endpoint discovery = %q, %d-byte token, %v", base, len(token), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, ledgercli.AdminTokenFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token: %v, %v; want mode 0600", fi, err)
	}
	// Loopback is no boundary between a host's users: without the token
	// from the data folder, the admin endpoint (which mints API tokens)
	// answers nothing.
	for _, path := range []string{"/admin/ledger/head", "/admin/tokens"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without the admin token = %d, want 401", path, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/admin/ledger/head", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/ledger/head with the admin token: %v %v", resp, err)
	}
	stop()

	for _, f := range []string{ledgercli.AdminURLFile, ledgercli.AdminTokenFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s left behind after shutdown: %v", f, err)
		}
	}
	// The ledger was closed cleanly: it opens, and every entry verifies.
	l, err := ledger.Open(context.Background(), dir, ledger.Options{})
	if err != nil {
		t.Fatalf("reopen ledger: %v", err)
	}
	defer l.Close()
	rep, err := l.Verify(context.Background(), 1, l.Head().Size)
	if err != nil {
		t.Fatalf("verify after shutdown: %v", err)
	}
	if l.Head().Size == 0 {
		t.Fatalf("ledger is empty after a run: the bots' initialisation was not audited (%+v)", rep)
	}
}

func TestServe_RestartKeepsLedgerAndState(t *testing.T) {
	dir := t.TempDir()
	_, stop := startServe(t, dir, nil)
	stop()
	l, err := ledger.Open(context.Background(), dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	first := l.Head().Size
	l.Close()

	addr, stop := startServe(t, dir, nil)
	defer stop()
	if code, v := getJSON(t, "http://"+addr+"/readyz"); code != 200 || v["ledger_size"].(float64) < float64(first) {
		t.Fatalf("after restart readyz = %d %v, want ledger_size >= %d", code, v, first)
	}
}

func TestServe_RefusesBadConfig(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"no environment", "policy_file: p.yaml\nbots: [{id: a, driver: sim}]\n", "environment is required"},
		{"unknown key", "environment: dev\npolicy_file: p\nbots: [{id: a, driver: sim}]\nlisten: {htp: x}\n", "field htp not found"},
		{"admin not loopback", "environment: dev\npolicy_file: p\nbots: [{id: a, driver: sim}]\nlisten: {admin: '0.0.0.0:9'}\n", "loopback"},
		{"duplicate bot", "environment: dev\npolicy_file: p\nbots: [{id: a, driver: sim}, {id: a, driver: sim}]\n", "duplicate id"},
		{"bad driver", "environment: dev\npolicy_file: p\nbots: [{id: a, driver: ssh}]\n", "driver \"ssh\""},
		{"demo feed in prod", "environment: prod\npolicy_file: p\nbots: [{id: a, driver: sim}]\ndemo: {safety_feed: true}\n", "must not be enabled in prod"},
		{"bad duration", "environment: dev\npolicy_file: p\nbots: [{id: a, driver: sim}]\nstop_timeout: soon\n", "not a duration"},
		{"negative api rate", "environment: dev\npolicy_file: p\nbots: [{id: a, driver: sim}]\napi: {rate_per_actor: -1}\n", "must not be negative"},
		{"negative api streams", "environment: dev\npolicy_file: p\nbots: [{id: a, driver: sim}]\napi: {max_streams: -1}\n", "must not be negative"},
		{"negative reserve", "environment: dev\npolicy_file: p\nbots: [{id: a, driver: sim}]\nledger_reserve_mb: -10\n", "ledger_reserve_mb -10 must not be negative"},
		{"negative stop timeout", "environment: dev\npolicy_file: p\nbots: [{id: a, driver: sim}]\nstop_timeout: -5s\n", "want at least 1s"},
		{"tiny stop timeout", "environment: dev\npolicy_file: p\nbots: [{id: a, driver: sim}]\nstop_timeout: 1ns\n", "want at least 1s"},
		{"negative bundle keep", "environment: dev\npolicy_file: p\nbots: [{id: a, driver: sim}]\nbundles: {keep: -1}\n", "must not be negative"},
		{"negative bundle age", "environment: dev\npolicy_file: p\nbots: [{id: a, driver: sim}]\nbundles: {max_age: -1h}\n", "must not be negative"},
		{"bad log level", "environment: dev\npolicy_file: p\nbots: [{id: a, driver: sim}]\nlog_level: verbose\n", "log_level \"verbose\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parseConfig = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestNewLogger_Level: at the default info level the ledger's per-
// checkpoint debug line is dropped and warnings still go out; at debug
// both do.
func TestNewLogger_Level(t *testing.T) {
	for _, tc := range []struct {
		level string
		debug bool
	}{{"info", false}, {"debug", true}, {"warn", false}} {
		var out, ring bytes.Buffer
		l := newLogger(&out, &ring, "dev", tc.level)
		l.Debug().Msg("ledger checkpoint signed")
		l.Warn().Msg("driver slow")
		for name, b := range map[string]*bytes.Buffer{"output": &out, "ring": &ring} {
			if got := strings.Contains(b.String(), "checkpoint signed"); got != tc.debug {
				t.Errorf("%s at %s: debug line written = %v", name, tc.level, got)
			}
			if !strings.Contains(b.String(), "driver slow") {
				t.Errorf("%s at %s: the warning was dropped", name, tc.level)
			}
		}
	}
	cfg, err := parseConfig([]byte("environment: dev\npolicy_file: p\nbots: [{id: a, driver: sim}]\n"))
	if err != nil || cfg.LogLevel != "info" {
		t.Fatalf("default log_level = %q, %v", cfg.LogLevel, err)
	}
}

// The playground lets anyone on the host act as any actor: it runs in dev
// only, never in stage or prod, even without Slack credentials.
func TestServe_PlaygroundOnlyInDev(t *testing.T) {
	s, stop := startServeWith(t, t.TempDir(), nil, func(c *Config) { c.Environment = "stage" })
	defer stop()
	if s.playground != "" {
		t.Fatalf("a stage service without Slack credentials started the playground at %s", s.playground)
	}
	if code, _ := getJSON(t, "http://"+s.http+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz %d", code)
	}
	d, stopDev := startServeWith(t, t.TempDir(), nil, nil)
	defer stopDev()
	if d.playground == "" {
		t.Fatal("the dev demo started no playground")
	}
}
