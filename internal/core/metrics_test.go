package core_test

import (
	"testing"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

func TestMetrics_CommandsChallengesBots(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	h.Submit(h.Cmd(coretest.Viewer, "alpha", core.OpStop, core.Params{}))
	o := h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStart, core.Params{Mode: lifecycle.Live}))
	h.Confirm(o.Challenge.ID, coretest.Approver)

	values := metricValues(t, h.Registry)
	want := map[string]float64{
		"botwarden_commands_total,op=start,outcome=applied":          2,
		"botwarden_commands_total,op=stop,outcome=denied":            1,
		"botwarden_commands_total,op=start,outcome=challenge_issued": 1,
		"botwarden_challenges_total,outcome=issued":                  1,
		"botwarden_challenges_total,outcome=confirmed":               1,
		"botwarden_bots,state=RUNNING_PAPER":                         1,
		"botwarden_bots,state=RUNNING_LIVE":                          1,
		"botwarden_bots,state=IDLE":                                  1,
		"botwarden_bots,state=ERROR":                                 0,
	}
	for k, v := range want {
		if values[k] != v {
			t.Errorf("%s = %v, want %v", k, values[k], v)
		}
	}
}

// The start gauges say when this run started after an unclean end or
// under a changed policy, and are 0 otherwise, so alerts can fire for a
// while after such a start.
func TestMetrics_StartGauges(t *testing.T) {
	h := coretest.NewEngine(t)
	at := float64(coretest.Epoch.Unix())
	gauges := func(h *coretest.Harness) (unclean, policy float64) {
		v := metricValues(t, h.Registry)
		return v["botwarden_unclean_start_timestamp_seconds"], v["botwarden_policy_change_start_timestamp_seconds"]
	}
	if u, p := gauges(h); u != 0 || p != 0 {
		t.Fatalf("first start: unclean %v, policy %v; want 0, 0", u, p)
	}
	if err := h.Engine.RecordStop(t.Context(), "test"); err != nil {
		t.Fatal(err)
	}
	if u, p := gauges(h.Restart()); u != 0 || p != 0 {
		t.Fatalf("clean restart: unclean %v, policy %v; want 0, 0", u, p)
	}
	// No stop recorded since, and another policy.
	h3 := coretest.NewEngine(t, coretest.WithAuditor(h.Auditor), coretest.WithPolicy(mustPolicy(t, selfApprovePolicy)))
	if u, p := gauges(h3); u != at || p != at {
		t.Fatalf("unclean restart with a new policy: unclean %v, policy %v; want both %v", u, p, at)
	}
}
