package core_test

import (
	"strings"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

func TestEngine_LiveStartNeedsConfirmedChallenge(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Clock.Advance(123456789 * time.Nanosecond) // a deadline with a fraction of a second
	h.Healthy()
	o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Live}))
	if o.Status != core.StatusChallenged || o.Challenge == nil {
		t.Fatalf("live start: %+v", o)
	}
	// The detail is read by people: the deadline to the second, in UTC.
	if want := "needed before " + o.Challenge.ExpiresAt.UTC().Format(time.RFC3339); !strings.HasSuffix(o.Detail, want) {
		t.Fatalf("detail %q does not end with %q", o.Detail, want)
	}
	if got := h.State("alpha"); got != lifecycle.Idle {
		t.Fatalf("state before confirm = %s", got)
	}
	if len(h.Driver.CallsTo("Start")) != 0 {
		t.Fatal("driver started before confirm")
	}
	c := h.Confirm(o.Challenge.ID, coretest.Approver)
	if c.Status != core.StatusApplied || h.State("alpha") != lifecycle.RunningLive {
		t.Fatalf("confirm: %+v state %s", c, h.State("alpha"))
	}
	h.ValidateEvents()
}
