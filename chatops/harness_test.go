package chatops

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/botwarden/botwarden/chatops/fakeslack"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/policy"
)

// The secrets every harness runs with; none may ever reach Slack or logs.
const (
	testBotToken = "xoxb-0000-SECRET-bot-token"
	testSigning  = "signing-SECRET-5f3e9a"
	testAppToken = "xapp-1-SECRET-app-token"
)

// harness is a real core.Engine (demo policy, fake driver and clock)
// behind the adapter in HTTP mode, talking to a fake Slack.
type harness struct {
	t      *testing.T
	slack  *fakeslack.Server
	engine *core.Engine
	audit  *coretest.MemAuditor
	clock  *coretest.Clock
	driver *coretest.Driver
	a      *Adapter
	srv    *httptest.Server
	sender fakeslack.Sender
	logs   *syncBuffer
	trig   atomic.Int64

	cfg         Config
	ledger      Ledger
	deps        func(*core.Deps)
	stopAdapter func()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newHarness(t *testing.T, tweak func(*Config)) *harness {
	return newHarnessWith(t, tweak, nil)
}

// newHarnessWith is newHarness with the core's dependencies adjustable
// (e.g. a bundler that writes real files).
func newHarnessWith(t *testing.T, tweak func(*Config), deps func(*core.Deps)) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{t: t, slack: fakeslack.Start(), audit: coretest.NewMemAuditor(),
		clock: coretest.NewClock(time.Now().Truncate(time.Second)), driver: coretest.NewDriver(), logs: &syncBuffer{}, deps: deps}
	h.slack.Token = testBotToken
	t.Cleanup(h.slack.Close)
	h.engine = h.newEngine()
	if err := h.engine.SetSafety(ctx, core.SafetyDoc{SchemaVersion: core.SchemaVersion, Mode: core.SafetyNormal, Source: "test", UpdatedAt: h.clock.Now()}); err != nil {
		t.Fatalf("SetSafety: %v", err)
	}
	if err := h.engine.SetGates(ctx, core.GatesDoc{SchemaVersion: core.SchemaVersion, Source: "test", Results: []core.GateResult{
		{Gate: "risk_limits", Scope: "global", Status: core.GatePass, EvaluatedAt: h.clock.Now(), TTLSeconds: 86400}}}); err != nil {
		t.Fatalf("SetGates: %v", err)
	}
	h.cfg = Config{APIURL: h.slack.URL(), BotToken: testBotToken, SigningSecret: testSigning,
		AuditChannel: "C0AUDIT", ApproversChannel: "C0APPROVERS", Clock: h.clock,
		RunbookBaseURL: "https://runbooks.example/", AckBudget: 500 * time.Millisecond, CheckpointInterval: 20 * time.Millisecond,
		HomeRefresh: 20 * time.Millisecond}
	if tweak != nil {
		tweak(&h.cfg)
	}
	h.startAdapter()
	t.Cleanup(func() {
		h.stopAdapter()
		h.assertNoSecrets()
	})
	return h
}

// newEngine builds the core from the harness's ledger (replaying it, as
// a restart does).
func (h *harness) newEngine() *core.Engine {
	h.t.Helper()
	deps := core.Deps{Auditor: h.audit, Clock: h.clock, Actions: &coretest.Actions{}, Bundler: &coretest.Bundler{}}
	if h.deps != nil {
		h.deps(&deps)
	}
	eng, err := core.New(context.Background(), core.Config{
		Environment: "dev", Policy: policy.Demo(),
		Bots: []core.BotConfig{{ID: "alpha", Group: "majors", Driver: h.driver}, {ID: "beta", Group: "majors", Driver: h.driver}},
	}, deps)
	if err != nil {
		h.t.Fatalf("core.New: %v", err)
	}
	return eng
}

// startAdapter starts an adapter on h.engine: Run, and HTTP mode.
func (h *harness) startAdapter() {
	h.t.Helper()
	a, err := New(h.cfg, h.engine, h.ledger, zerolog.New(h.logs), nil)
	if err != nil {
		h.t.Fatalf("New: %v", err)
	}
	h.a = a
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(runCtx); close(done) }()
	h.srv = httptest.NewServer(a.Handler())
	h.sender = fakeslack.Sender{BaseURL: h.srv.URL, Secret: testSigning, Now: h.clock.Now}
	srv := h.srv
	h.stopAdapter = func() {
		srv.Close()
		stop()
		<-done
		a.Close()
	}
}

