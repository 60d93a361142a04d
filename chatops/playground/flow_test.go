package playground

import (
	"strings"
	"testing"
)

// TestFlow_LiveStartThroughThePlayground drives the real adapter and
// engine only through the page's endpoints: a live start is challenged,
// the requester's confirm is refused (only they see why), the approver's
// modal refuses a mistyped target and then confirms; the message closes.
func TestFlow_LiveStartThroughThePlayground(t *testing.T) {
	t.Parallel()
	r, eb := newEngineRig(t)
	if code, v := r.post("/play/command", map[string]string{"user": "U0OPERATOR", "channel": "C0OPS",
		"text": `/warden start alpha --mode live --reason "market open"`}); code != 200 {
		t.Fatalf("command = %d %v", code, v)
	}
	st := r.waitState("U0VIEWER", "challenge", func(st State) bool { _, ok := find(st, "C0APPROVERS", "challenge_confirm"); return ok })
	msg, _ := find(st, "C0APPROVERS", "challenge_confirm")
	if !strings.Contains(itemText(msg), "LIVE") {
		t.Fatalf("challenge lacks the LIVE marker: %s", itemText(msg))
	}
	chID, _ := buttonValue(msg)
	r.waitState("U0OPERATOR", "requester told", func(st State) bool { _, ok := find(st, "C0OPS", "needs confirmation"); return ok })

	click := map[string]string{"surface": "message", "channel": "C0APPROVERS", "ts": msg.TS,
		"action_id": "challenge_confirm", "block_id": "challenge", "value": chID}
	click["user"] = "U0OPERATOR"
	r.post("/play/action", click)
	r.waitState("U0OPERATOR", "refusal", func(st State) bool {
		it, ok := find(st, "C0APPROVERS", "denied")
		return ok && it.Kind == "ephemeral"
	})
	if st := r.state("U0OPERATOR"); st.Modal != nil {
		t.Fatal("the requester got the confirm modal")
	}
	if _, ok := find(r.state("U0APPROVER"), "C0APPROVERS", "denied"); ok {
		t.Fatal("the approver sees the requester's ephemeral refusal")
	}

	click["user"] = "U0APPROVER"
	r.post("/play/action", click)
	st = r.waitState("U0APPROVER", "modal", func(st State) bool { return st.Modal != nil })
	if !strings.Contains(string(st.Modal.View), "Type alpha to confirm") || r.state("U0OPERATOR").Modal != nil {
		t.Fatalf("modal = %s (operator has one: %v)", st.Modal.View, r.state("U0OPERATOR").Modal != nil)
	}
	submit := func(typed string) map[string]any {
		_, v := r.post("/play/submit", map[string]any{"user": "U0APPROVER", "view_id": st.Modal.ID,
			"values": map[string]map[string]string{"typed_target": {"value": typed}, "reason": {"value": "checked"}}})
		return v
	}
	if v := submit("alpah"); v["closed"] != false || !strings.Contains(jsonString(v["errors"]), "does not match") {
		t.Fatalf("mistyped submit = %v", v)
	}
	if m := r.state("U0APPROVER").Modal; m == nil || m.Errors["typed_target"] == "" {
		t.Fatalf("modal after a mistype = %+v", m)
	}
	if got := eb.state("alpha"); got != "IDLE" {
		t.Fatalf("alpha = %s after a mistype", got)
	}
	if v := submit("alpha"); v["closed"] != true {
		t.Fatalf("right submit = %v", v)
	}
	r.waitState("U0VIEWER", "closed challenge", func(st State) bool {
		it, ok := find(st, "C0APPROVERS", "Confirmed")
		return ok && it.Edited && !strings.Contains(itemText(it), "challenge_confirm")
	})
	if r.state("U0APPROVER").Modal != nil {
		t.Fatal("modal still open after confirming")
	}
	if got := eb.state("alpha"); got != "RUNNING_LIVE" {
		t.Fatalf("alpha = %s", got)
	}
}

func TestFlow_AppHome(t *testing.T) {
	t.Parallel()
	r, _ := newEngineRig(t)
	if code, v := r.post("/play/home", map[string]string{"user": "U0APPROVER"}); code != 200 {
		t.Fatalf("home = %d %v", code, v)
	}
	st := r.waitState("U0APPROVER", "home tab", func(st State) bool { return st.Home != nil })
	if !strings.Contains(string(st.Home), "alpha") || !strings.Contains(string(st.Home), "Fleet") {
		t.Fatalf("home = %s", st.Home)
	}
	if r.state("U0VIEWER").Home != nil {
		t.Fatal("the viewer sees the approver's Home tab")
	}
}
