package api_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/botwarden/botwarden/internal/api"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// raw posts body as-is (requests that violate the spec on purpose).
func (e *env) raw(t *testing.T, tok, method, path, body string, hdr map[string]string) (*http.Response, api.Problem) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p api.Problem
	b, _ := io.ReadAll(resp.Body)
	_ = jsonUnmarshal(b, &p)
	return resp, p
}

func TestAPI_BadBodiesRefusedWithProblems(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOpt) { o.cfg.MaxBody = 1024 })
	c, _ := e.admin.Create(bg, api.CreateRequest{Actor: coretest.Operator, By: "t"})
	for _, tc := range []struct {
		name, body string
		hdr        map[string]string
		status     int
		reason     string
	}{
		{"unknown field", `{"target":"alpha","op":"stop","command_id":"u1","force":true}`, nil, 400, api.ReasonBadRequest},
		{"unknown param", `{"target":"alpha","op":"stop","command_id":"u2","params":{"hurry":1}}`, nil, 400, api.ReasonBadRequest},
		{"trailing data", `{"target":"alpha","op":"stop","command_id":"u3"} {}`, nil, 400, api.ReasonBadRequest},
		{"no idempotency key", `{"target":"alpha","op":"stop"}`, nil, 400, api.ReasonBadRequest},
		{"key and id differ", `{"target":"alpha","op":"stop","command_id":"a"}`, map[string]string{"Idempotency-Key": "b"}, 400, api.ReasonBadRequest},
		{"too large", `{"target":"alpha","op":"stop","reason":"` + strings.Repeat("x", 2000) + `"}`, nil, 413, api.ReasonBadRequest},
		{"other actor", `{"target":"alpha","op":"stop","command_id":"u4","actor":"U0ADMIN"}`, nil, 403, api.ReasonActorMismatch},
		{"other channel", `{"target":"alpha","op":"stop","command_id":"u5","channel":"C123"}`, nil, 400, api.ReasonBadRequest},
		{"invalid for the contract", `{"target":"alpha","op":"stop","command_id":"u6","params":{"mode":"live"}}`, nil, 422, string(core.ReasonInvalid)},
		// Read differently by different parsers: refused, not guessed.
		{"repeated name", `{"target":"alpha","op":"stop","op":"status","command_id":"u7"}`, nil, 400, api.ReasonBadRequest},
		{"repeated nested name", `{"target":"alpha","op":"stop","command_id":"u8","params":{"mode":"paper","mode":"live"}}`, nil, 400, api.ReasonBadRequest},
		{"invalid UTF-8", "{\"target\":\"alpha\",\"op\":\"stop\",\"command_id\":\"u9\",\"reason\":\"caf\xe9\"}", nil, 400, api.ReasonBadRequest},
	} {
		resp, p := e.raw(t, c.Token, http.MethodPost, "/v1/commands", tc.body, tc.hdr)
		if resp.StatusCode != tc.status || p.Reason != tc.reason || resp.Header.Get("Content-Type") != "application/problem+json" || p.Type == "" {
			t.Errorf("%s: %d %+v", tc.name, resp.StatusCode, p)
		}
	}
	if n := len(e.driver.CallsTo("Stop")); n != 0 {
		t.Fatalf("%d stops from refused bodies", n)
	}
	// The claimed name is the client's text: a malformed one is not
	// recorded as sent.
	if resp, p := e.raw(t, c.Token, http.MethodPost, "/v1/commands", `{"target":"alpha","op":"stop","command_id":"u10","actor":"U1 xoxb-1234-secret"}`, nil); resp.StatusCode != 403 || p.Reason != api.ReasonActorMismatch {
		t.Fatalf("malformed actor: %d %+v", resp.StatusCode, p)
	}
	if e.ledgerHas(t, `xoxb-1234-secret`) {
		t.Fatal("the client's claimed actor text reached the ledger as sent")
	}
	// Acting as someone else is a recorded denial, naming the token.
	if !e.ledgerHas(t, `"event_type":"api.token.denied"`, `"reason":"actor_mismatch"`, `"id":"`+c.Record.ID+`"`,
		`"actor":"`+coretest.Operator+`"`, `not U0ADMIN`) {
		t.Fatal("the attempt to act as U0ADMIN is not in the ledger")
	}
}

