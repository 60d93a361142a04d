package lifecycle

import "testing"

func TestCheck_Table(t *testing.T) {
	cases := []struct {
		from, to      State
		ok            bool
		gates, danger bool
	}{
		{Created, Idle, true, false, false},
		{Idle, RunningPaper, true, true, false},
		{Paused, RunningShadow, true, true, false},
		{Error, RunningPaper, true, true, false},
		{Idle, RunningLive, true, true, true},
		{Paused, RunningLive, true, true, true},
		{Error, RunningLive, true, true, true},
		{RunningLive, Paused, true, false, false},
		{RunningPaper, Stopping, true, false, false},
		{Paused, Stopping, true, false, false},
		{Stopping, Idle, true, false, false},
		{RunningShadow, Error, true, false, false},
		{Stopping, Error, true, false, false},
		{Idle, Quarantined, true, false, false},
		{Error, Quarantined, true, false, false},
		{Quarantined, Idle, true, false, true},
		// denied
		{Quarantined, RunningPaper, false, false, false},
		{Quarantined, Error, false, false, false},
		{Error, Idle, false, false, false},
		{Idle, Paused, false, false, false},
		{Idle, Stopping, false, false, false},
		{Stopping, RunningPaper, false, false, false},
		{RunningPaper, RunningLive, false, false, false},
		{RunningLive, RunningPaper, false, false, false},
		{Created, RunningPaper, false, false, false},
		{Idle, Idle, false, false, false},
		{Quarantined, Quarantined, false, false, false},
		{Idle, Created, false, false, false},
		{Idle, Error, false, false, false},
		{"BOGUS", Idle, false, false, false},
	}
	for _, tc := range cases {
		t.Run(Transition{tc.from, tc.to}.String(), func(t *testing.T) {
			r, err := Check(Transition{From: tc.from, To: tc.to})
			if (err == nil) != tc.ok {
				t.Fatalf("allowed = %v, want %v (%v)", err == nil, tc.ok, err)
			}
			if r.GatesPass != tc.gates || r.Dangerous != tc.danger {
				t.Fatalf("rule = %+v, want gates %v dangerous %v", r, tc.gates, tc.danger)
			}
		})
	}
}

// Nothing but a confirmed release leaves QUARANTINED, and nothing reaches
// RUNNING_LIVE except as a dangerous, gated transition.
func TestCheck_Invariants(t *testing.T) {
	for _, from := range States {
		for _, to := range States {
			r, err := Check(Transition{from, to})
			if err != nil {
				continue
			}
			if from == Quarantined && (to != Idle || !r.Dangerous) {
				t.Errorf("%s->%s leaves QUARANTINED with %+v", from, to, r)
			}
			if to == RunningLive && (!r.Dangerous || !r.GatesPass) {
				t.Errorf("%s->%s reaches live with %+v", from, to, r)
			}
			if to.IsRunning() && !r.GatesPass {
				t.Errorf("%s->%s runs without gates", from, to)
			}
		}
	}
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"paper", "shadow", "live"} {
		if m, err := ParseMode(s); err != nil || string(m) != s || Running(m) == "" {
			t.Fatalf("ParseMode(%q) = %q, %v", s, m, err)
		}
	}
	for _, s := range []string{"", "LIVE", "real"} {
		if _, err := ParseMode(s); err == nil {
			t.Fatalf("ParseMode(%q) accepted", s)
		}
	}
	if Running("") != "" {
		t.Fatal("Running of no mode")
	}
}
