package chatops

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/botwarden/botwarden/chatops/fakeslack"
)

// socketHarness is the harness with the adapter serving Socket Mode
// against the fake's apps.connections.open and WebSocket.
func socketHarness(t *testing.T) *harness {
	t.Helper()
	var h *harness
	h = newHarness(t, func(c *Config) { c.AppToken = testAppToken })
	h.slack.AppToken = testAppToken
	h.slack.PingInterval = 200 * time.Millisecond
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.a.RunSocketMode(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("RunSocketMode: %v", err)
		}
	})
	h.waitFor("socket connected", h.slack.Connected)
	return h
}

func (h *harness) ackOf(id string, err error) string {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("deliver: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a, err := h.slack.WaitAck(ctx, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(a.Payload)
}

func TestSocketMode_LiveStartConfirmRoundTrip(t *testing.T) {
	t.Parallel()
	h := socketHarness(t)
	if calls := h.slack.CallsTo("apps.connections.open"); len(calls) == 0 || calls[0].Token != testAppToken {
		t.Fatalf("apps.connections.open not called with the app token: %+v", calls)
	}
	ru := h.slack.NewResponseURL()
	sc := fakeslack.SlashCommand{TeamID: "T0", ChannelID: "C0OPS", UserID: "U0OPERATOR", Command: "/warden",
		Text: `start alpha --mode live --reason "socket test"`, TriggerID: "trig-s1", ResponseURL: ru}
	if ack := h.ackOf(h.slack.DeliverCommand(sc)); ack != "" && ack != "null" {
		t.Fatalf("command ack payload = %s, want empty (answer follows)", ack)
	}
	msg, id := h.challengeMsg("C0APPROVERS")
	h.waitFor("requester told", func() bool { return strings.Contains(h.responseTo(ru), "needs confirmation") })

	click := fakeslack.Click{TeamID: "T0", UserID: "U0APPROVER", ChannelID: "C0APPROVERS", MessageTS: msg.TS,
		ActionID: actionConfirm, BlockID: "challenge", Value: id, TriggerID: "trig-s2", ResponseURL: h.slack.NewResponseURL()}
	h.ackOf(h.slack.DeliverInteraction(click.JSON()))
	h.waitFor("modal", func() bool { return len(h.slack.Views()) == 1 })

	sub := func(typed string) string {
		s := fakeslack.Submission{TeamID: "T0", UserID: "U0APPROVER", ViewID: "V1", CallbackID: callbackModal, PrivateMetadata: id,
			Values: map[string]map[string]string{blockTyped: {inputAction: typed}, blockReason: {inputAction: "over the socket"}}}
		return h.ackOf(h.slack.DeliverInteraction(s.JSON()))
	}
	if ack := sub("alhpa"); !strings.Contains(ack, `"response_action":"errors"`) {
		t.Fatalf("wrong target ack = %s", ack)
	}
	if h.botState("alpha") != "IDLE" {
		t.Fatal("wrong target had an effect")
	}
	if ack := sub("alpha"); strings.Contains(ack, "errors") {
		t.Fatalf("confirm ack = %s", ack)
	}
	h.waitFor("message closed", func() bool {
		m, _ := h.slack.Message("C0APPROVERS", msg.TS)
		return strings.Contains(fakeslack.Texts(m.Blocks), "Confirmed") && len(fakeslack.ActionIDs(m.Blocks)) == 0
	})
	if got := h.botState("alpha"); got != "RUNNING_LIVE" {
		t.Fatalf("alpha = %s", got)
	}
}

func TestSocketMode_SyntaxErrorInAckAndRedeliveryOnce(t *testing.T) {
	t.Parallel()
	h := socketHarness(t)
	ack := h.ackOf(h.slack.DeliverCommand(fakeslack.SlashCommand{TeamID: "T0", ChannelID: "C0OPS", UserID: "U0OPERATOR",
		Command: "/warden", Text: "strat alpha", TriggerID: "trig-x", ResponseURL: h.slack.NewResponseURL()}))
	if !strings.Contains(ack, "did you mean start") || !strings.Contains(ack, "ephemeral") {
		t.Fatalf("syntax error ack = %s", ack)
	}

	sc := fakeslack.SlashCommand{TeamID: "T0", ChannelID: "C0OPS", UserID: "U0OPERATOR", Command: "/warden",
		Text: "start alpha --mode paper", TriggerID: "trig-p", ResponseURL: h.slack.NewResponseURL()}
	payload := map[string]string{}
	for k, v := range sc.Form() {
		payload[k] = v[0]
	}
	id, err := h.slack.DeliverCommand(sc)
	h.ackOf(id, err)
	h.waitFor("paper start", func() bool { return h.botState("alpha") == "RUNNING_PAPER" })
	if err := h.slack.Redeliver(id, "slash_commands", mustJSON(t, payload)); err != nil {
		t.Fatal(err)
	}
	h.waitFor("second ack", func() bool { return len(h.slack.CallsTo("socket_ack")) >= 3 })
	time.Sleep(50 * time.Millisecond)
	if n := len(h.driver.CallsTo("Start")); n != 1 {
		t.Fatalf("driver started %d times after a redelivery, want 1", n)
	}
}

func TestSocketMode_ReconnectsWhenAsked(t *testing.T) {
	t.Parallel()
	h := socketHarness(t)
	if err := h.slack.Disconnect(); err != nil {
		t.Fatal(err)
	}
	h.waitFor("reconnect", func() bool { return h.slack.SocketConnects() >= 2 && h.slack.Connected() })
	// App Home over the new connection.
	h.ackOf(h.slack.DeliverEvent(fakeslack.AppHomeOpened("T0", "U0VIEWER", "Ev1")))
	h.waitFor("home published", func() bool { _, ok := h.slack.Home("U0VIEWER"); return ok })
}

func TestSocketMode_BadAppTokenFails(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *Config) { c.AppToken = "xapp-wrong" })
	h.slack.AppToken = testAppToken
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.a.RunSocketMode(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("RunSocketMode with a refused token = %v (ctx %v), want an error at once", err, ctx.Err())
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
