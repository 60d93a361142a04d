package core_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// metricValues gathers every counter and gauge of reg as
// "name,label=value,..." -> value.
func metricValues(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			if c := m.GetCounter(); c != nil {
				out[key] = c.GetValue()
			}
			if g := m.GetGauge(); g != nil {
				out[key] = g.GetValue()
			}
		}
	}
	return out
}

func TestMetrics_Conditions(t *testing.T) {
	h := coretest.NewEngine(t)
	ctx := context.Background()
	check := func(step string, want map[string]float64) {
		t.Helper()
		got := metricValues(t, h.Registry)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %v", step, k, got[k], v)
			}
		}
	}
	check("start", map[string]float64{"botwarden_safety_mode,mode=UNKNOWN": 1, "botwarden_safety_mode,mode=NORMAL": 0})

	h.Healthy()
	h.SetGate("risk", "gamma", core.GateFail)
	check("healthy", map[string]float64{"botwarden_safety_mode,mode=NORMAL": 1, "botwarden_safety_mode,mode=UNKNOWN": 0,
		"botwarden_gates,status=PASS": 1, "botwarden_gates,status=FAIL": 1, "botwarden_gates,status=UNKNOWN": 0})

	o := h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStart, core.Params{Mode: lifecycle.Live}))
	if o.Challenge == nil {
		t.Fatalf("live start issued no challenge: %+v", o)
	}
	key := "botwarden_challenge_expiry_timestamp_seconds,challenge_id=" + o.Challenge.ID + ",op=start,target=beta"
	check("challenge open", map[string]float64{key: float64(o.Challenge.ExpiresAt.Unix())})
	h.Confirm(o.Challenge.ID, coretest.Approver)
	if _, open := metricValues(t, h.Registry)[key]; open {
		t.Errorf("confirmed challenge still has an expiry gauge")
	}

	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper}))
	h.Driver.SetSlowStop(true)
	h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStop, core.Params{}))
	h.Engine.Tick(ctx)
	check("stopping", map[string]float64{"botwarden_bots_stuck_stopping": 0})
	h.Clock.Advance(2 * time.Hour) // past StopTimeout; safety and gates go stale too
	h.Engine.Tick(ctx)
	check("stuck and stale", map[string]float64{"botwarden_bots_stuck_stopping": 1,
		"botwarden_safety_mode,mode=UNKNOWN": 1, "botwarden_safety_mode,mode=NORMAL": 0, "botwarden_gates,status=UNKNOWN": 2})
	h.Driver.MarkStopped("alpha")
	h.Engine.Tick(ctx)
	check("stopped", map[string]float64{"botwarden_bots_stuck_stopping": 0})

	h.SetSafety(core.SafetyEmergencyStop)
	check("emergency stop", map[string]float64{"botwarden_safety_mode,mode=EMERGENCY_STOP": 1, "botwarden_safety_mode,mode=UNKNOWN": 0})
}

func TestMetrics_ExpiredChallengeLeavesNoGauge(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	o := h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStart, core.Params{Mode: lifecycle.Live}))
	if o.Challenge == nil {
		t.Fatalf("no challenge: %+v", o)
	}
	h.Clock.Advance(h.Config.Policy.ChallengeWindow() + time.Second)
	h.Engine.Tick(context.Background())
	for k := range metricValues(t, h.Registry) {
		if strings.HasPrefix(k, "botwarden_challenge_expiry_timestamp_seconds") {
			t.Errorf("expired challenge left %s", k)
		}
	}
}
