package httpdriver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

const testSecret Secret = "bot-signing-secret"

var testNow = time.Unix(1700000000, 0)

// attempt is one request the test receiver saw.
type attempt struct {
	key, ts string
	body    string
}

// receiver is a test bot: it checks every request's signature with the
// documented scheme, applies each command_id once, and can be told how to
// answer the next attempts.
type receiver struct {
	mu       sync.Mutex
	attempts []attempt
	effects  map[string]int // command_id -> times applied
	script   []step
	status   string // JSON the status URL answers
	badSigs  int
}

// step is a scripted answer to one attempt; true means it answered.
type step func(rc *receiver, w http.ResponseWriter, req Request) bool

// answer runs the next scripted step, if any.
func (rc *receiver) answer(w http.ResponseWriter, req Request) bool {
	rc.mu.Lock()
	if len(rc.script) == 0 {
		rc.mu.Unlock()
		return false
	}
	f := rc.script[0]
	rc.script = rc.script[1:]
	rc.mu.Unlock()
	return f(rc, w, req)
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts, sig := r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature)
	n, _ := strconv.ParseInt(ts, 10, 64)
	if sig != independentSign(testSecret.Reveal(), n, body) || Verify(testSecret, ts, body, sig, testNow, DefaultMaxSkew) != nil {
		rc.mu.Lock()
		rc.badSigs++
		rc.mu.Unlock()
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if r.Method == http.MethodGet {
		rc.mu.Lock()
		st := rc.status
		rc.mu.Unlock()
		io.WriteString(w, st)
		return
	}
	var req Request
	if err := json.Unmarshal(body, &req); err != nil || req.CommandID != r.Header.Get(HeaderIdempotencyKey) {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.attempts = append(rc.attempts, attempt{key: r.Header.Get(HeaderIdempotencyKey), ts: ts, body: string(body)})
	rc.mu.Unlock()
	if rc.answer(w, req) {
		return
	}
	rc.apply(req.CommandID)
	w.WriteHeader(http.StatusOK)
}

func (rc *receiver) apply(id string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.effects[id] == 0 { // idempotent: a repeated command_id has no second effect
		rc.effects[id]++
	}
}

func respond(code int, body string, hdr ...string) step {
	return func(_ *receiver, w http.ResponseWriter, _ Request) bool {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.WriteHeader(code)
		io.WriteString(w, body)
		return true
	}
}

// newTestDriver starts a receiver on 127.0.0.1 and a driver with a fixed
// clock and a sleep that records waits instead of sleeping.
func newTestDriver(t *testing.T, script ...step) (*Driver, *receiver, *[]time.Duration) {
	t.Helper()
	rc := &receiver{effects: map[string]int{}, script: script}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	var mu sync.Mutex
	var waits []time.Duration
	d := New(Options{
		Client: srv.Client(), AttemptTimeout: 200 * time.Millisecond,
		Now:    func() time.Time { return testNow },
		Jitter: func() float64 { return 0.5 },
		Sleep: func(ctx context.Context, w time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			waits = append(waits, w)
			return ctx.Err()
		},
	})
	if err := d.Add("alpha", Bot{ControlURL: srv.URL + "/control", StatusURL: srv.URL + "/status", Secret: testSecret}); err != nil {
		t.Fatal(err)
	}
	return d, rc, &waits
}

func meta(id string) core.BotMeta {
	return core.BotMeta{Bot: "alpha", CommandID: id, TraceID: "tr-" + id, RunID: "run-9"}
}

func TestDriver_StartSendsSignedRequest(t *testing.T) {
	t.Parallel()
	d, rc, _ := newTestDriver(t)
	if err := d.Start(context.Background(), meta("c1"), lifecycle.Live); err != nil {
		t.Fatal(err)
	}
	if len(rc.attempts) != 1 || rc.badSigs != 0 {
		t.Fatalf("attempts %d, bad signatures %d; want 1, 0", len(rc.attempts), rc.badSigs)
	}
	want := `{"op":"start","mode":"live","bot":"alpha","command_id":"c1","trace_id":"tr-c1","run_id":"run-9","config_ref":""}`
	if a := rc.attempts[0]; a.body != want || a.key != "c1" || a.ts != "1700000000" {
		t.Errorf("attempt %+v, want body %s key c1 ts 1700000000", a, want)
	}
}

func TestDriver_OpsCarryTheirFields(t *testing.T) {
	t.Parallel()
	d, rc, _ := newTestDriver(t)
	ctx := context.Background()
	calls := []struct {
		call func() error
		want string
	}{
		{func() error { return d.Stop(ctx, meta("s")) }, `"op":"stop","mode":""`},
		{func() error { return d.Pause(ctx, meta("p")) }, `"op":"pause","mode":""`},
		{func() error { return d.Resume(ctx, meta("r"), lifecycle.Shadow) }, `"op":"resume","mode":"shadow"`},
		{func() error { return d.Apply(ctx, meta("a"), "cfg@v7") }, `"config_ref":"cfg@v7"`},
	}
	for i, c := range calls {
		if err := c.call(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rc.attempts[i].body, c.want) {
			t.Errorf("body %s lacks %s", rc.attempts[i].body, c.want)
		}
	}
}

// lost applies the command, then cuts the connection: the answer is lost.
func lost(rc *receiver, w http.ResponseWriter, req Request) bool {
	rc.apply(req.CommandID)
	if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
		conn.Close()
	}
	return true
}