func TestAPI_RateLimitedPerActor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOpt) { o.cfg.Rate, o.cfg.Burst = 1, 2 })
	op, appr := e.client(coretest.Operator), e.client(coretest.Approver)
	for range 2 {
		if err := op.Do(bg, http.MethodGet, "/v1/safety", nil, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	resp, p := e.raw(t, mustToken(t, e, coretest.Operator), http.MethodGet, "/v1/safety", "", nil)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || p.Reason != api.ReasonRateLimited {
		t.Fatalf("a second token of the same actor shares its limit: %d %+v", resp.StatusCode, p)
	}
	err := op.Do(bg, http.MethodGet, "/v1/safety", nil, nil, nil)
	if pr := problemOf(t, err); pr.Status != http.StatusTooManyRequests || pr.Reason != api.ReasonRateLimited || !strings.HasSuffix(pr.Runbook, "/rate_limited.md") {
		t.Fatalf("third request: %+v", pr)
	}
	if err := appr.Do(bg, http.MethodGet, "/v1/safety", nil, nil, nil); err != nil {
		t.Fatalf("another actor is limited too: %v", err)
	}
	e.clock.Advance(2 * time.Second)
	if err := op.Do(bg, http.MethodGet, "/v1/safety", nil, nil, nil); err != nil {
		t.Fatalf("after the refill: %v", err)
	}
}

func mustToken(t *testing.T, e *env, actor string) string {
	t.Helper()
	c, err := e.admin.Create(bg, api.CreateRequest{Actor: actor, By: "t"})
	if err != nil {
		t.Fatal(err)
	}
	return c.Token
}

func TestAPI_EventsResumeFromLedgerThenLive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op := e.client(coretest.Operator)
	before := e.ledger.Head().Size
	if _, err := op.Submit(bg, api.CommandRequest{Target: "alpha", Op: core.OpStart, Params: core.Params{Mode: lifecycle.Paper}}, "ev-1"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	var seen []api.Event
	done := errors.New("done")
	errc := make(chan error, 1)
	go func() {
		_, err := op.Watch(ctx, before, true, func(ev api.Event) error {
			seen = append(seen, ev)
			if ev.Type == core.EvApplied && strings.Contains(string(ev.Data), `"command_id":"ev-2"`) {
				return done
			}
			if ev.Type == core.EvApplied && strings.Contains(string(ev.Data), `"command_id":"ev-1"`) {
				go func() {
					_, _ = op.Submit(bg, api.CommandRequest{Target: "alpha", Op: core.OpStop}, "ev-2")
				}()
			}
			return nil
		})
		errc <- err
	}()
	if err := <-errc; !errors.Is(err, done) {
		t.Fatalf("watch: %v (saw %d events)", err, len(seen))
	}
	for i, ev := range seen {
		if ev.Seq <= before || (i > 0 && ev.Seq <= seen[i-1].Seq) {
			t.Fatalf("event %d seq %d: want increasing seqs after %d", i, ev.Seq, before)
		}
		if strings.HasPrefix(ev.Type, "api.") {
			t.Fatalf("token event %s streamed", ev.Type)
		}
	}
	var transitions int
	for _, ev := range seen {
		if ev.Type == core.EvTransition {
			transitions++
		}
	}
	if transitions < 2 {
		t.Fatalf("saw %d transitions, want the replayed start and the live stop", transitions)
	}
}

// An actor holds at most MaxStreams event streams at once; one more is
// 429 too_many_streams, and closing one frees its place. Other actors
// are not counted against it.
func TestAPI_EventStreamsPerActorCapped(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOpt) { o.cfg.MaxStreams = 2 })
	open := func(actor string) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/v1/events", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+mustToken(t, e, actor))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, fmt.Errorf("GET /v1/events: %s", resp.Status)
		}
		// The stream is registered once its opening comment arrives.
		if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || !strings.HasPrefix(line, ":") {
			resp.Body.Close()
			return nil, fmt.Errorf("stream opening %q: %v", line, err)
		}
		return resp, nil
	}
	first, err := open(coretest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	second, err := open(coretest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Body.Close()
	// The third, through the validating client: a problem the spec allows.
	_, err = e.client(coretest.Operator).Watch(bg, 0, false, func(api.Event) error { return nil })
	if p := problemOf(t, err); p.Status != http.StatusTooManyRequests || p.Reason != api.ReasonTooManyStreams {
		t.Fatalf("third stream: %+v, want 429 %s", p, api.ReasonTooManyStreams)
	}
	if other, err := open(coretest.Viewer); err != nil {
		t.Fatalf("another actor's stream: %v", err)
	} else {
		other.Body.Close()
	}
	first.Body.Close() // the server notices when its next write fails or the request ends
	deadline := time.Now().Add(10 * time.Second)
	for {
		again, err := open(coretest.Operator)
		if err == nil {
			again.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after closing one stream, a new one: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The API counts requests by route and code, times them, and gauges open
// event streams.
func TestAPI_Metrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	e := newEnv(t, func(o *envOpt) { o.reg = reg })
	op := e.client(coretest.Operator)
	if err := op.Do(bg, http.MethodGet, "/v1/me", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.clientWith("bw_nosuchtoken").Do(bg, http.MethodGet, "/v1/me", nil, nil, nil); err == nil {
		t.Fatal("an unknown token was let in")
	}
	value := func(name string, labels map[string]string) (float64, bool) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
		next:
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
						continue next
					}
				}
				switch {
				case m.Counter != nil:
					return m.GetCounter().GetValue(), true
				case m.Gauge != nil:
					return m.GetGauge().GetValue(), true
				case m.Histogram != nil:
					return float64(m.GetHistogram().GetSampleCount()), true
				}
			}
		}
		return 0, false
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"botwarden_api_requests_total", map[string]string{"route": "GET /v1/me", "code": "200"}, 1},
		{"botwarden_api_requests_total", map[string]string{"route": "GET /v1/me", "code": "401"}, 1},
		{"botwarden_api_request_duration_seconds", map[string]string{"route": "GET /v1/me"}, 2},
		{"botwarden_api_event_streams", nil, 0},
	} {
		if got, ok := value(c.name, c.labels); !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	go func() { _, _ = op.Watch(ctx, 0, false, func(api.Event) error { return nil }) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got, _ := value("botwarden_api_event_streams", nil); got == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("an open stream is not gauged within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	for {
		if got, _ := value("botwarden_api_event_streams", nil); got == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a closed stream is still gauged")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A revoked token's open event stream ends within TokenRecheck: the token
// was checked when the stream opened, and must not keep reading after.
// Another token's stream goes on.
func TestAPI_EventStreamEndsWhenTokenRevoked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOpt) { o.cfg.TokenRecheck = 20 * time.Millisecond })
	open := func(tok string) *bufio.Reader {
		req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/v1/events", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/events: %v %v", resp, err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return bufio.NewReader(resp.Body)
	}
	revoked, kept := mustToken(t, e, coretest.Viewer), mustToken(t, e, coretest.Viewer)
	gone, stays := open(revoked), open(kept)
	rec, err := e.tokens.Authenticate(revoked)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.Revoke(bg, rec.ID, "t"); err != nil {
		t.Fatal(err)
	}
	ended := make(chan string, 1)
	go func() {
		var last string
		for {
			line, err := gone.ReadString('\n')
			if err != nil {
				ended <- last
				return
			}
			if strings.TrimSpace(line) != "" {
				last = line
			}
		}
	}()
	select {
	case last := <-ended:
		if !strings.Contains(last, "no longer valid") {
			t.Errorf("the stream ended after %q, want it to say why", last)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the revoked token's stream was still open 10 s later")
	}
	submitStatuses(t, e.client(coretest.Operator), 1)
	for {
		line, err := stays.ReadString('\n')
		if err != nil {
			t.Fatalf("the valid token's stream ended: %v", err)
		}
		if strings.HasPrefix(line, "event: controlplane.command.applied") {
			break
		}
	}
}

// The service's starts and stops carry the whole policy (who holds which
// role): a stream, which needs only the status permission, leaves them
// out, as it leaves token events, even when it replays from seq 0.
func TestAPI_EventsLeaveServiceRecordsInTheLedger(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	viewer := e.client(coretest.Viewer)
	if _, err := viewer.Submit(bg, api.CommandRequest{Target: "alpha", Op: core.OpStatus}, "svc-1"); err != nil {
		t.Fatal(err)
	}
	var first []byte
	if err := e.ledger.Scan(bg, 1, func(seq uint64, ev []byte) error {
		if first == nil {
			first = ev
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(first), `"event_type":"`+core.EvStarted+`"`) {
		t.Fatalf("ledger seq 1 = %s, want the service's start", first)
	}
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	done := errors.New("done")
	var seen []string
	_, err := viewer.Watch(ctx, 0, true, func(ev api.Event) error {
		seen = append(seen, ev.Type)
		if ev.Type == core.EvStarted || ev.Type == core.EvStopped || strings.Contains(string(ev.Data), `"policy"`) {
			return fmt.Errorf("service record streamed to a viewer: %s %s", ev.Type, ev.Data)
		}
		if ev.Type == core.EvApplied && strings.Contains(string(ev.Data), `"command_id":"svc-1"`) {
			return done
		}
		return nil
	})
	if !errors.Is(err, done) {
		t.Fatalf("watch from 0: %v (saw %v)", err, seen)
	}
}

// A client that goes away (a timeout, Ctrl-C in ctl) does not cut the
// command short: the stop it asked for is carried out and recorded, and
// a retry with the same key gets that outcome.
func TestAPI_ClientGoneCommandCarriedOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op := e.client(coretest.Operator)
	if _, err := op.Submit(bg, api.CommandRequest{Target: "alpha", Op: core.OpStart, Params: core.Params{Mode: lifecycle.Paper}}, "gone-start"); err != nil {
		t.Fatal(err)
	}
	e.driver.SetDelay(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	if _, err := op.Submit(ctx, api.CommandRequest{Target: "alpha", Op: core.OpStop}, "gone-stop"); err == nil {
		t.Fatal("the client's timeout did not end its request")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var o core.Outcome
		err := op.Do(bg, http.MethodGet, "/v1/commands/gone-stop", nil, nil, &o)
		if err == nil && o.Status == core.StatusApplied {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stop after its client left: %+v %v (alpha %s)", o, err, e.botState("alpha"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := e.botState("alpha"); st != lifecycle.Stopping && st != lifecycle.Idle {
		t.Fatalf("alpha %s after the stop", st)
	}
}
