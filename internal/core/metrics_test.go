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
