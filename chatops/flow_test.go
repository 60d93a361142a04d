package chatops

import (
	"encoding/json"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botwarden/botwarden/chatops/fakeslack"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/policy"
)

func TestFlow_LiveStartChallengeModalConfirm(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	r, ru := h.command("U0OPERATOR", "C0OPS", `start alpha --mode live --reason "market open"`)
	if r.status != 200 {
		t.Fatalf("ack = %d %s", r.status, r.body)
	}
	msg, id := h.challengeMsg("C0APPROVERS")
	txt := fakeslack.Texts(msg.Blocks)
	for _, want := range []string{"LIVE", "alpha", "U0OPERATOR", "market open", "RUNNING_LIVE", "IDLE", "dev", "NORMAL", "Expires"} {
		if !strings.Contains(txt, want) {
			t.Errorf("challenge message lacks %q:\n%s", want, txt)
		}
	}
	h.waitFor("requester told", func() bool { return strings.Contains(h.responseTo(ru), "needs confirmation") })
	if len(h.driver.CallsTo("Start")) != 0 {
		t.Fatal("driver started before any confirm")
	}

	// The approver's Confirm opens the modal that asks for the bot id.
	h.click("U0APPROVER", "C0APPROVERS", msg.TS, actionConfirm, id)
	h.waitFor("modal", func() bool { return len(h.slack.Views()) == 1 })
	modal := string(h.slack.Views()[0].JSON)
	if !strings.Contains(modal, id) || !strings.Contains(modal, "Type alpha to confirm") {
		t.Fatalf("modal = %s", modal)
	}

	// A wrong target is shown in the modal and confirms nothing.
	r = h.submit("U0APPROVER", id, "alpah", "looks fine")
	if !strings.Contains(r.body, `"response_action":"errors"`) || !strings.Contains(r.body, blockTyped) {
		t.Fatalf("wrong target reply = %s", r.body)
	}
	if ch, _ := h.engine.Challenge(id); ch.State != core.ChallengeOpen || len(h.driver.CallsTo("Start")) != 0 {
		t.Fatalf("wrong target changed something: %s, %d starts", ch.State, len(h.driver.CallsTo("Start")))
	}

	r = h.submit("U0APPROVER", id, "alpha", "checked the book")
	if r.status != 200 || strings.Contains(r.body, "errors") {
		t.Fatalf("confirm reply = %d %s", r.status, r.body)
	}
	h.waitFor("message updated", func() bool {
		m, _ := h.slack.Message("C0APPROVERS", msg.TS)
		return len(fakeslack.ActionIDs(m.Blocks)) == 0
	})
	m, _ := h.slack.Message("C0APPROVERS", msg.TS)
	if txt := fakeslack.Texts(m.Blocks); !strings.Contains(txt, "Confirmed") || !strings.Contains(txt, "U0APPROVER") {
		t.Fatalf("ended message = %s", txt)
	}
	if got := h.botState("alpha"); got != "RUNNING_LIVE" {
		t.Fatalf("alpha = %s", got)
	}
	if starts := h.driver.CallsTo("Start"); len(starts) != 1 || starts[0].Mode != "live" {
		t.Fatalf("driver starts = %+v", starts)
	}
	h.waitFor("audit channel thread", func() bool {
		for _, m := range h.slack.Messages("C0AUDIT") {
			if m.ThreadTS != "" && strings.Contains(m.Text, "bot.state.transition") {
				return true
			}
		}
		return false
	})
}

func TestFlow_Reject(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.command("U0OPERATOR", "C0OPS", "start alpha --mode live")
	msg, id := h.challengeMsg("C0APPROVERS")
	h.click("U0APPROVER", "C0APPROVERS", msg.TS, actionReject, id)
	h.waitFor("rejected message", func() bool {
		m, _ := h.slack.Message("C0APPROVERS", msg.TS)
		return strings.Contains(fakeslack.Texts(m.Blocks), "Rejected") && len(fakeslack.ActionIDs(m.Blocks)) == 0
	})
	// A late confirm on the old message has no effect.
	r := h.submit("U0APPROVER2", id, "alpha", "too late")
	if r.status != 200 {
		t.Fatalf("late submit = %d", r.status)
	}
	time.Sleep(50 * time.Millisecond)
	if len(h.driver.CallsTo("Start")) != 0 || h.botState("alpha") != "IDLE" {
		t.Fatalf("rejected challenge had an effect: %s", h.botState("alpha"))
	}
}