// restart stops the adapter and the core and starts both again from the
// ledger: everything the adapter held in memory is gone.
func (h *harness) restart() {
	h.t.Helper()
	h.stopAdapter()
	h.engine = h.newEngine()
	h.startAdapter()
}

// assertNoSecrets checks every call to Slack (besides its auth token) and
// every log line for the configured secrets.
func (h *harness) assertNoSecrets() {
	h.t.Helper()
	var all strings.Builder
	for _, c := range h.slack.Calls() {
		all.WriteString(c.Params.Encode())
		all.Write(c.JSON)
	}
	all.WriteString(h.logs.String())
	for _, raw := range h.audit.Raw() {
		all.Write(raw)
	}
	for _, s := range []string{testBotToken, testSigning, testAppToken} {
		if strings.Contains(all.String(), s) {
			h.t.Errorf("secret %q found in Slack traffic, logs or ledger", s)
		}
	}
}

type reply struct {
	status  int
	body    string
	elapsed time.Duration
}

func readReply(t *testing.T, resp *http.Response, err error, start time.Time) reply {
	t.Helper()
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, body: string(b), elapsed: time.Since(start)}
}

// command sends a signed slash command and returns the reply and the
// response_url the adapter answers on.
func (h *harness) command(user, channel, text string) (reply, string) {
	h.t.Helper()
	ru := h.slack.NewResponseURL()
	sc := fakeslack.SlashCommand{TeamID: "T0", ChannelID: channel, UserID: user, Command: "/warden", Text: text,
		TriggerID: "trig-" + itoa(h.trig.Add(1)), ResponseURL: ru}
	start := time.Now()
	resp, err := h.sender.Command(context.Background(), sc)
	return readReply(h.t, resp, err, start), ru
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func (h *harness) click(user, channel, ts, action, value string) (reply, string) {
	h.t.Helper()
	ru := h.slack.NewResponseURL()
	c := fakeslack.Click{TeamID: "T0", UserID: user, ChannelID: channel, MessageTS: ts, ActionID: action, BlockID: "challenge",
		Value: value, TriggerID: "trig-" + itoa(h.trig.Add(1)), ResponseURL: ru}
	start := time.Now()
	resp, err := h.sender.Interaction(context.Background(), c.JSON())
	return readReply(h.t, resp, err, start), ru
}

func (h *harness) submit(user, challengeID, typed, reason string) reply {
	h.t.Helper()
	s := fakeslack.Submission{TeamID: "T0", UserID: user, ViewID: "V1", CallbackID: callbackModal, PrivateMetadata: challengeID,
		Values: map[string]map[string]string{blockTyped: {inputAction: typed}, blockReason: {inputAction: reason}}}
	start := time.Now()
	resp, err := h.sender.Interaction(context.Background(), s.JSON())
	return readReply(h.t, resp, err, start)
}

// waitFor polls cond until it holds or 20 s pass: generous, because
// what it waits for happens in the adapter's goroutines, which a loaded
// machine running every package's tests under -race can hold back; a
// passing wait ends as soon as cond holds.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		select {
		case <-h.slack.Changed():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// responseTo returns the texts posted to response_url ru so far.
func (h *harness) responseTo(ru string) string {
	var out []string
	for _, r := range h.slack.Responses() {
		if r.URL == ru {
			out = append(out, r.Text+"\n"+fakeslack.Texts(r.Blocks))
		}
	}
	return strings.Join(out, "\n")
}

// challengeMsg waits for the challenge message in channel and returns it
// with its challenge id.
func (h *harness) challengeMsg(channel string) (fakeslack.Message, string) {
	h.t.Helper()
	var m fakeslack.Message
	var id string
	h.waitFor("challenge message in "+channel, func() bool {
		for _, x := range h.slack.Messages(channel) {
			if v, ok := fakeslack.ButtonValue(x.Blocks, actionConfirm); ok {
				m, id = x, v
				return true
			}
		}
		return false
	})
	return m, id
}

func (h *harness) botState(id string) string {
	for _, b := range h.engine.Snapshot().Bots {
		if b.ID == id {
			return string(b.State)
		}
	}
	return ""
}

func do(req *http.Request) (int, error) {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func nopCloser(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }
