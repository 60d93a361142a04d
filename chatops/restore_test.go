package chatops

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/botwarden/botwarden/chatops/fakeslack"
	"github.com/botwarden/botwarden/internal/core"
)

// auditRoot returns the ts of the audit-channel message that starts
// commandID's thread.
func (h *harness) auditRoot(commandID string) string {
	for _, m := range h.slack.Messages("C0AUDIT") {
		var md struct {
			Type    string         `json:"event_type"`
			Payload map[string]any `json:"event_payload"`
		}
		_ = json.Unmarshal(m.Metadata, &md)
		if m.ThreadTS == "" && md.Type == metaAudit && md.Payload["command_id"] == commandID {
			return m.TS
		}
	}
	return ""
}

func TestRestore_ChallengeMessagesAndThreadsSurviveRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.command("U0OPERATOR", "C0OPS", "start alpha --mode live")
	msgA, idA := h.challengeMsg("C0APPROVERS")
	h.command("U0OPERATOR", "C0OPS", "start beta --mode live")
	var msgB fakeslack.Message
	var idB string
	h.waitFor("second challenge", func() bool {
		for _, m := range h.slack.Messages("C0APPROVERS") {
			if v, ok := fakeslack.ButtonValue(m.Blocks, actionConfirm); ok && v != idA {
				msgB, idB = m, v
				return true
			}
		}
		return false
	})
	chA, _ := h.engine.Challenge(idA)
	h.waitFor("audit thread of A", func() bool { return h.auditRoot(chA.Command.CommandID) != "" })
	root := h.auditRoot(chA.Command.CommandID)

	// B is rejected while the adapter is down: its notice never reaches Slack.
	h.stopAdapter()
	if _, err := h.engine.Reject(t.Context(), core.RejectRequest{ChallengeID: idB, Actor: "U0APPROVER", Reason: "not now"}); err != nil {
		t.Fatal(err)
	}
	h.engine = h.newEngine()
	h.startAdapter()

	h.waitFor("B updated on restart", func() bool {
		m, _ := h.slack.Message("C0APPROVERS", msgB.TS)
		return strings.Contains(fakeslack.Texts(m.Blocks), "Rejected") && len(fakeslack.ActionIDs(m.Blocks)) == 0
	})
	h.click("U0APPROVER", "C0APPROVERS", msgA.TS, actionConfirm, idA)
	h.waitFor("modal", func() bool { return len(h.slack.Views()) == 1 })
	h.submit("U0APPROVER", idA, "alpha", "after restart")
	h.waitFor("A updated after restart", func() bool {
		m, _ := h.slack.Message("C0APPROVERS", msgA.TS)
		return strings.Contains(fakeslack.Texts(m.Blocks), "Confirmed") && len(fakeslack.ActionIDs(m.Blocks)) == 0
	})
	h.waitFor("A's later events in its old thread", func() bool {
		for _, m := range h.slack.Messages("C0AUDIT") {
			if m.ThreadTS == root && strings.Contains(m.Text, core.EvConfirm) {
				return true
			}
		}
		return false
	})
	if n := len(h.slack.Messages("C0APPROVERS")); n != 2 {
		t.Fatalf("%d messages in the approvers channel after restart, want the 2 original ones", n)
	}
}

func TestRestore_AuditVerifyUsesCheckpointFromSlack(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	led := &fakeLedger{good: "botwarden.dev/ledger\n5\nROOT5\n\n— key sig\n"}
	h.ledger = led
	h.restart() // the adapter now has the ledger
	h.a.PostCheckpoint([]byte(led.good))
	h.waitFor("checkpoint posted", func() bool {
		for _, m := range h.slack.Messages("C0AUDIT") {
			if strings.Contains(m.Text, "ROOT5") {
				return true
			}
		}
		return false
	})
	// A checkpoint note posted by someone else is not trusted.
	forged, _ := json.Marshal(map[string]any{"event_type": metaCheckpoint,
		"event_payload": map[string]any{"environment": "dev", "note": "forged"}})
	h.slack.PostAs("C0AUDIT", "U0MALLORY", "trust me", forged)
	h.restart()

	_, ru := h.command("U0AUDITOR", "C0OPS", "audit verify")
	h.waitFor("verify answer", func() bool { return h.responseTo(ru) != "" })
	got := h.responseTo(ru)
	if !strings.Contains(got, "consistent") || !strings.Contains(got, "read back from the audit channel") || strings.Contains(got, "forged") {
		t.Fatalf("audit verify after restart = %s", got)
	}
	led.good = "rewritten"
	_, ru = h.command("U0AUDITOR", "C0OPS", "audit verify")
	h.waitFor("verify answer", func() bool { return h.responseTo(ru) != "" })
	if got := h.responseTo(ru); !strings.Contains(got, "does NOT match") {
		t.Fatalf("audit verify of a rewritten ledger = %s", got)
	}
}

