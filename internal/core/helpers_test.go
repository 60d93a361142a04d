package core_test

import (
	"fmt"
	"testing"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/policy"
)

const selfApprovePolicy = `version: 1
roles:
  operator:
    ops:
      "*": [status, start, stop, pause, resume, quarantine, killswitch_set]
  approver:
    ops:
      "*": [status]
actors:
  U0BOTH: [operator, approver]
  U0APPROVER: [approver]
  U0OPERATOR: [operator]
dangerous:
  default: {role: approver, approvers: 1, second_person: true}
`

func mustPolicy(t *testing.T, doc string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func assertSameSnapshot(t *testing.T, a, b core.Snapshot) {
	t.Helper()
	if len(a.Bots) != len(b.Bots) {
		t.Fatalf("bots: %d vs %d", len(a.Bots), len(b.Bots))
	}
	for i := range a.Bots {
		x, y := a.Bots[i], b.Bots[i]
		if x.ID != y.ID || x.State != y.State || x.Mode != y.Mode || x.ConfigVersion != y.ConfigVersion || x.KillSwitch != y.KillSwitch {
			t.Fatalf("bot %s: %+v vs %+v", x.ID, x, y)
		}
	}
	if fmt.Sprint(a.KillSwitch) != fmt.Sprint(b.KillSwitch) {
		t.Fatalf("kill-switch: %v vs %v", a.KillSwitch, b.KillSwitch)
	}
	if len(a.Challenges) != len(b.Challenges) {
		t.Fatalf("open challenges: %d vs %d", len(a.Challenges), len(b.Challenges))
	}
	for i := range a.Challenges {
		x, y := a.Challenges[i], b.Challenges[i]
		if x.ID != y.ID || x.Digest != y.Digest || len(x.Approvals) != len(y.Approvals) || !x.ExpiresAt.Equal(y.ExpiresAt) {
			t.Fatalf("challenge: %+v vs %+v", x, y)
		}
	}
	if a.Safety.Mode != b.Safety.Mode || len(a.Gates) != len(b.Gates) {
		t.Fatalf("safety/gates: %+v/%d vs %+v/%d", a.Safety, len(a.Gates), b.Safety, len(b.Gates))
	}
}
