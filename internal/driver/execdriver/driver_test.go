package execdriver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

const exchangeKey = "ex-KEY-9f8e7d6c5b4a"

func script(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newBot returns a driver with one bot "alpha" controlled by bot.sh, its
// secret resolved from a fake environment, and the bot's state folder.
func newBot(t *testing.T, edit func(*Config)) (*Driver, string) {
	t.Helper()
	dir := t.TempDir()
	sh := script(t, "bot.sh")
	cfg := Config{
		Start: []string{sh, "start-arg"}, Stop: []string{sh}, Pause: []string{sh}, Resume: []string{sh},
		Apply: []string{sh}, Status: []string{sh},
		Env:       map[string]string{"STATE_DIR": dir},
		SecretEnv: map[string]string{"EXCHANGE_KEY": "ALPHA_EXCHANGE_KEY"},
		Timeout:   10 * time.Second,
	}
	if edit != nil {
		edit(&cfg)
	}
	env := map[string]string{"ALPHA_EXCHANGE_KEY": exchangeKey, "PATH": os.Getenv("PATH")}
	d := New(Options{Getenv: func(k string) string { return env[k] }})
	if err := d.Add("alpha", cfg); err != nil {
		t.Fatal(err)
	}
	return d, dir
}

func meta(id string) core.BotMeta {
	return core.BotMeta{Bot: "alpha", CommandID: id, TraceID: "tr-" + id, RunID: "run-3"}
}

func calls(t *testing.T, dir string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "calls.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(raw)), "\n")
}

func status(t *testing.T, d *Driver) core.BotStatus {
	t.Helper()
	s, err := d.Status(context.Background(), "alpha")
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	s.Detail = ""
	return s
}

func TestDriver_Lifecycle(t *testing.T) {
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-must-not-reach-the-bot")
	d, dir := newBot(t, nil)
	ctx := context.Background()
	steps := []struct {
		name string
		call func() error
		want core.BotStatus
	}{
		{"start live", func() error { return d.Start(ctx, meta("c1"), lifecycle.Live) }, core.BotStatus{Alive: true, Mode: lifecycle.Live}},
		{"pause", func() error { return d.Pause(ctx, meta("c2")) }, core.BotStatus{Alive: true, Paused: true, Mode: lifecycle.Live}},
		{"resume paper", func() error { return d.Resume(ctx, meta("c3"), lifecycle.Paper) }, core.BotStatus{Alive: true, Mode: lifecycle.Paper}},
		{"apply", func() error { return d.Apply(ctx, meta("c4"), "cfg@v9") }, core.BotStatus{Alive: true, Mode: lifecycle.Paper}},
		{"stop", func() error { return d.Stop(ctx, meta("c5")) }, core.BotStatus{Stopped: true}},
	}
	for _, st := range steps {
		if err := st.call(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := status(t, d); got != st.want {
			t.Fatalf("%s: status %+v, want %+v", st.name, got, st.want)
		}
	}
	log := calls(t, dir)
	want := "op=start mode=live bot=alpha cmd=c1 trace=tr-c1 run=run-3 cfg= argv=start-arg key_len=19 slack=unset"
	if log[0] != want {
		t.Errorf("first call\n got %s\nwant %s", log[0], want)
	}
	if !strings.Contains(strings.Join(log, "\n"), "op=config_apply mode= bot=alpha cmd=c4 trace=tr-c4 run=run-3 cfg=cfg@v9") {
		t.Errorf("apply call missing from log:\n%s", strings.Join(log, "\n"))
	}
	for _, l := range log {
		if strings.Contains(l, exchangeKey) || !strings.Contains(l, "key_len=19") {
			t.Errorf("secret not passed (only) through the environment: %s", l)
		}
	}
}

func TestDriver_SameCommandIDRunsOnce(t *testing.T) {
	t.Parallel()
	d, dir := newBot(t, nil)
	for range 3 {
		if err := d.Start(context.Background(), meta("c1"), lifecycle.Paper); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(calls(t, dir)); n != 1 {
		t.Errorf("start ran %d times for one command_id, want 1", n)
	}
	if err := d.Stop(context.Background(), meta("c1")); err == nil {
		t.Error("stop reusing start's command_id succeeded")
	}
}

func TestDriver_FailedCommand(t *testing.T) {
	t.Parallel()
	d, dir := newBot(t, func(c *Config) { c.Start = []string{script(t, "fail.sh")} })
	err := d.Start(context.Background(), meta("c1"), lifecycle.Paper)
	if !errors.Is(err, ErrExit) || !strings.Contains(err.Error(), "exit status 7") {
		t.Fatalf("err %v, want ErrExit with exit status 7", err)
	}
	msg := err.Error()
	for _, leak := range []string{exchangeKey, "hunter2", "abcdefghijklmnop"} {
		if strings.Contains(msg, leak) {
			t.Errorf("error leaks %q", leak)
		}
	}
	if !strings.Contains(msg, "giving up") || strings.Contains(msg, "noise line 0\n") {
		t.Errorf("error should end with the output's tail: %s", msg)
	}
	diag, err := d.Diagnostics("alpha")
	if err != nil {
		t.Fatal(err)
	}
	r := diag[core.OpStart]
	if r.ExitCode != 7 || len(r.Output) > TailBytes+len("…") || r.CommandID != "c1" {
		t.Errorf("diagnostics %+v: want exit 7, output at most %d bytes", r, TailBytes)
	}
	if strings.Contains(r.Output, exchangeKey) || !strings.Contains(r.Output, "password=[REDACTED]") {
		t.Errorf("diagnostics output not redacted: %q", r.Output)
	}
	if _, err := os.Stat(filepath.Join(dir, "calls.log")); err == nil {
		t.Error("bot.sh ran although start is fail.sh")
	}
	// A failed command_id may be retried: it runs again.
	if err := d.Start(context.Background(), meta("c1"), lifecycle.Paper); !errors.Is(err, ErrExit) {
		t.Errorf("retry: %v, want the command run (and fail) again", err)
	}
}

func TestDriver_TimeoutKillsProcessGroup(t *testing.T) {
	t.Parallel()
	d, _ := newBot(t, func(c *Config) {
		c.Start = []string{script(t, "slow.sh")}
		c.Timeout = 300 * time.Millisecond
	})
	start := time.Now()
	err := d.Start(context.Background(), meta("c1"), lifecycle.Paper)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err %v, want ErrTimeout", err)
	}
	// The background child holds stdout: without the group kill Run would
	// wait for it (or for WaitDelay).
	if el := time.Since(start); el > 1500*time.Millisecond {
		t.Errorf("returned after %s with a 300ms timeout", el)
	}
}

func TestDriver_RefusesSecretInArgv(t *testing.T) {
	t.Parallel()
	d, dir := newBot(t, func(c *Config) { c.Start = []string{script(t, "bot.sh"), "--key=" + exchangeKey} })
	err := d.Start(context.Background(), meta("c1"), lifecycle.Paper)
	if !errors.Is(err, ErrSecretInArgv) || strings.Contains(err.Error(), exchangeKey) {
		t.Fatalf("err %v, want ErrSecretInArgv without the value", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "calls.log")); err == nil {
		t.Error("the command ran")
	}
	diag, _ := d.Diagnostics("alpha")
	if r := diag[core.OpStart]; r.Argv != nil {
		t.Errorf("diagnostics keep the offending argv: %v", r.Argv)
	}
}

func TestDriver_SecretSources(t *testing.T) {
	t.Parallel()
	secretFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(secretFile, []byte(exchangeKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		edit    func(*Config)
		wantErr error
	}{
		{"from file", func(c *Config) { c.SecretEnv = nil; c.SecretFiles = map[string]string{"EXCHANGE_KEY": secretFile} }, nil},
		{"missing env", func(c *Config) { c.SecretEnv = map[string]string{"EXCHANGE_KEY": "NOT_SET"} }, ErrSecret},
		{"missing file", func(c *Config) {
			c.SecretEnv = nil
			c.SecretFiles = map[string]string{"EXCHANGE_KEY": secretFile + ".nope"}
		}, ErrSecret},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, dir := newBot(t, tc.edit)
			err := d.Start(context.Background(), meta("c1"), lifecycle.Paper)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && !strings.Contains(calls(t, dir)[0], "key_len=19") {
				t.Errorf("secret from file not passed: %s", calls(t, dir)[0])
			}
		})
	}
}

func TestDriver_StatusMapping(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, out string
		exit      string
		want      core.BotStatus
		wantErr   error
	}{
		{"exit 0, no output", "", "0", core.BotStatus{Alive: true, PauseUnknown: true}, nil},
		{"exit 0, json", `{"alive":true,"mode":"shadow"}`, "0", core.BotStatus{Alive: true, PauseUnknown: true, Mode: lifecycle.Shadow}, nil},
		{"exit 0, json naming the pause", `{"alive":true,"paused":false,"mode":"shadow"}`, "0", core.BotStatus{Alive: true, Mode: lifecycle.Shadow}, nil},
		{"exit 0, json stopped", `{"stopped":true}`, "0", core.BotStatus{Stopped: true}, nil},
		{"exit 1 dead", "", "1", core.BotStatus{}, nil},
		{"exit 2 dead", "", "2", core.BotStatus{}, nil},
		{"exit 3 stopped", "", "3", core.BotStatus{Stopped: true}, nil},
		{"exit 4 unknown", "", "4", core.BotStatus{}, ErrBadStatus},
		{"exit 0, garbage", "running!", "0", core.BotStatus{}, ErrBadStatus},
		{"contradiction", `{"alive":true,"stopped":true}`, "0", core.BotStatus{}, ErrBadStatus},
		{"bad mode", `{"alive":true,"mode":"turbo"}`, "0", core.BotStatus{}, ErrBadStatus},
		{"repeated key", `{"alive":false,"stopped":true,"alive":true}`, "0", core.BotStatus{}, ErrBadStatus},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, _ := newBot(t, func(c *Config) {
				c.Status = []string{script(t, "status.sh")}
				c.Env["STATUS_OUT"], c.Env["STATUS_EXIT"] = tc.out, tc.exit
			})
			got, err := d.Status(context.Background(), "alpha")
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			got.Detail = ""
			if got != tc.want {
				t.Errorf("status %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDriver_StatusTimeout(t *testing.T) {
	t.Parallel()
	d, _ := newBot(t, func(c *Config) {
		c.Status = []string{script(t, "slow.sh")}
		c.StatusTimeout = 200 * time.Millisecond
	})
	if _, err := d.Status(context.Background(), "alpha"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err %v, want ErrTimeout", err)
	}
}

func TestDriver_NotStarted(t *testing.T) {
	t.Parallel()
	d, _ := newBot(t, func(c *Config) { c.Start = []string{"/nonexistent/botctl"} })
	if err := d.Start(context.Background(), meta("c1"), lifecycle.Paper); !errors.Is(err, ErrNotStarted) {
		t.Errorf("err %v, want ErrNotStarted", err)
	}
	d2, _ := newBot(t, func(c *Config) { c.Pause = nil })
	if err := d2.Pause(context.Background(), meta("c1")); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("pause without a command: %v, want ErrNotConfigured", err)
	}
	if err := d2.Stop(context.Background(), core.BotMeta{Bot: "nope", CommandID: "x"}); !errors.Is(err, ErrUnknownBot) {
		t.Errorf("unknown bot: %v", err)
	}
}

func TestConfigFromMap(t *testing.T) {
	t.Parallel()
	base := func() map[string]any {
		return map[string]any{"start": []any{"/bin/botctl", "start"}, "stop": []any{"/bin/botctl", "stop"}, "status": []any{"/bin/botctl", "status"}}
	}
	with := func(k string, v any) map[string]any { m := base(); m[k] = v; return m }
	cases := []struct {
		name    string
		in      map[string]any
		wantErr bool
	}{
		{"minimal", base(), false},
		{"timeouts", with("timeout", "1m"), false},
		{"secret refs", with("secret_env", map[string]any{"API_KEY": "ALPHA_API_KEY"}), false},
		{"no status", map[string]any{"start": []any{"a"}, "stop": []any{"b"}}, true},
		{"unknown key", with("shell", "bash -c"), true},
		{"reserved var", with("env", map[string]any{"BOTWARDEN_MODE": "live"}), true},
		{"PATH override", with("env", map[string]any{"PATH": "/tmp"}), true},
		{"bad var name", with("secret_files", map[string]any{"A-B": "/f"}), true},
		{"empty program", with("pause", []any{""}), true},
		{"negative timeout", with("status_timeout", "-1s"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := ConfigFromMap(tc.in); (err != nil) != tc.wantErr {
				t.Errorf("err %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
}
