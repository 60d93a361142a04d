package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDemo_Permissions(t *testing.T) {
	p := Demo()
	cases := []struct {
		actor, env, op string
		want           bool
	}{
		{"U0OPERATOR", "dev", "start", true},
		{"U0OPERATOR", "prod", "start", false},
		{"U0OPERATOR", "prod", "stop", true},
		{"U0OPERATOR", "dev", "quarantine_release", false},
		{"U0OPERATOR", "dev", "audit", false},
		{"U0VIEWER", "dev", "status", true},
		{"U0VIEWER", "dev", "stop", false},
		{"U0AUDITOR", "prod", "audit", true},
		{"U0APPROVER", "dev", "start", false},
		{"U0APPROVER", "dev", "killswitch_set", true},
		{"U0ADMIN", "stage", "secret_rotate", true},
		{"UNKNOWN", "dev", "status", false},
	}
	for _, tc := range cases {
		t.Run(tc.actor+"/"+tc.env+"/"+tc.op, func(t *testing.T) {
			if got := p.MayRequest(tc.actor, tc.env, tc.op); got != tc.want {
				t.Fatalf("MayRequest = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDemo_Settings(t *testing.T) {
	p := Demo()
	if p.ChallengeWindow() != 5*time.Minute || p.MaxGateOverride() != time.Hour || p.MaxMonitoringDisable() != 30*time.Minute {
		t.Fatalf("durations: %v %v %v", p.ChallengeWindow(), p.MaxGateOverride(), p.MaxMonitoringDisable())
	}
	if p.BundleDangerous() {
		t.Fatal("demo bundle should not be dangerous")
	}
	if !p.ChannelAllowed("") || !p.ChannelAllowed("C123") {
		t.Fatal("empty allow-list must allow any channel")
	}
	if got := p.Requirement("start"); got != (Requirement{Role: "approver", Approvers: 1, SecondPerson: true}) {
		t.Fatalf("start requirement = %+v", got)
	}
	if got := p.Requirement("data_op"); got.Approvers != 2 {
		t.Fatalf("data_op approvers = %d, want 2", got.Approvers)
	}
	if got := p.Requirement("gate_override"); got != (Requirement{Role: "approver", Approvers: 1, SecondPerson: true}) {
		t.Fatalf("default requirement = %+v", got)
	}
	if !p.HasRole("U0APPROVER2", "approver") || p.HasRole("U0OPERATOR", "approver") {
		t.Fatal("HasRole wrong")
	}
	if r := p.Roles("U0ADMIN"); len(r) != 1 || r[0] != "admin" {
		t.Fatalf("Roles(U0ADMIN) = %v", r)
	}
	if p.Roles("nobody") != nil {
		t.Fatal("unknown actor has roles")
	}
	if len(p.Actors()) != 6 {
		t.Fatalf("Actors = %v", p.Actors())
	}
}

func TestParse_Invalid(t *testing.T) {
	cases := map[string]string{ // file -> substring the error must contain
		"unknown_op.yaml":            `line 6: unknown op "strat"`,
		"unknown_role.yaml":          `line 8: actor U2 has unknown role "operatr"`,
		"bad_duration.yaml":          `line 2: "forever" is not a positive duration`,
		"unknown_key.yaml":           `line 2: field chalenge_window not found`,
		"unknown_env.yaml":           `line 5: unknown environment "production"`,
		"too_many_approvers.yaml":    `approvers must be between 1 and 10`,
		"unknown_req_key.yaml":       `field aprovers not found`,
		"bad_version.yaml":           `version must be 1`,
		"no_approver_role.yaml":      `default approver role "approver" is not defined`,
		"unknown_approver_role.yaml": `line 7: unknown approver role "boss"`,
		"empty.yaml":                 `empty document`,
	}
	for file, want := range cases {
		t.Run(file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", "invalid", file))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not contain %q", err, want)
			}
		})
	}
}

func TestLoad_Missing(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope.yaml")); err == nil || errors.Is(err, ErrInvalid) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestParse_DefaultsAndChannels(t *testing.T) {
	doc := "version: 1\nallowed_channels: [C1]\nroles:\n  approver:\n    ops:\n      dev: [status]\n" +
		"dangerous:\n  ops:\n    start: {second_person: false}\n"
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if p.ChallengeWindow() != DefaultChallengeWindow {
		t.Fatalf("window = %v", p.ChallengeWindow())
	}
	if p.ChannelAllowed("C2") || p.ChannelAllowed("") || !p.ChannelAllowed("C1") {
		t.Fatal("channel allow-list not enforced")
	}
	if got := p.Requirement("start"); got != (Requirement{Role: "approver", Approvers: 1, SecondPerson: false}) {
		t.Fatalf("start = %+v", got)
	}
}

func TestDemoSource_IsTestdataFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "demo.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(DemoSource()) {
		t.Fatal("embedded demo differs from testdata/demo.yaml")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(DemoSource())
	paths, _ := filepath.Glob(filepath.Join("testdata", "invalid", "*.yaml"))
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if p.ChallengeWindow() <= 0 || p.MaxGateOverride() <= 0 {
			t.Fatal("accepted policy with non-positive durations")
		}
		for _, op := range KnownOps() {
			if r := p.Requirement(op); r.Approvers < 1 || r.Role == "" {
				t.Fatalf("requirement for %s: %+v", op, r)
			}
		}
	})
}