// hang answers only after the driver gave up on the attempt.
func hang(_ *receiver, w http.ResponseWriter, _ Request) bool {
	time.Sleep(400 * time.Millisecond)
	w.WriteHeader(http.StatusOK)
	return true
}

func TestDriver_RetriesKeepTheCommandAndApplyOnce(t *testing.T) {
	t.Parallel()
	// Attempt 1 is applied but its answer lost, attempt 2 meets a 503,
	// attempt 3 is answered: the bot applied the command once.
	d, rc, waits := newTestDriver(t, lost, respond(503, "busy"))
	if err := d.Start(context.Background(), meta("c1"), lifecycle.Paper); err != nil {
		t.Fatal(err)
	}
	if len(rc.attempts) != 3 {
		t.Fatalf("%d attempts, want 3", len(rc.attempts))
	}
	for i, a := range rc.attempts {
		if a.key != "c1" || a.body != rc.attempts[0].body {
			t.Errorf("attempt %d changed the command: %+v", i, a)
		}
		if want := strconv.Itoa(1700000000 + i); a.ts != want {
			t.Errorf("attempt %d ts %s, want %s (strictly later each try)", i, a.ts, want)
		}
	}
	if rc.effects["c1"] != 1 || rc.badSigs != 0 {
		t.Errorf("effects %d, bad sigs %d; want 1, 0", rc.effects["c1"], rc.badSigs)
	}
	if got := *waits; len(got) != 2 || got[0] != 187500*time.Microsecond || got[1] != 375*time.Millisecond {
		t.Errorf("backoff waits %v, want [187.5ms 375ms] (base 250ms doubling, jitter 0.5)", got)
	}
}

