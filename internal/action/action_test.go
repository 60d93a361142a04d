package action

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/driver/execdriver"
	"github.com/botwarden/botwarden/internal/driver/httpdriver"
)

const execToken = "exec-tok-123456"

func ksReq(id, target string, op core.Op, level core.Level) core.ActionRequest {
	return core.ActionRequest{Op: op, Target: target, Params: core.Params{Level: string(level)},
		CommandID: id, TraceID: "tr-" + id, Actor: "U123"}
}

func newExecActions(t *testing.T) (*Actions, string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "calls.log")
	sh, _ := filepath.Abs("testdata/push.sh")
	cmd := &execdriver.Command{Argv: []string{sh}, Timeout: 5 * time.Second,
		Env: map[string]string{"LOG": log}, SecretEnv: map[string]string{"EXEC_TOKEN": "KS_TOKEN"}}
	env := map[string]string{"KS_TOKEN": execToken, "PATH": os.Getenv("PATH")}
	a, err := New(Config{KillSwitch: {Exec: cmd}, "secret_rotate": {Exec: cmd}},
		Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	return a, log
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSpace(string(raw)), "\n")
}

func TestActions_ExecPushesEveryKillSwitchChange(t *testing.T) {
	t.Parallel()
	a, log := newExecActions(t)
	ctx := context.Background()
	changes := []core.ActionRequest{
		ksReq("c1", "global", core.OpKillSwitchSet, core.LevelHalt),
		ksReq("c2", "group:majors", core.OpKillSwitchSet, core.LevelReduceOnly),
		ksReq("c3", "global", core.OpKillSwitchRelease, core.LevelOff),
		ksReq("c3", "global", core.OpKillSwitchRelease, core.LevelOff), // repeat: no second push
	}
	for _, r := range changes {
		if err := a.Run(ctx, r); err != nil {
			t.Fatalf("%s: %v", r.CommandID, err)
		}
	}
	got := lines(t, log)
	want := []string{
		"op=killswitch_set target=global level=halt gate= duration= secret_ref= data= cmd=c1 trace=tr-c1 actor=U123 token_len=15",
		"op=killswitch_set target=group:majors level=reduce_only gate= duration= secret_ref= data= cmd=c2 trace=tr-c2 actor=U123 token_len=15",
		"op=killswitch_release target=global level=off gate= duration= secret_ref= data= cmd=c3 trace=tr-c3 actor=U123 token_len=15",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("pushes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestActions_ExecSecretRotateByReference(t *testing.T) {
	t.Parallel()
	a, log := newExecActions(t)
	req := core.ActionRequest{Op: core.OpSecretRotate, Target: "alpha", Params: core.Params{SecretRef: "vault:bots/alpha/exchange"},
		CommandID: "r1", TraceID: "t", Actor: "U9"}
	if err := a.Run(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if got := lines(t, log); len(got) != 1 || !strings.Contains(got[0], "op=secret_rotate target=alpha") ||
		!strings.Contains(got[0], "secret_ref=vault:bots/alpha/exchange") {
		t.Errorf("calls %v", got)
	}
}

func TestActions_Failures(t *testing.T) {
	t.Parallel()
	a, log := newExecActions(t)
	ctx := context.Background()
	err := a.Run(ctx, ksReq("f1", "fail-me", core.OpKillSwitchSet, core.LevelHalt))
	if !errors.Is(err, execdriver.ErrExit) || strings.Contains(err.Error(), execToken) || !strings.Contains(err.Error(), "execution layer said no") {
		t.Fatalf("err %v: want ErrExit with the redacted output", err)
	}
	if rec := a.Diagnostics()[core.OpKillSwitchSet]; rec.CommandID != "f1" || rec.Error == "" || strings.Contains(rec.Error, execToken) {
		t.Errorf("diagnostics %+v", rec)
	}
	// A failed command_id runs again when retried.
	_ = a.Run(ctx, ksReq("f1", "fail-me", core.OpKillSwitchSet, core.LevelHalt))
	if n := len(lines(t, log)); n != 2 {
		t.Errorf("%d runs, want 2 (a failure is retried)", n)
	}
	cases := []struct {
		name string
		req  core.ActionRequest
		want error
	}{
		{"not configured", core.ActionRequest{Op: core.OpDataOp, Target: "alpha", CommandID: "d1", Params: core.Params{DataAction: "delete"}}, ErrNotConfigured},
		{"bad level", ksReq("b1", "global", core.OpKillSwitchSet, "loose"), ErrInvalid},
		{"no command id", ksReq("", "global", core.OpKillSwitchSet, core.LevelHalt), ErrInvalid},
	}
	for _, tc := range cases {
		if err := a.Run(ctx, tc.req); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if a.Configured(core.OpDataOp) || !a.Configured(core.OpKillSwitchRelease) {
		t.Error("Configured disagrees with the config")
	}
}

// hook is a test execution layer behind an HTTP action.
type hook struct {
	mu      sync.Mutex
	bodies  []Request
	keys    []string
	effects map[string]int
	fail    int // answer 503 this many times first
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	err := httpdriver.Verify("hook-secret", r.Header.Get(httpdriver.HeaderTimestamp), body,
		r.Header.Get(httpdriver.HeaderSignature), time.Now(), httpdriver.DefaultMaxSkew)
	if err != nil {
		http.Error(w, "bad signature", 401)
		return
	}
	var req Request
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bodies = append(h.bodies, req)
	h.keys = append(h.keys, r.Header.Get(httpdriver.HeaderIdempotencyKey))
	if h.fail > 0 {
		h.fail--
		http.Error(w, "try later", 503)
		return
	}
	h.effects[req.CommandID]++
}

func TestActions_HTTP(t *testing.T) {
	t.Parallel()
	h := &hook{effects: map[string]int{}, fail: 1}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	env := map[string]string{"HOOK_SECRET": "hook-secret"}
	cfg, err := ConfigFromMap(map[string]any{
		"killswitch":         map[string]any{"http": map[string]any{"url": srv.URL + "/ks", "secret_env": "HOOK_SECRET"}},
		"monitoring_disable": map[string]any{"http": map[string]any{"url": srv.URL + "/mon", "secret_env": "HOOK_SECRET"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, Options{Getenv: func(k string) string { return env[k] },
		HTTP: httpdriver.Options{Client: srv.Client(), Sleep: func(context.Context, time.Duration) error { return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Run(ctx, ksReq("k1", "alpha", core.OpKillSwitchSet, core.LevelHalt)); err != nil {
		t.Fatal(err)
	}
	mon := core.ActionRequest{Op: core.OpMonitoringDisable, Target: "group:alts", Params: core.Params{Duration: "30m"}, CommandID: "m1", TraceID: "t", Actor: "U1"}
	if err := a.Run(ctx, mon); err != nil {
		t.Fatal(err)
	}
	if len(h.bodies) != 3 || h.keys[0] != "k1" || h.keys[1] != "k1" || h.effects["k1"] != 1 {
		t.Fatalf("bodies %+v keys %v effects %v: want a retried push with the same key, applied once", h.bodies, h.keys, h.effects)
	}
	want := Request{Op: core.OpKillSwitchSet, Target: "alpha", Level: "halt", CommandID: "k1", TraceID: "tr-k1", Actor: "U123"}
	if h.bodies[1] != want {
		t.Errorf("push body %+v, want %+v", h.bodies[1], want)
	}
	if b := h.bodies[2]; b.Op != core.OpMonitoringDisable || b.Duration != "30m" || b.Target != "group:alts" {
		t.Errorf("monitoring body %+v", b)
	}
}

func TestConfigFromMap(t *testing.T) {
	t.Parallel()
	execSpec := map[string]any{"exec": map[string]any{"argv": []any{"/usr/bin/ks-push"}}}
	cases := []struct {
		name    string
		in      map[string]any
		wantErr bool
	}{
		{"exec", map[string]any{"killswitch": execSpec, "data_op": execSpec}, false},
		{"unknown action", map[string]any{"start": execSpec}, true},
		{"both shapes", map[string]any{"killswitch": map[string]any{"exec": execSpec["exec"], "http": map[string]any{"url": "http://x"}}}, true},
		{"no shape", map[string]any{"killswitch": map[string]any{}}, true},
		{"http without url", map[string]any{"killswitch": map[string]any{"http": map[string]any{"secret_env": "X"}}}, true},
		{"empty argv", map[string]any{"killswitch": map[string]any{"exec": map[string]any{"argv": []any{}}}}, true},
		{"unknown key", map[string]any{"killswitch": map[string]any{"shell": "sh -c"}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := ConfigFromMap(tc.in); (err != nil) != tc.wantErr {
				t.Errorf("err %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
	if _, err := New(Config{KillSwitch: {HTTP: &httpdriver.Config{URL: "http://127.0.0.1:1", SecretEnv: "UNSET"}}},
		Options{Getenv: func(string) string { return "" }}); err == nil {
		t.Error("New accepted an HTTP action without a secret")
	}
}
