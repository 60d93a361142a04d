package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/botwarden/botwarden/internal/api"
	"github.com/botwarden/botwarden/internal/core"
)

// TestServe_TypedSecretsStayOutOfTheLedger: an operator who pastes their
// own API token and a cloud key into a reason gets them recorded as
// markers, through the service's real redactor; a token given as a
// secret_ref is refused and not recorded at all.
func TestServe_TypedSecretsStayOutOfTheLedger(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	op := createToken(t, dir, "U0OPERATOR")
	admin := createToken(t, dir, "U0ADMIN")
	addr, stop := startServe(t, dir, nil)
	c := &api.Client{BaseURL: "http://" + addr, Token: op}
	const awsKey = "AKIAIOSFODNN7EXAMPLE"
	o, err := c.Submit(ctx, api.CommandRequest{Target: "alpha", Op: core.OpStatus, Reason: "debug with " + op + " and " + awsKey}, "typed-1")
	if err != nil || o.Status != core.StatusApplied {
		t.Fatalf("status: %+v, %v", o, err)
	}
	c.Token = admin
	_, err = c.Submit(ctx, api.CommandRequest{Target: "alpha", Op: core.OpSecretRotate, Params: core.Params{SecretRef: op}, Reason: "rotate"}, "typed-2")
	var pe *api.ProblemError
	if !errors.As(err, &pe) || pe.Problem.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a token as secret_ref: %v, want 422", err)
	}
	out := filepath.Join(t.TempDir(), "ledger.jsonl")
	if msg, code := runCLI(t, "ledger", "export", "--data", dir, "--out", out); code != 0 {
		t.Fatalf("export: %s", msg)
	}
	stop()
	exp, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{op, awsKey, "typed-2"} {
		if bytes.Contains(exp, []byte(secret)) {
			t.Errorf("the ledger holds %q", secret)
		}
	}
	for _, marker := range []string{"[REDACTED:botwarden_token]", "[REDACTED:aws_access_key_id]"} {
		if !bytes.Contains(exp, []byte(marker)) {
			t.Errorf("the ledger lacks %s", marker)
		}
	}
}

// TestTypedText tells references from the secrets people paste into them.
func TestTypedText(t *testing.T) {
	secrets := &secretSet{}
	secrets.add("a-known-driver-secret-value")
	tt := newTypedText(secrets, zerolog.Nop())
	for ref, secret := range map[string]bool{
		"vault:bots/alpha/api_key":         false,
		"vault:bots/alpha/token:v2":        false, // key: value shape, but a path
		"configs/alpha@v12":                false,
		"xoxb-123456789012-abcdefghijkl":   true,
		"AKIAIOSFODNN7EXAMPLE":             true,
		"a-known-driver-secret-value":      true,
		"https://u:hunter2hunter2@vault/x": true,
	} {
		if got := tt.IsSecret(ref); got != secret {
			t.Errorf("IsSecret(%q) = %v, want %v", ref, got, secret)
		}
	}
	if got := tt.Redact("rotated, password=hunter22 was in chat"); strings.Contains(got, "hunter22") {
		t.Errorf("Redact kept the password: %q", got)
	}
	if got := tt.Redact("market open"); got != "market open" {
		t.Errorf("Redact changed plain text: %q", got)
	}
}

// A secret file rotated while the service runs (secret_rotate through an
// action, a mounted secret updated) holds a known secret again within
// secretRefresh: the new value is redacted from what reaches the ledger
// and the log ring, and the old one still is.
func TestSecretSet_RotatedFileKnown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bot.secret")
	if err := os.WriteFile(path, []byte("first-secret-value-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets := &secretSet{}
	secrets.addRefs(func(string) string { return "" }, nil, map[string]string{"": path})
	tt := newTypedText(secrets, zerolog.Nop())
	if got := tt.Redact("echo first-secret-value-123"); strings.Contains(got, "first-secret") {
		t.Fatalf("first value not redacted: %q", got)
	}
	if err := os.WriteFile(path, []byte("rotated-secret-value-456\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets.mu.Lock()
	secrets.read = time.Now().Add(-secretRefresh) // as if secretRefresh had passed
	secrets.mu.Unlock()
	for _, line := range []string{tt.Redact("401 for rotated-secret-value-456"), secrets.scrub("key rotated-secret-value-456")} {
		if strings.Contains(line, "rotated-secret") {
			t.Fatalf("rotated value not redacted: %q", line)
		}
	}
	if got := tt.Redact("old first-secret-value-123"); strings.Contains(got, "first-secret") {
		t.Fatalf("the rotated-out value is no longer redacted: %q", got)
	}
}
