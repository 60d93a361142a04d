package chatops

import (
	"net/url"
	"strings"
	"testing"

	"github.com/botwarden/botwarden/chatops/fakeslack"
)

// FuzzDecodeInteraction checks that no interactivity body or event
// payload makes decoding panic.
func FuzzDecodeInteraction(f *testing.F) {
	click := fakeslack.Click{UserID: "U1", ActionID: actionConfirm, Value: "ch-1"}.JSON()
	sub := fakeslack.Submission{UserID: "U1", CallbackID: callbackModal, Values: map[string]map[string]string{blockTyped: {inputAction: "alpha"}}}.JSON()
	for _, p := range [][]byte{click, sub, []byte(`{"type":"block_actions","actions":[{}]}`), []byte(`{`)} {
		f.Add([]byte(url.Values{"payload": {string(p)}}.Encode()))
	}
	f.Add(fakeslack.AppHomeOpened("T", "U1", "Ev1"))
	f.Add(fakeslack.URLVerification("abc"))
	f.Fuzz(func(t *testing.T, body []byte) {
		ic, err := decodeInteraction(body)
		if err == nil && ic.View.State != nil {
			_ = inputValue(ic, blockTyped)
		}
		a := &Adapter{}
		_, _, _ = a.onEventParseOnly(body)
	})
}

func TestDecodeInteraction_Submission(t *testing.T) {
	t.Parallel()
	sub := fakeslack.Submission{UserID: "U1", CallbackID: callbackModal, PrivateMetadata: "ch-9",
		Values: map[string]map[string]string{blockTyped: {inputAction: "alpha"}, blockReason: {inputAction: "why"}}}.JSON()
	ic, err := decodeInteraction([]byte(url.Values{"payload": {string(sub)}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if ic.View.PrivateMetadata != "ch-9" || inputValue(ic, blockTyped) != "alpha" || inputValue(ic, blockReason) != "why" || ic.User.ID != "U1" {
		t.Fatalf("decoded %+v", ic.View)
	}
	if _, err := decodeInteraction([]byte("payload=")); err == nil {
		t.Fatal("empty payload accepted")
	}
}

func TestHelp_ListsOnlyWhatTheUserMayRun(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	cases := []struct {
		user      string
		want, not []string
	}{
		{"U0VIEWER", []string{"status"}, []string{"start BOT", "killswitch release", "audit head", "quarantine"}},
		{"U0OPERATOR", []string{"start BOT", "stop BOT", "bundle"}, []string{"killswitch release", "release BOT", "audit head"}},
		{"U0ADMIN", []string{"gate override", "data delete", "audit verify", "secret rotate"}, nil},
		{"U0NOBODY", []string{"no operating role"}, []string{"status [BOT]"}},
	}
	for _, tc := range cases {
		_, ru := h.command(tc.user, "C0OPS", "help")
		h.waitFor("help for "+tc.user, func() bool { return h.responseTo(ru) != "" })
		got := h.responseTo(ru)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s help lacks %q:\n%s", tc.user, w, got)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("%s help offers %q:\n%s", tc.user, n, got)
			}
		}
	}
}

func TestCommand_SyntaxErrorAnsweredInAck(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	r, _ := h.command("U0OPERATOR", "C0OPS", "strat alpha --mode live")
	if r.status != 200 || !strings.Contains(r.body, "did you mean start?") || !strings.Contains(r.body, `"response_type":"ephemeral"`) {
		t.Fatalf("ack = %d %s", r.status, r.body)
	}
	if h.audit.Len() == 0 {
		t.Fatal("harness ledger unexpectedly empty")
	}
}

func TestHome_PerUser(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.command("U0OPERATOR", "C0OPS", "start alpha --mode live")
	h.challengeMsg("C0APPROVERS")
	for _, u := range []string{"U0APPROVER", "U0VIEWER", "U0NOBODY"} {
		resp, err := h.sender.Event(t.Context(), fakeslack.AppHomeOpened("T0", u, "Ev-"+u))
		readReply(t, resp, err, h.clock.Now())
	}
	h.waitFor("homes", func() bool {
		_, a := h.slack.Home("U0APPROVER")
		_, v := h.slack.Home("U0VIEWER")
		_, n := h.slack.Home("U0NOBODY")
		return a && v && n
	})
	ap, _ := h.slack.Home("U0APPROVER")
	vw, _ := h.slack.Home("U0VIEWER")
	if ids := fakeslack.ActionIDs(ap.JSON); len(ids) != 2 || !strings.Contains(fakeslack.Texts(ap.JSON), "LIVE") {
		t.Fatalf("approver home actions = %v\n%s", ids, fakeslack.Texts(ap.JSON))
	}
	if ids := fakeslack.ActionIDs(vw.JSON); len(ids) != 0 {
		t.Fatalf("viewer home offers actions %v", ids)
	}
	if txt := fakeslack.Texts(vw.JSON); strings.Contains(txt, "start BOT") || !strings.Contains(txt, "alpha") || !strings.Contains(txt, "safety") {
		t.Fatalf("viewer home:\n%s", txt)
	}
	// No role, no fleet: least privilege holds in the App Home too.
	nb, _ := h.slack.Home("U0NOBODY")
	if txt := fakeslack.Texts(nb.JSON); strings.Contains(txt, "alpha") || strings.Contains(txt, "safety") || len(fakeslack.ActionIDs(nb.JSON)) != 0 {
		t.Fatalf("home of a user with no role:\n%s", txt)
	}
}

func TestEvents_URLVerification(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	resp, err := h.sender.Event(t.Context(), fakeslack.URLVerification("xyz123"))
	r := readReply(t, resp, err, h.clock.Now())
	if r.status != 200 || !strings.Contains(r.body, `"challenge":"xyz123"`) {
		t.Fatalf("reply = %d %s", r.status, r.body)
	}
}

// Replies to someone who may not see status carry no state line (safety,
// gates, kill-switch): a help, a refusal, a list of challenges.
func TestReplies_NoStateLineWithoutStatus(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, text := range []string{"help", "stop alpha", "status alpha", "challenges"} {
		_, ru := h.command("U0NOBODY", "C0OPS", text)
		h.waitFor(text+" answered", func() bool { return h.responseTo(ru) != "" })
		if got := h.responseTo(ru); strings.Contains(got, "safety") || strings.Contains(got, "kill-switch") {
			t.Fatalf("%q to a user with no role shows the state: %s", text, got)
		}
	}
	_, ru := h.command("U0VIEWER", "C0OPS", "help")
	h.waitFor("viewer help", func() bool { return h.responseTo(ru) != "" })
	if got := h.responseTo(ru); !strings.Contains(got, "safety") {
		t.Fatalf("a viewer's help lacks the state line: %s", got)
	}
}
