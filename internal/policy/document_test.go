package policy

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// base is a small policy the digest cases edit.
const base = `version: 1
challenge_window: 5m
roles:
  operator: {ops: {dev: [status, start, stop]}}
  approver: {ops: {"*": [status]}}
actors:
  U1: [operator]
  U2: [approver]
dangerous:
  default: {role: approver, approvers: 1, second_person: true}
`

func mustParse(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, doc)
	}
	return p
}

func TestCanonical_SamePermissionsSameDigest(t *testing.T) {
	_, want := mustParse(t, base).Canonical()
	cases := map[string]string{
		"comments and order": `# the same policy, written differently
version: 1
actors:
  U2: [approver]
  U1: [operator, operator]
roles:
  approver: {ops: {"*": [status]}}
  operator: {ops: {dev: [stop, status, start], prod: []}}
challenge_window: 300s
dangerous:
  default: {role: approver}
  ops:
    start: {role: approver, approvers: 1, second_person: true}
`,
		"defaults spelled out": base + "max_gate_override: 1h\nmax_monitoring_disable: 30m\nallowed_channels: []\nsupport_bundle_dangerous: false\n",
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, got := mustParse(t, doc).Canonical(); got != want {
				t.Fatalf("digest %s, want %s (same permissions)", got, want)
			}
		})
	}
}

func TestCanonical_AnyChangeChangesDigest(t *testing.T) {
	_, was := mustParse(t, base).Canonical()
	cases := map[string]string{
		"actor gains a role":     strings.Replace(base, "U1: [operator]", "U1: [operator, approver]", 1),
		"new actor":              strings.Replace(base, "  U2: [approver]\n", "  U2: [approver]\n  U3: [operator]\n", 1),
		"role gains an op":       strings.Replace(base, "[status, start, stop]", "[status, start, stop, pause]", 1),
		"op in another env":      strings.Replace(base, "{dev: [status, start, stop]}", "{dev: [status, start, stop], prod: [stop]}", 1),
		"no second person":       strings.Replace(base, "second_person: true", "second_person: false", 1),
		"two approvers":          strings.Replace(base, "approvers: 1", "approvers: 2", 1),
		"own requirement for op": base + "  ops:\n    start: {role: approver, approvers: 2}\n",
		"longer window":          strings.Replace(base, "5m", "10m", 1),
		"window under a second":  strings.Replace(base, "5m", "5m0.5s", 1),
		"channel allow-list":     base + "allowed_channels: [C1]\n",
		"bundles dangerous":      base + "support_bundle_dangerous: true\n",
		"longer gate override":   base + "max_gate_override: 2h\n",
		"longer monitoring off":  base + "max_monitoring_disable: 45m\n",
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, got := mustParse(t, doc).Canonical(); got == was {
				t.Fatalf("digest unchanged (%s) by a change of permissions", got)
			}
		})
	}
}

// TestCanonical_DemoGolden pins the recorded form of the demo policy: a
// change to it changes what every ledger records, so it must be seen.
func TestCanonical_DemoGolden(t *testing.T) {
	doc, digest := Demo().Canonical()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, doc, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteString("\n" + digest + "\n")
	golden := filepath.Join("testdata", "demo.document.golden")
	if *update {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Fatalf("demo document changed (go test -update to accept):\n%s", pretty.Bytes())
	}
	var back Document
	if err := json.Unmarshal(doc, &back); err != nil {
		t.Fatal(err)
	}
	if back.Dangerous.Ops["data_op"].Approvers != 2 || len(back.Dangerous.Ops) != 1 {
		t.Fatalf("dangerous ops recorded = %+v, want only data_op's own requirement", back.Dangerous.Ops)
	}
	if got := back.Actors["U0APPROVER2"]; len(got) != 1 || got[0] != "approver" {
		t.Fatalf("U0APPROVER2 recorded with roles %v", got)
	}
}
