package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/driver/httpdriver"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

const secret httpdriver.Secret = "receiver-test-secret"

func newServer(t *testing.T, now func() time.Time) (*receiver, *httptest.Server) {
	t.Helper()
	rc := newReceiver(secret, now, log.New(io.Discard, "", 0))
	srv := httptest.NewServer(rc.routes())
	t.Cleanup(srv.Close)
	return rc, srv
}

// TestReceiver_WithDriver runs Botwarden's real HTTP driver against the
// receiver: the signature scheme and status mapping agree end to end.
func TestReceiver_WithDriver(t *testing.T) {
	t.Parallel()
	rc, srv := newServer(t, time.Now)
	d := httpdriver.New(httpdriver.Options{Client: srv.Client()})
	if err := d.Add("alpha", httpdriver.Bot{ControlURL: srv.URL + "/control", StatusURL: srv.URL + "/control/status", Secret: secret}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := func(id string) core.BotMeta {
		return core.BotMeta{Bot: "alpha", CommandID: id, TraceID: "t", RunID: "r"}
	}
	steps := []struct {
		name string
		call func() error
		want core.BotStatus
	}{
		{"start", func() error { return d.Start(ctx, m("c1"), lifecycle.Paper) }, core.BotStatus{Alive: true, Mode: lifecycle.Paper}},
		{"start again, same id", func() error { return d.Start(ctx, m("c1"), lifecycle.Paper) }, core.BotStatus{Alive: true, Mode: lifecycle.Paper}},
		{"pause", func() error { return d.Pause(ctx, m("c2")) }, core.BotStatus{Alive: true, Paused: true, Mode: lifecycle.Paper}},
		{"resume live", func() error { return d.Resume(ctx, m("c3"), lifecycle.Live) }, core.BotStatus{Alive: true, Mode: lifecycle.Live}},
		{"stop", func() error { return d.Stop(ctx, m("c4")) }, core.BotStatus{Stopped: true}},
	}
	for _, st := range steps {
		if err := st.call(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := d.Status(ctx, "alpha")
		if err != nil {
			t.Fatalf("%s: status: %v", st.name, err)
		}
		got.Detail = ""
		if got != st.want {
			t.Fatalf("%s: status %+v, want %+v", st.name, got, st.want)
		}
	}
	if rc.bot.effects != 4 {
		t.Errorf("%d effects, want 4 (the repeated command_id applied once)", rc.bot.effects)
	}
	if err := d.Pause(ctx, m("c5")); !errors.Is(err, httpdriver.ErrRejected) {
		t.Errorf("pause while stopped: %v, want ErrRejected (409 is final)", err)
	}
}

// signed builds a control request signed at ts.
func signed(t *testing.T, url, key string, ts int64, body string, sec httpdriver.Secret) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", url+"/control", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(httpdriver.HeaderIdempotencyKey, key)
	req.Header.Set(httpdriver.HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(httpdriver.HeaderSignature, httpdriver.Sign(sec, ts, []byte(body)))
	return req
}

func do(t *testing.T, srv *httptest.Server, req *http.Request) *http.Response {
	t.Helper()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestReceiver_RefusesForgedStaleAndReplayed(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	rc, srv := newServer(t, func() time.Time { return now })
	start := `{"op":"start","mode":"paper","bot":"alpha","command_id":"c1","trace_id":"t","run_id":"r","config_ref":""}`
	ts := now.Unix()
	cases := []struct {
		name     string
		req      *http.Request
		want     int
		replayed bool
	}{
		{"wrong secret", signed(t, srv.URL, "c1", ts, start, "guess"), 401, false},
		{"stale", signed(t, srv.URL, "c1", ts-301, start, secret), 401, false},
		{"from the future", signed(t, srv.URL, "c1", ts+301, start, secret), 401, false},
		{"key mismatch", signed(t, srv.URL, "other", ts, start, secret), 400, false},
		{"good", signed(t, srv.URL, "c1", ts, start, secret), 200, false},
		{"exact replay", signed(t, srv.URL, "c1", ts, start, secret), 409, false},
		{"retry, fresh signature", signed(t, srv.URL, "c1", ts+1, start, secret), 200, true},
	}
	for _, tc := range cases {
		resp := do(t, srv, tc.req)
		if resp.StatusCode != tc.want || (resp.Header.Get("Idempotent-Replayed") == "true") != tc.replayed {
			t.Errorf("%s: %d replayed=%q, want %d replayed=%v", tc.name, resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), tc.want, tc.replayed)
		}
	}
	if rc.bot.effects != 1 {
		t.Errorf("%d effects, want 1", rc.bot.effects)
	}
	// Tampering with a signed body breaks the signature.
	req := signed(t, srv.URL, "c9", ts+2, start, secret)
	req.Body = io.NopCloser(bytes.NewReader(bytes.Replace([]byte(start), []byte("paper"), []byte("live!"), 1)))
	if resp := do(t, srv, req); resp.StatusCode != 401 {
		t.Errorf("tampered body: %d, want 401", resp.StatusCode)
	}
}

func TestReceiver_ReplayCacheForgets(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	rc := newReceiver(secret, func() time.Time { return now }, log.New(io.Discard, "", 0))
	if rc.replayed("a") || !rc.replayed("a") {
		t.Fatal("first sighting must pass, second must be a replay")
	}
	now = now.Add(2*httpdriver.DefaultMaxSkew + time.Second)
	if rc.replayed("b"); len(rc.seen) != 1 {
		t.Errorf("cache holds %d signatures, want the expired one dropped", len(rc.seen))
	}
}

func TestLoadSecret(t *testing.T) {
	t.Setenv("BOTRECEIVER_SECRET", "")
	if _, err := loadSecret(""); err == nil {
		t.Error("no secret accepted")
	}
	t.Setenv("BOTRECEIVER_SECRET", "env-secret")
	if s, err := loadSecret(""); err != nil || s.Reveal() != "env-secret" {
		t.Errorf("env: %v", err)
	}
}