func TestDriver_Failures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		script       []step
		wantErr      error
		wantAttempts int
		wantWaits    []time.Duration
		notInErr     string
	}{
		{"400 is final", []step{respond(400, "unknown op")}, ErrRejected, 1, nil, ""},
		{"409 is final", []step{respond(409, "already running")}, ErrRejected, 1, nil, ""},
		{"echoed secret is redacted", []step{respond(403, "bad key "+testSecret.Reveal())}, ErrRejected, 1, nil, testSecret.Reveal()},
		{"5xx until exhausted", []step{respond(500, ""), respond(502, ""), respond(503, ""), respond(500, "")}, ErrUnavailable, 4,
			[]time.Duration{187500 * time.Microsecond, 375 * time.Millisecond, 750 * time.Millisecond}, ""},
		{"429 honours Retry-After up to MaxDelay", []step{respond(429, "", "Retry-After", "1"), respond(429, "", "Retry-After", "30")}, nil, 3,
			[]time.Duration{time.Second, 2 * time.Second}, ""},
		{"attempt timeout is retried", []step{hang}, nil, 2, []time.Duration{187500 * time.Microsecond}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, rc, waits := newTestDriver(t, tc.script...)
			err := d.Stop(context.Background(), meta("c1"))
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if tc.notInErr != "" && strings.Contains(err.Error(), tc.notInErr) {
				t.Errorf("error leaks %q: %v", tc.notInErr, err)
			}
			rc.mu.Lock()
			n := len(rc.attempts)
			rc.mu.Unlock()
			if n != tc.wantAttempts {
				t.Errorf("%d attempts, want %d", n, tc.wantAttempts)
			}
			if got := *waits; len(got) != len(tc.wantWaits) || (len(got) > 0 && !equalDurations(got, tc.wantWaits)) {
				t.Errorf("waits %v, want %v", got, tc.wantWaits)
			}
		})
	}
}

func equalDurations(a, b []time.Duration) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestDriver_TotalTimeBound(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	t.Cleanup(srv.Close)
	d := New(Options{Client: srv.Client(), Retry: Retry{Attempts: 100, BaseDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond, MaxTotal: 150 * time.Millisecond}})
	if err := d.Add("alpha", Bot{ControlURL: srv.URL, StatusURL: srv.URL, Secret: testSecret}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := d.Start(context.Background(), meta("c1"), lifecycle.Paper)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err %v, want ErrUnavailable", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("gave up after %s, want about MaxTotal (150ms)", el)
	}
}

func TestDriver_Status(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, reply string
		want        core.BotStatus
		wantErr     error
	}{
		{"running live", `{"alive":true,"paused":false,"mode":"live","detail":"42 orders"}`, core.BotStatus{Alive: true, Mode: lifecycle.Live, Detail: "42 orders"}, nil},
		{"pause not reported", `{"alive":true,"mode":"live"}`, core.BotStatus{Alive: true, PauseUnknown: true, Mode: lifecycle.Live}, nil},
		{"paused", `{"alive":true,"paused":true,"mode":"paper"}`, core.BotStatus{Alive: true, Paused: true, Mode: lifecycle.Paper}, nil},
		{"stopped", `{"stopped":true}`, core.BotStatus{Stopped: true}, nil},
		{"died", `{"alive":false,"stopped":false,"detail":"exit 137"}`, core.BotStatus{Detail: "exit 137"}, nil},
		{"extra keys ignored", `{"alive":true,"mode":"shadow","pnl":3}`, core.BotStatus{Alive: true, PauseUnknown: true, Mode: lifecycle.Shadow}, nil},
		{"secret in detail redacted", `{"stopped":true,"detail":"key=` + testSecret.Reveal() + `"}`, core.BotStatus{Stopped: true, Detail: "key=[REDACTED]"}, nil},
		{"alive and stopped", `{"alive":true,"stopped":true}`, core.BotStatus{}, ErrBadReply},
		{"paused not alive", `{"paused":true}`, core.BotStatus{}, ErrBadReply},
		{"bad mode", `{"alive":true,"mode":"yolo"}`, core.BotStatus{}, ErrBadReply},
		{"not json", `ok`, core.BotStatus{}, ErrBadReply},
		{"repeated name", `{"alive":false,"stopped":true,"alive":true}`, core.BotStatus{}, ErrBadReply},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, rc, _ := newTestDriver(t)
			rc.status = tc.reply
			got, err := d.Status(context.Background(), "alpha")
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("status %+v, want %+v", got, tc.want)
			}
			if rc.badSigs != 0 {
				t.Errorf("status GET failed the signature check")
			}
		})
	}
}

func TestDriver_StatusIsPrompt(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(block); srv.Close() })
	d := New(Options{Client: srv.Client(), AttemptTimeout: 100 * time.Millisecond})
	if err := d.Add("alpha", Bot{ControlURL: srv.URL, StatusURL: srv.URL, Secret: testSecret}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := d.Status(context.Background(), "alpha"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err %v, want ErrUnavailable", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("status took %s with a 100ms timeout", el)
	}
	srvErr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	t.Cleanup(srvErr.Close)
	d2 := New(Options{Client: srvErr.Client()})
	_ = d2.Add("alpha", Bot{ControlURL: srvErr.URL, StatusURL: srvErr.URL, Secret: testSecret})
	if _, err := d2.Status(context.Background(), "alpha"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("HTTP 500: %v, want ErrUnavailable", err)
	}
}

func TestDriver_RejectsBadSetup(t *testing.T) {
	t.Parallel()
	d := New(Options{})
	bad := []Bot{
		{ControlURL: "ftp://x", StatusURL: "http://x/status", Secret: "s"},
		{ControlURL: "http://x", StatusURL: "", Secret: "s"},
		{ControlURL: "http://x", StatusURL: "http://x/status"},
	}
	for _, b := range bad {
		if err := d.Add("x", b); err == nil {
			t.Errorf("Add(%+v) succeeded", b)
		}
	}
	if err := d.Stop(context.Background(), meta("c1")); !errors.Is(err, ErrUnknownBot) {
		t.Errorf("unknown bot: %v", err)
	}
	if _, err := d.Status(context.Background(), "nope"); !errors.Is(err, ErrUnknownBot) {
		t.Errorf("status unknown bot: %v", err)
	}
	_ = d.Add("alpha", Bot{ControlURL: "http://127.0.0.1:1", StatusURL: "http://127.0.0.1:1/s", Secret: "s"})
	if err := d.Stop(context.Background(), core.BotMeta{Bot: "alpha"}); err == nil || !strings.Contains(err.Error(), "command_id") {
		t.Errorf("no command_id: %v", err)
	}
}

func TestConfig_Bot(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ALPHA_SECRET": "from-env"}
	getenv := func(k string) string { return env[k] }
	readFile := func(p string) ([]byte, error) {
		if p == "/run/secrets/alpha" {
			return []byte("from-file\n"), nil
		}
		return nil, errors.New("no such file")
	}
	cases := []struct {
		name       string
		in         map[string]any
		wantSecret Secret
		wantStatus string
		wantErr    bool
	}{
		{"env", map[string]any{"url": "http://127.0.0.1:9001/control", "secret_env": "ALPHA_SECRET"}, "from-env", "http://127.0.0.1:9001/control/status", false},
		{"file", map[string]any{"url": "http://b/control", "status_url": "http://b/st", "secret_file": "/run/secrets/alpha"}, "from-file", "http://b/st", false},
		{"both", map[string]any{"url": "http://b", "secret_env": "A", "secret_file": "B"}, "", "", true},
		{"none", map[string]any{"url": "http://b"}, "", "", true},
		{"empty env", map[string]any{"url": "http://b", "secret_env": "MISSING"}, "", "", true},
		{"unreadable file", map[string]any{"url": "http://b", "secret_file": "/nope"}, "", "", true},
		{"secret in config", map[string]any{"url": "http://b", "secret": "inline"}, "", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := ConfigFromMap(tc.in)
			var b Bot
			if err == nil {
				b, err = c.Bot(getenv, readFile)
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && (b.Secret != tc.wantSecret || b.StatusURL != tc.wantStatus) {
				t.Errorf("bot %+v (secret %q), want secret %q status %s", b, b.Secret.Reveal(), tc.wantSecret, tc.wantStatus)
			}
		})
	}
}

func TestDriver_RepeatedCallsGetFreshSignatures(t *testing.T) {
	t.Parallel()
	d, rc, _ := newTestDriver(t)
	for range 3 { // the core repeating a command within the same second
		if err := d.Stop(context.Background(), meta("c1")); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, a := range rc.attempts {
		if seen[a.ts] {
			t.Errorf("timestamp %s signed twice: a receiver would see a replay", a.ts)
		}
		seen[a.ts] = true
	}
	if rc.effects["c1"] != 1 {
		t.Errorf("effects %d, want 1", rc.effects["c1"])
	}
}
