package playground

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/botwarden/botwarden/chatops"
	"github.com/botwarden/botwarden/chatops/fakeslack"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/policy"
)

const (
	testSigning = "pg-test-signing-SECRET"
	testToken   = "xoxb-pg-test-SECRET"
)

var testUsers = []User{
	{ID: "U0OPERATOR", Name: "operator", Roles: []string{"operator"}},
	{ID: "U0APPROVER", Name: "approver", Roles: []string{"approver"}},
	{ID: "U0VIEWER", Name: "viewer", Roles: []string{"viewer"}},
}

var testChannels = []Channel{{ID: "C0OPS", Name: "ops"}, {ID: "C0APPROVERS", Name: "approvers"}, {ID: "C0AUDIT", Name: "audit"}}

// rig is a playground served on 127.0.0.1 in front of bot.
type rig struct {
	t    *testing.T
	pg   *Server
	page *httptest.Server // what the browser talks to
}

func newRig(t *testing.T, bot http.Handler, ledger Ledger) *rig {
	t.Helper()
	pg, err := New(Config{SigningSecret: testSigning, BotToken: testToken, Users: testUsers, Channels: testChannels, Ledger: ledger})
	if err != nil {
		t.Fatal(err)
	}
	page := httptest.NewServer(pg.Handler())
	t.Cleanup(page.Close)
	pg.SetBaseURL(page.URL)
	if bot != nil {
		botSrv := httptest.NewServer(bot)
		t.Cleanup(botSrv.Close)
		pg.SetBotURL(botSrv.URL)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { pg.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &rig{t: t, pg: pg, page: page}
}

// post sends a JSON body as the page does and decodes the answer.
func (r *rig) post(path string, body any) (int, map[string]any) {
	r.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(r.page.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v
}

func (r *rig) state(user string) State {
	r.t.Helper()
	resp, err := http.Get(r.page.URL + "/play/state?user=" + url.QueryEscape(user))
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		r.t.Fatalf("state: %v", err)
	}
	return st
}

// waitState polls what user sees until cond holds or 20 s pass (generous
// for a loaded machine; a passing wait ends as soon as cond holds).
func (r *rig) waitState(user, what string, cond func(State) bool) State {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := r.state(user)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s; %s sees:\n%s", what, user, dump(st))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dump(st State) string {
	var sb strings.Builder
	for _, it := range st.Items {
		sb.WriteString(it.Kind + " " + it.Channel + " " + it.User + ": " + itemText(it) + "\n")
	}
	return sb.String()
}

// itemText is everything readable in an item.
func itemText(it Item) string {
	return it.Text + " " + string(it.Blocks)
}

func find(st State, channel, contains string) (Item, bool) {
	for _, it := range st.Items {
		if it.Channel == channel && strings.Contains(itemText(it), contains) {
			return it, true
		}
	}
	return Item{}, false
}

// engineBot is the real adapter in HTTP mode over a real engine (demo
// policy, fake driver), talking to the rig's fake Web API.
type engineBot struct {
	engine *core.Engine
	driver *coretest.Driver
}

func newEngineRig(t *testing.T) (*rig, *engineBot) {
	t.Helper()
	ctx := context.Background()
	clock := coretest.NewClock(time.Now().Truncate(time.Second))
	eb := &engineBot{driver: coretest.NewDriver()}
	eng, err := core.New(ctx, core.Config{Environment: "dev", Policy: policy.Demo(),
		Bots: []core.BotConfig{{ID: "alpha", Group: "majors", Driver: eb.driver}}},
		core.Deps{Auditor: coretest.NewMemAuditor(), Clock: clock, Actions: &coretest.Actions{}, Bundler: &coretest.Bundler{}})
	if err != nil {
		t.Fatal(err)
	}
	eb.engine = eng
	if err := eng.SetSafety(ctx, core.SafetyDoc{SchemaVersion: core.SchemaVersion, Mode: core.SafetyNormal, Source: "test", UpdatedAt: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := eng.SetGates(ctx, core.GatesDoc{SchemaVersion: core.SchemaVersion, Source: "test", Results: []core.GateResult{
		{Gate: "risk_limits", Scope: "global", Status: core.GatePass, EvaluatedAt: clock.Now(), TTLSeconds: 86400}}}); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, nil, nil)
	a, err := chatops.New(chatops.Config{APIURL: r.pg.APIURL(), BotToken: testToken, SigningSecret: testSigning,
		AuditChannel: "C0AUDIT", ApproversChannel: "C0APPROVERS", AckBudget: 2 * time.Second}, eng, nil, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = a.Run(runCtx); close(done) }()
	botSrv := httptest.NewServer(a.Handler())
	r.pg.SetBotURL(botSrv.URL)
	t.Cleanup(func() { botSrv.Close(); stop(); <-done; a.Close() })
	return r, eb
}

func (e *engineBot) state(bot string) string {
	for _, b := range e.engine.Snapshot().Bots {
		if b.ID == bot {
			return string(b.State)
		}
	}
	return ""
}

// recordingBot answers like a bot and keeps every request it got.
type recordingBot struct {
	reqs   chan *http.Request
	bodies chan []byte
	answer string
}

func newRecordingBot(answer string) *recordingBot {
	return &recordingBot{reqs: make(chan *http.Request, 10), bodies: make(chan []byte, 10), answer: answer}
}

func (b *recordingBot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	b.reqs <- r
	b.bodies <- body
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, b.answer)
}

// buttonValue returns the challenge id the Confirm button carries.
func buttonValue(it Item) (string, bool) {
	return fakeslack.ButtonValue(it.Blocks, "challenge_confirm")
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
