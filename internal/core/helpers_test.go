package core_test

import (
	"testing"

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
