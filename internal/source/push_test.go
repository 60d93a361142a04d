package source

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/rs/zerolog"
)

const testToken Secret = "s3cret-push-token"

func newPushServer(t *testing.T, sink *fakeSink) *httptest.Server {
	t.Helper()
	p, err := NewPush(testToken, sink, validator(t), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	p.Register(mux)
	srv := httptest.NewServer(mux) // binds 127.0.0.1
	t.Cleanup(srv.Close)
	return srv
}

func put(t *testing.T, srv *httptest.Server, method, path, auth string, body []byte) (int, Reply) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep Reply
	_ = json.NewDecoder(resp.Body).Decode(&rep)
	return resp.StatusCode, rep
}

func TestPush_Requests(t *testing.T) {
	t.Parallel()
	bearer := "Bearer " + testToken.Reveal()
	huge := append([]byte(`{"schema_version":"1.0","source":"x","results":[],"pad":"`), bytes.Repeat([]byte("a"), MaxDocBytes)...)
	cases := []struct {
		name, method, path, auth string
		body                     []byte
		wantCode                 int
		wantStatus               string
		wantSafety, wantGates    int
	}{
		{"no token", "PUT", "/v1/safety", "", fixture(t, "safety_normal.json"), 401, "unauthorized", 0, 0},
		{"wrong token", "PUT", "/v1/safety", "Bearer nope", fixture(t, "safety_normal.json"), 401, "unauthorized", 0, 0},
		{"token prefix", "PUT", "/v1/safety", "Bearer s3cret", fixture(t, "safety_normal.json"), 401, "unauthorized", 0, 0},
		{"basic scheme", "PUT", "/v1/safety", "Basic " + testToken.Reveal(), fixture(t, "safety_normal.json"), 401, "unauthorized", 0, 0},
		{"safety ok", "PUT", "/v1/safety", bearer, fixture(t, "safety_normal.json"), 200, "accepted", 1, 0},
		{"gates ok", "PUT", "/v1/gates", bearer, fixture(t, "gates_pass.json"), 200, "accepted", 0, 1},
		{"unknown field", "PUT", "/v1/safety", bearer, fixture(t, "safety_unknown_field.json"), 400, "invalid_document", 0, 0},
		{"bad mode", "PUT", "/v1/safety", bearer, fixture(t, "safety_bad_mode.json"), 400, "invalid_document", 0, 0},
		{"repeated mode", "PUT", "/v1/safety", bearer, fixture(t, "safety_repeated_mode.json"), 400, "invalid_document", 0, 0},
		{"bad time", "PUT", "/v1/safety", bearer, fixture(t, "safety_bad_time.json"), 400, "invalid_document", 0, 0},
		{"gates without ttl", "PUT", "/v1/gates", bearer, fixture(t, "gates_missing_ttl.json"), 400, "invalid_document", 0, 0},
		{"gates doc on safety", "PUT", "/v1/safety", bearer, fixture(t, "gates_pass.json"), 400, "invalid_document", 0, 0},
		{"not json", "PUT", "/v1/gates", bearer, []byte("NORMAL"), 400, "invalid_document", 0, 0},
		{"too large", "PUT", "/v1/gates", bearer, huge, 413, "too_large", 0, 0},
		{"get is not allowed", "GET", "/v1/safety", bearer, nil, 405, "", 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sink := &fakeSink{}
			srv := newPushServer(t, sink)
			code, rep := put(t, srv, tc.method, tc.path, tc.auth, tc.body)
			if code != tc.wantCode || rep.Status != tc.wantStatus {
				t.Fatalf("got %d %+v, want %d %q", code, rep, tc.wantCode, tc.wantStatus)
			}
			if s, g := sink.counts(); s != tc.wantSafety || g != tc.wantGates {
				t.Errorf("sink got %d safety, %d gates docs; want %d, %d", s, g, tc.wantSafety, tc.wantGates)
			}
			if tc.wantCode == 400 && !strings.Contains(rep.Detail, "last good state is kept") {
				t.Errorf("detail %q does not say the last good state is kept", rep.Detail)
			}
			if strings.Contains(rep.Detail, testToken.Reveal()) {
				t.Errorf("reply leaks the token: %q", rep.Detail)
			}
		})
	}
}

func TestPush_PassesDocumentThroughFaithfully(t *testing.T) {
	t.Parallel()
	sink := &fakeSink{}
	srv := newPushServer(t, sink)
	bearer := "Bearer " + testToken.Reveal()
	if code, rep := put(t, srv, "PUT", "/v1/gates", bearer, fixture(t, "gates_pass.json")); code != 200 {
		t.Fatalf("push gates: %d %+v", code, rep)
	}
	if code, rep := put(t, srv, "PUT", "/v1/safety", bearer, fixture(t, "safety_normal.json")); code != 200 || rep.Source != "risk-engine" {
		t.Fatalf("push safety: %d %+v", code, rep)
	}
	want := time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC)
	got := sink.safety[0]
	if !got.UpdatedAt.Equal(want) || got.Mode != core.SafetyNormal || got.TTLSeconds != 60 || got.Source != "risk-engine" {
		t.Errorf("safety doc %+v, want the pushed values (updated_at %s)", got, want)
	}
	g := sink.gates[0].Results
	if len(g) != 2 || g[1].Status != core.GateFail || g[1].Scope != "group:majors" || g[1].TTLSeconds != 30 ||
		!g[1].EvaluatedAt.Equal(time.Date(2025, 1, 2, 3, 4, 1, 0, time.UTC)) || g[1].Detail != "feed lag 9s" {
		t.Errorf("gate results %+v, want the pushed values", g)
	}
}

func TestPush_SinkRefusal(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		err        error
		wantCode   int
		wantStatus string
	}{
		{"ledger down", fmt.Errorf("append: %w", core.ErrAuditUnavailable), 503, "ledger_unavailable"},
		{"other", fmt.Errorf("older than the current document"), 422, "refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sink := &fakeSink{err: tc.err}
			srv := newPushServer(t, sink)
			code, rep := put(t, srv, "PUT", "/v1/safety", "Bearer "+testToken.Reveal(), fixture(t, "safety_normal.json"))
			if code != tc.wantCode || rep.Status != tc.wantStatus {
				t.Errorf("got %d %+v, want %d %s", code, rep, tc.wantCode, tc.wantStatus)
			}
		})
	}
}

func TestNewPush_RefusesEmptyToken(t *testing.T) {
	t.Parallel()
	if _, err := NewPush("", &fakeSink{}, validator(t), zerolog.Nop()); err == nil {
		t.Fatal("NewPush with an empty token succeeded")
	}
}

func TestSecret_Redacts(t *testing.T) {
	t.Parallel()
	s := Secret("hunter2")
	js, _ := json.Marshal(struct{ T Secret }{s})
	for _, out := range []string{s.String(), fmt.Sprintf("%v %s %#v", s, s, s), string(js)} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret leaks in %q", out)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Errorf("Reveal = %q", s.Reveal())
	}
}
