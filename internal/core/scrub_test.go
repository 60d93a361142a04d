package core_test

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"testing"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// slackScrubber stands in for the service's (bundle/redact): Slack-token
// shapes are secrets.
type slackScrubber struct{}

var slackShape = regexp.MustCompile(`xoxb-[A-Za-z0-9-]{8,}`)

func (slackScrubber) Redact(s string) string {
	return slackShape.ReplaceAllString(s, "[REDACTED:slack_token]")
}
func (slackScrubber) IsSecret(s string) bool { return slackShape.MatchString(s) }

const pasted = "xoxb-123456789012-abcdefghijkl"

// TestScrub_SecretsPastedByMistakeNeverReachTheLedger: a token pasted in a
// command's reason, or a confirm's or reject's, is recorded as a marker;
// one pasted as a reference makes the command malformed, so nothing of it
// is recorded.
func TestScrub_SecretsPastedByMistakeNeverReachTheLedger(t *testing.T) {
	h := coretest.NewEngine(t, coretest.WithScrubber(slackScrubber{}))
	h.Healthy()
	start := h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Live})
	start.Reason = "opening, token " + pasted
	o := h.Submit(start)
	if o.Status != core.StatusChallenged {
		t.Fatalf("live start: %+v", o)
	}
	if _, err := h.Engine.Confirm(context.Background(), core.ConfirmRequest{ChallengeID: o.Challenge.ID,
		Actor: coretest.Approver, Reason: "ok " + pasted, TypedTarget: "alpha"}); err != nil {
		t.Fatal(err)
	}
	stop := h.Cmd(coretest.Operator, "beta", core.OpPause, core.Params{})
	stop.Reason = pasted
	h.Submit(stop)

	before := h.Auditor.Len()
	rotate := h.Cmd(coretest.Admin, "alpha", core.OpSecretRotate, core.Params{SecretRef: pasted})
	if _, err := h.Engine.Submit(context.Background(), rotate); !errors.Is(err, core.ErrInvalidCommand) {
		t.Fatalf("a secret as secret_ref: %v, want ErrInvalidCommand", err)
	}
	if h.Auditor.Len() != before {
		t.Fatal("the refused command was recorded")
	}
	markers := 0
	for _, ev := range h.Auditor.Raw() {
		if bytes.Contains(ev, []byte(pasted)) {
			t.Fatalf("recorded: %s", ev)
		}
		markers += bytes.Count(ev, []byte("[REDACTED:slack_token]"))
	}
	if markers < 3 { // the start's reason, the confirm's, the pause's
		t.Fatalf("%d markers recorded, want the three reasons kept as markers", markers)
	}
	h.ValidateEvents()
}