func TestFlow_Expiry(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.command("U0OPERATOR", "C0OPS", "start alpha --mode live")
	msg, id := h.challengeMsg("C0APPROVERS")
	h.clock.Advance(6 * time.Minute)
	h.engine.Tick(t.Context())
	h.waitFor("expired message", func() bool {
		m, _ := h.slack.Message("C0APPROVERS", msg.TS)
		return strings.Contains(fakeslack.Texts(m.Blocks), "Expired") && len(fakeslack.ActionIDs(m.Blocks)) == 0
	})
	// Clicking the stale message's button afterwards confirms nothing.
	h.clock.Advance(time.Second)
	h.submit("U0APPROVER", id, "alpha", "after expiry")
	time.Sleep(50 * time.Millisecond)
	if len(h.driver.CallsTo("Start")) != 0 {
		t.Fatal("expired challenge started the bot")
	}
}

func TestFlow_SelfConfirmRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.command("U0ADMIN", "C0OPS", "start alpha --mode live")
	msg, id := h.challengeMsg("C0APPROVERS")
	_, ru := h.click("U0ADMIN", "C0APPROVERS", msg.TS, actionConfirm, id)
	h.waitFor("denial", func() bool { return h.responseTo(ru) != "" })
	if got := h.responseTo(ru); !strings.Contains(got, "denied") {
		t.Fatalf("self confirm answer = %s", got)
	}
	if len(h.slack.Views()) != 0 {
		t.Fatal("requester was offered the confirm modal")
	}
	// Even a forged submission is refused by the core.
	h.submit("U0ADMIN", id, "alpha", "me myself")
	time.Sleep(50 * time.Millisecond)
	if ch, _ := h.engine.Challenge(id); ch.State != core.ChallengeOpen || len(h.driver.CallsTo("Start")) != 0 {
		t.Fatalf("self confirm had an effect: %s", ch.State)
	}
}

func TestFlow_ViewerClickDenied(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.command("U0OPERATOR", "C0OPS", "start alpha --mode live")
	msg, id := h.challengeMsg("C0APPROVERS")
	for _, action := range []string{actionConfirm, actionReject} {
		_, ru := h.click("U0VIEWER", "C0APPROVERS", msg.TS, action, id)
		h.waitFor("denial of "+action, func() bool { return h.responseTo(ru) != "" })
		if got := h.responseTo(ru); !strings.Contains(got, "denied") {
			t.Fatalf("viewer %s answer = %s", action, got)
		}
	}
	if len(h.slack.Views()) != 0 {
		t.Fatal("viewer was offered the confirm modal")
	}
	if ch, _ := h.engine.Challenge(id); ch.State != core.ChallengeOpen {
		t.Fatalf("viewer changed the challenge: %s", ch.State)
	}
}

func TestFlow_ConcurrentApproversOneEffect(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.command("U0OPERATOR", "C0OPS", "start alpha --mode live")
	msg, id := h.challengeMsg("C0APPROVERS")
	var wg sync.WaitGroup
	for _, u := range []string{"U0APPROVER", "U0APPROVER2", "U0APPROVER"} { // two approvers, one double-submits
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.submit(u, id, "alpha", "go")
		}()
	}
	wg.Wait()
	h.waitFor("message closed", func() bool {
		m, _ := h.slack.Message("C0APPROVERS", msg.TS)
		return strings.Contains(fakeslack.Texts(m.Blocks), "Confirmed")
	})
	if n := len(h.driver.CallsTo("Start")); n != 1 {
		t.Fatalf("driver started %d times, want exactly 1", n)
	}
	ch, _ := h.engine.Challenge(id)
	m, _ := h.slack.Message("C0APPROVERS", msg.TS)
	if !strings.Contains(fakeslack.Texts(m.Blocks), "<@"+ch.EndedBy+">") {
		t.Fatalf("message does not name the winner %s:\n%s", ch.EndedBy, fakeslack.Texts(m.Blocks))
	}
}

func TestFlow_DuplicateDeliveryOneEffect(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ru := h.slack.NewResponseURL()
	sc := fakeslack.SlashCommand{TeamID: "T0", ChannelID: "C0OPS", UserID: "U0OPERATOR", Command: "/warden",
		Text: "start alpha --mode paper", TriggerID: "trig-dup", ResponseURL: ru}
	for i := 0; i < 2; i++ {
		resp, err := h.sender.Command(t.Context(), sc)
		readReply(t, resp, err, time.Now())
		h.clock.Advance(time.Second) // a redelivery is signed anew
		h.waitFor("answer", func() bool { return len(h.slack.Responses()) > i })
	}
	if n := len(h.driver.CallsTo("Start")); n != 1 {
		t.Fatalf("driver started %d times, want 1", n)
	}
	if got := h.responseTo(ru); !strings.Contains(got, "already received") {
		t.Fatalf("second answer does not say duplicate: %s", got)
	}
}

