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
