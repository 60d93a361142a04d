package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/botwarden/botwarden/internal/policy"
)

// checkConfig writes a config (the demo's, edited by edit) and a policy
// file beside it, and returns the config's path.
func checkConfig(t *testing.T, edit func(cfg string) string, pol string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(pol), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(demoConfig), "policy_file: embedded:demo", "policy_file: policy.yaml", 1)
	if edit != nil {
		cfg = edit(cfg)
	}
	path := filepath.Join(dir, "botwarden.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheck(t *testing.T) {
	demoPolicy := string(policy.DemoSource())
	httpBot := func(cfg string) string {
		return strings.Replace(cfg, "slack:\n", "  - id: delta\n    driver: http\n    http: {url: \"http://127.0.0.1:9/ctl\", secret_env: DELTA_SECRET}\nslack:\n", 1)
	}
	cases := []struct {
		name    string
		edit    func(string) string
		policy  string
		env     map[string]string
		wantErr string // "" when the check passes
	}{
		{name: "demo with its policy in a file", policy: demoPolicy},
		{name: "policy with a typo", policy: strings.Replace(demoPolicy, "second_person: true", "second_persn: true", 1),
			wantErr: "policy.yaml"},
		{name: "actor with an unknown role", policy: strings.Replace(demoPolicy, "U0VIEWER: [viewer]", "U0VIEWER: [viewers]", 1),
			wantErr: `unknown role "viewers"`},
		{name: "http bot without its secret", edit: httpBot, policy: demoPolicy, wantErr: "bot delta"},
		{name: "http bot with its secret", edit: httpBot, policy: demoPolicy, env: map[string]string{"DELTA_SECRET": "s3cret-value-for-delta"}},
		{name: "public bind without TLS", edit: func(c string) string { return strings.Replace(c, "http: 127.0.0.1:8080", "http: 0.0.0.0:8080", 1) },
			policy: demoPolicy, wantErr: "TLS"},
		{name: "TLS pair missing", policy: demoPolicy,
			edit: func(c string) string {
				return strings.Replace(c, "  admin:", "  tls_cert: nope.pem\n  tls_key: nope.key\n  admin:", 1)
			},
			wantErr: "tls_cert"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := checkConfig(t, tc.edit, tc.policy)
			var out bytes.Buffer
			err := check(&out, path, func(k string) string { return tc.env[k] }, false)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("check: %v\n%s", err, out.String())
				}
				raw, _ := os.ReadFile(path)
				sum := sha256.Sum256(raw)
				pol, _ := policy.Parse([]byte(tc.policy))
				_, digest := pol.Canonical()
				for _, want := range []string{"sha256:" + hex.EncodeToString(sum[:]), digest, "ok: serve would accept"} {
					if !strings.Contains(out.String(), want) {
						t.Fatalf("output lacks %q:\n%s", want, out.String())
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("check = %v, want an error naming %q\n%s", err, tc.wantErr, out.String())
			}
			if strings.Contains(out.String(), "ok:") {
				t.Fatalf("a failed check printed ok:\n%s", out.String())
			}
		})
	}
}

// The document --policy-document prints is the one whose digest the
// ledger records: an auditor can hash it and compare.
func TestCheck_PolicyDocumentMatchesDigest(t *testing.T) {
	out, code := runCLI(t, "check", "--policy-document")
	if code != 0 {
		t.Fatalf("check: %d %s", code, out)
	}
	_, digest := policy.Demo().Canonical()
	i := strings.Index(out, "\n{")
	if i < 0 || !strings.Contains(out, digest) {
		t.Fatalf("output:\n%s", out)
	}
	var compact bytes.Buffer
	if err := compactJSON(&compact, []byte(out[i+1:])); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(compact.Bytes())
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		t.Fatalf("the printed document hashes to %s, the recorded digest is %s", got, digest)
	}
}

func compactJSON(dst *bytes.Buffer, src []byte) error { return json.Compact(dst, bytes.TrimSpace(src)) }