func TestConfirmClick_ModalOpensWhileDriverHoldsCore(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits out a slow driver")
	}
	h := newHarness(t, nil)
	h.command("U0OPERATOR", "C0OPS", "start alpha --mode live")
	msg, id := h.challengeMsg("C0APPROVERS")
	h.driver.SetDelay(3 * time.Second)
	h.command("U0OPERATOR", "C0OPS", "start beta --mode paper") // holds the core for 3 s
	h.waitFor("driver busy", func() bool { return len(h.driver.CallsTo("Start")) == 1 })
	clicked := time.Now()
	h.click("U0APPROVER", "C0APPROVERS", msg.TS, actionConfirm, id)
	h.waitFor("modal", func() bool { return len(h.slack.Views()) == 1 })
	if took := time.Since(clicked); took > 2500*time.Millisecond {
		t.Fatalf("modal opened %v after the click; Slack's trigger_id expires after 3s", took)
	}
	if h.botState("beta") == "RUNNING_PAPER" && time.Since(clicked) < 2*time.Second {
		t.Log("driver finished early; the test proved less than intended")
	}
}

func TestHome_RefreshedOnNoticesAndClickAnswered(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	resp, err := h.sender.Event(t.Context(), fakeslack.AppHomeOpened("T0", "U0APPROVER", "Ev1"))
	readReply(t, resp, err, time.Now())
	h.waitFor("home published", func() bool { _, ok := h.slack.Home("U0APPROVER"); return ok })

	h.command("U0OPERATOR", "C0OPS", "start alpha --mode live")
	_, id := h.challengeMsg("C0APPROVERS")
	h.waitFor("home shows the challenge", func() bool {
		v, _ := h.slack.Home("U0APPROVER")
		val, ok := fakeslack.ButtonValue(v.JSON, actionReject)
		return ok && val == id
	})

	// Reject from the Home tab: no channel, no response_url; the tab answers.
	c := fakeslack.Click{TeamID: "T0", UserID: "U0APPROVER", ActionID: actionReject, BlockID: "home_" + id, Value: id,
		TriggerID: "trig-home", HomeViewID: "V-home"}
	resp, err = h.sender.Interaction(t.Context(), c.JSON())
	readReply(t, resp, err, time.Now())
	h.waitFor("home updated without the challenge", func() bool {
		v, _ := h.slack.Home("U0APPROVER")
		_, stillThere := fakeslack.ButtonValue(v.JSON, actionReject)
		return !stillThere && strings.Contains(fakeslack.Texts(v.JSON), "None.")
	})
	if ch, _ := h.engine.Challenge(id); ch.State != core.ChallengeRejected {
		t.Fatalf("challenge = %s after a Home reject", ch.State)
	}

	// A viewer's Home click is denied, and the denial shows in their tab.
	h.command("U0OPERATOR", "C0OPS", "start beta --mode live")
	var ch []core.Challenge
	h.waitFor("beta's challenge", func() bool { ch = h.engine.Snapshot().Challenges; return len(ch) == 1 })
	c = fakeslack.Click{TeamID: "T0", UserID: "U0VIEWER", ActionID: actionConfirm, Value: ch[0].ID, TriggerID: "trig-v", HomeViewID: "V-v"}
	resp, err = h.sender.Interaction(t.Context(), c.JSON())
	readReply(t, resp, err, time.Now())
	h.waitFor("viewer's tab says denied", func() bool {
		v, _ := h.slack.Home("U0VIEWER")
		return strings.Contains(fakeslack.Texts(v.JSON), "denied")
	})
	if len(h.slack.Views()) != 0 {
		t.Fatal("viewer was offered the confirm modal")
	}
}

func TestNotice_DroppedResyncsChallengeMessages(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.command("U0OPERATOR", "C0OPS", "start alpha --mode live")
	msg, id := h.challengeMsg("C0APPROVERS")
	h.stopAdapter()
	// An adapter whose notice of the reject is lost: only a later notice
	// arrives, saying notices were dropped.
	a, err := New(h.cfg, h.engine, nil, h.a.log, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.stopAdapter = a.Close
	a.msgs.put(id, &msgRef{channel: "C0APPROVERS", ts: msg.TS})
	if _, err := h.engine.Reject(t.Context(), core.RejectRequest{ChallengeID: id, Actor: "U0APPROVER", Reason: "no"}); err != nil {
		t.Fatal(err)
	}
	ev, _ := json.Marshal(core.Event{Type: core.EvGate, Target: "global", Actor: core.SystemActor})
	a.handleNotice(context.Background(), core.Notice{Seq: 99, EventType: core.EvGate, Event: ev, Dropped: 3})
	m, _ := h.slack.Message("C0APPROVERS", msg.TS)
	if !strings.Contains(fakeslack.Texts(m.Blocks), "Rejected") || len(fakeslack.ActionIDs(m.Blocks)) != 0 {
		t.Fatalf("message not resynced after dropped notices:\n%s", fakeslack.Texts(m.Blocks))
	}
}