func TestFlow_SlowDriverAckWithinDeadline(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits out a slow driver")
	}
	h := newHarness(t, func(c *Config) { c.AckBudget = 2 * time.Second })
	h.driver.SetDelay(3500 * time.Millisecond)
	r, ru := h.command("U0OPERATOR", "C0OPS", "start alpha --mode paper")
	if r.status != 200 || r.elapsed > 2500*time.Millisecond {
		t.Fatalf("ack took %v (status %d); Slack allows 3s", r.elapsed, r.status)
	}
	// While the driver holds the core, a modal submission still answers in time.
	r = h.submit("U0APPROVER", "ch-unknown", "alpha", "x")
	if r.status != 200 || r.elapsed > 2500*time.Millisecond {
		t.Fatalf("submission ack took %v", r.elapsed)
	}
	h.waitFor("late result", func() bool { return strings.Contains(h.responseTo(ru), "applied") })
}

func TestFlow_RefusedRequests(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	body := []byte(fakeslack.SlashCommand{TeamID: "T0", ChannelID: "C0OPS", UserID: "U0OPERATOR", Command: "/warden",
		Text: "start alpha --mode paper", TriggerID: "t1", ResponseURL: h.slack.NewResponseURL()}.Form().Encode())
	ct := "application/x-www-form-urlencoded"
	post := func(name string, mutate func(req *fakeslack.Sender) (int, error)) {
		t.Helper()
		code, err := mutate(&h.sender)
		if err != nil || code != 401 {
			t.Errorf("%s: status %d err %v, want 401", name, code, err)
		}
	}
	before := h.audit.Len()
	post("unsigned", func(s *fakeslack.Sender) (int, error) {
		req, _ := s.Request(t.Context(), "/slack/commands", ct, body)
		req.Header.Del("X-Slack-Signature")
		return do(req)
	})
	post("bad signature", func(s *fakeslack.Sender) (int, error) {
		bad := *s
		bad.Secret = "wrong"
		req, _ := bad.Request(t.Context(), "/slack/commands", ct, body)
		return do(req)
	})
	post("tampered body", func(s *fakeslack.Sender) (int, error) {
		req, _ := s.Request(t.Context(), "/slack/commands", ct, body)
		req.Body = nopCloser(strings.Replace(string(body), "U0OPERATOR", "U0APPROVER", 1))
		return do(req)
	})
	post("stale", func(s *fakeslack.Sender) (int, error) {
		old := *s
		old.Now = func() time.Time { return h.clock.Now().Add(-6 * time.Minute) }
		req, _ := old.Request(t.Context(), "/slack/commands", ct, body)
		return do(req)
	})
	// A genuine request is accepted once; its replay is refused.
	req, _ := h.sender.Request(t.Context(), "/slack/commands", ct, body)
	replay := req.Clone(t.Context())
	replay.Body = nopCloser(string(body))
	if code, err := do(req); err != nil || code != 200 {
		t.Fatalf("genuine request: %d %v", code, err)
	}
	h.waitFor("genuine applied", func() bool { return h.botState("alpha") == "RUNNING_PAPER" })
	post("replayed", func(*fakeslack.Sender) (int, error) { return do(replay) })
	for _, ep := range []string{"/slack/interactivity", "/slack/events"} {
		req, _ := h.sender.Request(t.Context(), ep, ct, []byte("payload=%7B%7D"))
		req.Header.Set("X-Slack-Signature", "v0=00")
		if code, _ := do(req); code != 401 {
			t.Errorf("%s with a bad signature: %d", ep, code)
		}
	}
	if n := len(h.driver.CallsTo("Start")); n != 1 {
		t.Fatalf("driver started %d times, want only the genuine 1", n)
	}
	if got := h.audit.Len() - before; got == 0 {
		t.Fatal("genuine request left nothing in the ledger")
	}
}

// /warden status is the status operation, as POST /v1/commands makes it:
// recorded in the ledger, denials too, and refused when the ledger cannot
// record it. An answered status is not mirrored to the audit channel (a
// poller would flood it); a denied one is.
func TestStatus_RecordedLikeTheAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	response := func(ru string) string {
		var text string
		h.waitFor("the reply on "+ru, func() bool {
			for _, r := range h.slack.Responses() {
				if r.URL == ru {
					text = r.Text + string(r.Blocks)
					return true
				}
			}
			return false
		})
		return text
	}
	for range 3 {
		if _, ru := h.command("U0OPERATOR", "C0OPS", "status alpha"); !strings.Contains(response(ru), "Fleet") {
			t.Fatalf("operator's status: %s", response(ru))
		}
	}
	if _, ru := h.command("U0NOBODY", "C0OPS", "status alpha"); !strings.Contains(response(ru), string(core.ReasonForbidden)) || strings.Contains(response(ru), "Fleet") {
		t.Fatalf("status without a role: %s", response(ru))
	}
	recorded := map[string]int{}
	for _, raw := range h.audit.Raw() {
		var ev core.Event
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Op == core.OpStatus {
			recorded[ev.Actor+" "+ev.Type]++
		}
	}
	want := map[string]int{"U0OPERATOR " + core.EvRequested: 3, "U0OPERATOR " + core.EvApplied: 3,
		"U0NOBODY " + core.EvRequested: 1, "U0NOBODY " + core.EvDenied: 1}
	if !maps.Equal(recorded, want) {
		t.Errorf("status events in the ledger: %v, want %v", recorded, want)
	}

	h.command("U0OPERATOR", "C0OPS", "start alpha --mode paper --reason marker")
	posted := func(sub ...string) bool {
		for _, m := range h.slack.Messages("C0AUDIT") {
			all := true
			for _, s := range sub {
				all = all && strings.Contains(m.Text, s)
			}
			if all {
				return true
			}
		}
		return false
	}
	h.waitFor("the paper start's transition", func() bool { return posted("bot.state.transition", "`alpha`") })
	if posted("`status`", "outcome *applied*") || posted(core.EvRequested, "`status`") {
		t.Errorf("an answered status was posted to the audit channel: %v", h.slack.Messages("C0AUDIT"))
	}
	if !posted(core.EvDenied, "<@U0NOBODY>", "`status`") {
		t.Errorf("the denied status was not posted: %v", h.slack.Messages("C0AUDIT"))
	}

	// While the ledger cannot record, the operation is refused, and the
	// fleet is shown as a view (as the App Home shows it), said to be one.
	h.audit.SetFailing(true)
	if _, ru := h.command("U0OPERATOR", "C0OPS", "status alpha"); !strings.Contains(response(ru), string(core.ReasonLedgerUnavailable)) ||
		!strings.Contains(response(ru), "Fleet") || !strings.Contains(response(ru), "not recorded") {
		t.Errorf("status while the ledger cannot record: %s", response(ru))
	}
	if _, ru := h.command("U0NOBODY", "C0OPS", "status alpha"); strings.Contains(response(ru), "Fleet") {
		t.Errorf("a user without a role saw the fleet during the outage: %s", response(ru))
	}
}

// Every start of the service is posted to the audit channel once: its
// version and policy, and, after a restart that recorded no stop, that
// the previous run ended uncleanly.
func TestAudit_StartsPosted(t *testing.T) {
	h := newHarness(t, nil)
	starts := func() []string {
		var out []string
		for _, m := range h.slack.Messages("C0AUDIT") {
			if strings.Contains(m.Text, core.EvStarted) {
				out = append(out, m.Text)
			}
		}
		return out
	}
	_, digest := policy.Demo().Canonical()
	h.waitFor("the start's post", func() bool { return len(starts()) == 1 })
	if s := starts()[0]; !strings.Contains(s, "policy `"+digest[:len("sha256:")+12]+"`") || strings.Contains(s, "uncleanly") {
		t.Fatalf("start post %q", s)
	}
	h.restart() // the first engine recorded no stop: an unclean end
	h.waitFor("the second start's post", func() bool { return len(starts()) == 2 })
	if s := starts()[1]; !strings.Contains(s, "*the previous run ended uncleanly*") {
		t.Fatalf("second start post %q", s)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(starts()); n != 2 {
		t.Fatalf("%d start posts, want 2 (one per start)", n)
	}
}

// A start's line says what changed: the policy, the ledger's key, an
// unclean end; a plain restart says none of it.
func TestAuditLine_Start(t *testing.T) {
	plain := core.ServiceInfo{Version: "v1", PolicyDigest: "sha256:" + strings.Repeat("a", 64), LedgerKey: "k+1+A", PreviousRun: "stopped"}
	changed := plain
	changed.PreviousPolicyDigest, changed.PreviousLedgerKey, changed.PreviousRun = "sha256:"+strings.Repeat("b", 64), "k+0+Z", "unclean"
	for _, tc := range []struct {
		info        core.ServiceInfo
		want, never []string
	}{
		{plain, []string{"`v1`", "policy `sha256:aaaaaaaaaaaa`"}, []string{"changed", "uncleanly"}},
		{changed, []string{"*policy changed* `sha256:bbbbbbbbbbbb` → `sha256:aaaaaaaaaaaa`", "*the ledger's signing key changed*", "`k+1+A`", "*the previous run ended uncleanly*"}, nil},
	} {
		info := tc.info
		line := auditLine(7, core.Event{Type: core.EvStarted, Actor: core.SystemActor, Target: "global", Service: &info})
		for _, w := range tc.want {
			if !strings.Contains(line, w) {
				t.Errorf("line %q lacks %q", line, w)
			}
		}
		for _, n := range tc.never {
			if strings.Contains(line, n) {
				t.Errorf("line %q says %q", line, n)
			}
		}
	}
}
