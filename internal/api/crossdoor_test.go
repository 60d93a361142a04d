package api_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/botwarden/botwarden/chatops"
	"github.com/botwarden/botwarden/chatops/fakeslack"
	"github.com/botwarden/botwarden/internal/api"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

const slackSigning = "test-signing-secret-0123456789"

// slackSide mounts the real Slack adapter on the env's mux, against a
// fake Slack, and returns a sender of signed Slack requests.
func (e *env) slackSide(t *testing.T) fakeslack.Sender {
	t.Helper()
	fs := fakeslack.Start()
	fs.Token = "xoxb-test-token"
	t.Cleanup(fs.Close)
	a, err := chatops.New(chatops.Config{APIURL: fs.URL(), BotToken: "xoxb-test-token", SigningSecret: slackSigning,
		AuditChannel: "C0AUDIT", ApproversChannel: "C0APPROVERS", Clock: e.clock, AckBudget: 2 * time.Second},
		e.engine, nil, zerolog.Nop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	t.Cleanup(func() { stop(); <-done; a.Close() })
	e.mux.Handle("/slack/", a.Handler())
	return fakeslack.Sender{BaseURL: e.srv.URL, Secret: slackSigning, Now: e.clock.Now}
}

func post(t *testing.T, resp *http.Response, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("slack request: %s", resp.Status)
	}
}

func (e *env) openChallenge(t *testing.T, target string) core.Challenge {
	t.Helper()
	for range 200 {
		for _, ch := range e.engine.Snapshot().Challenges {
			if ch.Command.Target == target {
				return ch
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no open challenge on %s", target)
	return core.Challenge{}
}

func slackConfirm(t *testing.T, s fakeslack.Sender, user, id, typed string) {
	t.Helper()
	sub := fakeslack.Submission{TeamID: "T0", UserID: user, ViewID: "V1", CallbackID: "challenge_confirm_modal", PrivateMetadata: id,
		Values: map[string]map[string]string{"typed_target": {"value": typed}, "reason": {"value": "checked in slack"}}}
	resp, err := s.Interaction(context.Background(), sub.JSON())
	post(t, resp, err)
}

// A challenge asked in Slack is confirmed through the API by another
// approver, and the reverse; either way exactly one effect, and the other
// door then finds the challenge closed.
func TestAPI_ChallengesCrossDoors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	slack := e.slackSide(t)
	op, appr := e.client(coretest.Operator), e.client(coretest.Approver)

	// Slack -> API.
	resp, err := slack.Command(bg, fakeslack.SlashCommand{TeamID: "T0", ChannelID: "C0OPS", UserID: coretest.Operator,
		Command: "/warden", Text: `start alpha --mode live --reason "from slack"`, TriggerID: "t1"})
	post(t, resp, err)
	ch := e.openChallenge(t, "alpha")
	o, err := appr.Confirm(bg, ch.ID, api.ConfirmBody{Reason: "confirmed via api", TypedTarget: "alpha"})
	if err != nil || o.Status != core.StatusApplied || o.To != lifecycle.RunningLive {
		t.Fatalf("API confirm of a Slack challenge = %+v, %v", o, err)
	}
	slackConfirm(t, slack, coretest.Approver2, ch.ID, "alpha")

	// API -> Slack.
	out, err := op.Submit(bg, api.CommandRequest{Target: "beta", Op: core.OpStart, Params: core.Params{Mode: lifecycle.Live}}, "x-api")
	if err != nil || out.Challenge == nil {
		t.Fatalf("API request = %+v, %v", out, err)
	}
	slackConfirm(t, slack, coretest.Approver, out.Challenge.ID, "beta")
	var got core.Outcome
	for range 200 {
		if err := op.Do(bg, http.MethodGet, "/v1/commands/x-api", nil, nil, &got); err == nil && got.Status == core.StatusApplied {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got.Status != core.StatusApplied {
		t.Fatalf("Slack confirm of an API challenge: outcome %+v", got)
	}
	o, err = e.client(coretest.Approver2).Confirm(bg, out.Challenge.ID, api.ConfirmBody{Reason: "late", TypedTarget: "beta"})
	if err != nil || o.Reason != core.ReasonChallengeClosed {
		t.Fatalf("second confirm through the API = %+v, %v", o, err)
	}

	starts := map[string]int{}
	for _, c := range e.driver.CallsTo("Start") {
		starts[c.Bot]++
	}
	if starts["alpha"] != 1 || starts["beta"] != 1 {
		t.Fatalf("driver starts = %v, want exactly one per challenge", starts)
	}
}
