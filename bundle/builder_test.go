package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/botwarden/botwarden/bundle/redact"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/policy"
	"github.com/botwarden/botwarden/ledger"
)

func TestBuilder_Build_SecretFree(t *testing.T) {
	l := openLedger(t, 40)
	b := newTestBuilder(t, t.TempDir(), testSources(t, l))
	res, err := b.Build(context.Background(), core.BundleRequest{Target: "alpha", Actor: "U1", Reason: "stuck; token=" + diagToken, CommandID: "cmd-1"})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	files := readBundle(t, res.Path)
	for _, want := range []string{"manifest.json", "state/fleet.json", "state/safety.json", "state/gates.json",
		"state/killswitch.json", "state/challenges.json", "ledger/export.jsonl", "ledger/checkpoint",
		"ledger/verifier.key", "ledger/target_seqs.json", "config/effective.json", "logs/service.log",
		"metrics/metrics.txt", "runtime.json", "drivers/alpha.json"} {
		if _, ok := files[want]; !ok {
			t.Errorf("bundle lacks %s", want)
		}
	}
	if _, ok := files["drivers/beta.json"]; ok {
		t.Error("drivers/beta.json present, but beta offers no diagnostics")
	}
	// The policy in force, byte for byte as the ledger records it: its
	// SHA-256 is the manifest's policy_digest.
	var pm Manifest
	if err := json.Unmarshal(files["manifest.json"], &pm); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(files["config/policy.json"])
	if _, digest := policy.Demo().Canonical(); pm.PolicyDigest != digest || "sha256:"+hex.EncodeToString(sum[:]) != digest {
		t.Errorf("policy in the bundle hashes to sha256:%x, manifest says %s, want %s", sum, pm.PolicyDigest, digest)
	}
	secrets := []string{envSlackToken, envSigning, cfgWebhook, logPassword, diagToken, metricSecret, unknownAWS}
	for name, content := range files {
		for _, s := range secrets {
			for form, v := range encodedForms(s) {
				if bytes.Contains(content, []byte(v)) {
					t.Errorf("%s contains planted secret %q in %s form", name, s, form)
				}
			}
		}
	}
	// Redaction keeps structure and references.
	for name, want := range map[string]string{
		"config/effective.json": `"secret_ref": "vault:hooks/x"`,
		"logs/service.log":      `"password":"[REDACTED:known_secret]"`,
		"metrics/metrics.txt":   `who="[REDACTED:known_secret]"`,
		"drivers/alpha.json":    `"endpoint": "https://u:[REDACTED:known_secret]@bot"`,
	} {
		if !strings.Contains(string(files[name]), want) {
			t.Errorf("%s lacks %s:\n%s", name, want, files[name])
		}
	}
	if !strings.Contains(string(files["logs/service.log"]), "[REDACTED:aws_access_key_id]") {
		t.Errorf("unknown AWS key not redacted by rule:\n%s", files["logs/service.log"])
	}
	var m Manifest
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	if m.Redaction.Count(redact.RuleKnownSecret) == 0 || m.Redaction.Count(redact.RuleAWSKeyID) != 1 || m.Redaction.KnownValues != 6 {
		t.Errorf("redaction record = %+v", m.Redaction)
	}
	if len(m.Notes) != 0 {
		t.Errorf("notes = %q: gamma's broken driver is out of alpha's bundle's scope", m.Notes)
	}
}

// TestBuilder_Build_DriversInScope checks which drivers a bundle asks for
// diagnostics: the bot's own, its group's, or every bot's for the fleet.
func TestBuilder_Build_DriversInScope(t *testing.T) {
	l := openLedger(t, 20)
	src := testSources(t, l)
	diag := src.Diagnostics
	var asked []string
	src.Diagnostics = func(ctx context.Context, bot string) (any, error) {
		asked = append(asked, bot)
		return diag(ctx, bot)
	}
	b := newTestBuilder(t, t.TempDir(), src)
	for i, tc := range []struct {
		target string
		asked  string
		note   bool // gamma's driver fails: a note says so
	}{
		{"alpha", "alpha", false},
		{"group:majors", "alpha beta", false},
		{"group:alts", "gamma", true},
		{"global", "alpha beta gamma", true},
	} {
		asked = nil
		res, err := b.Build(context.Background(), core.BundleRequest{Target: tc.target, Actor: "U1", CommandID: fmt.Sprintf("scope-%d", i)})
		if err != nil {
			t.Fatalf("%s: %v", tc.target, err)
		}
		if got := strings.Join(asked, " "); got != tc.asked {
			t.Errorf("%s: asked the drivers of %q, want %q", tc.target, got, tc.asked)
		}
		var m Manifest
		if err := json.Unmarshal(readBundle(t, res.Path)["manifest.json"], &m); err != nil {
			t.Fatal(err)
		}
		if got := len(m.Notes) == 1 && strings.Contains(m.Notes[0], "drivers/gamma"); got != tc.note {
			t.Errorf("%s: notes %q, want gamma's failure noted: %v", tc.target, m.Notes, tc.note)
		}
	}
}

func TestBuilder_Build_ManifestMatchesContents(t *testing.T) {
	l := openLedger(t, 30)
	b := newTestBuilder(t, t.TempDir(), testSources(t, l))
	res, err := b.Build(context.Background(), core.BundleRequest{Target: "global", Actor: "U1", CommandID: "cmd-2"})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	files := readBundle(t, res.Path)
	var m Manifest
	if err := json.Unmarshal(files[ManifestName], &m); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(files[ManifestName]); hex.EncodeToString(sum[:]) != res.ManifestSHA256 {
		t.Errorf("ManifestSHA256 %s does not hash the manifest", res.ManifestSHA256)
	}
	raw, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != res.SHA256 {
		t.Errorf("SHA256 %s does not hash the file", res.SHA256)
	}
	if len(m.Files) != len(files)-1 {
		t.Errorf("manifest lists %d files, archive has %d besides the manifest", len(m.Files), len(files)-1)
	}
	for _, f := range m.Files {
		sum := sha256.Sum256(files[f.Path])
		if hex.EncodeToString(sum[:]) != f.SHA256 || int64(len(files[f.Path])) != f.Size {
			t.Errorf("%s: manifest says %d/%s", f.Path, f.Size, f.SHA256)
		}
	}
	if m.Target != "global" || m.Ledger.From != 1 || m.Ledger.To != 30 || m.Ledger.TargetSeqs != 30 {
		t.Errorf("ledger slice = %+v", m.Ledger)
	}
	// The embedded export verifies offline with the key the auditor trusts.
	rep, err := ledger.VerifyExport(context.Background(), bytes.NewReader(files[ledgerExportName]), files[ledgerCheckpointName], l.VerifierKey(), nil)
	if err != nil || rep.Entries != 30 {
		t.Fatalf("VerifyExport = %+v, %v", rep, err)
	}
}

func TestBuilder_Build_BotWindow(t *testing.T) {
	l := openLedger(t, 100) // one entry a minute from t0; bundle made at t0+48h
	src := testSources(t, l)
	b, err := New(Options{Dir: t.TempDir(), Environment: "dev", Now: func() time.Time { return t0.Add(90 * time.Minute) },
		Window: 30 * time.Minute}, src)
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.Build(context.Background(), core.BundleRequest{Target: "beta", Actor: "U1", CommandID: "cmd-3"})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	files := readBundle(t, res.Path)
	var ts TargetSeqs
	if err := json.Unmarshal(files[ledgerTargetsName], &ts); err != nil {
		t.Fatal(err)
	}
	// Entry n (seq n+1) was appended at t0+(n+1)min; the window starts at t0+60min.
	if want := []string{"beta", "global", "group:majors"}; strings.Join(ts.Matches, ",") != strings.Join(want, ",") {
		t.Errorf("matches = %v, want %v", ts.Matches, want)
	}
	for _, seq := range ts.Seqs {
		if seq < 60 {
			t.Errorf("seq %d is before the window", seq)
		}
		if tgt := []string{"alpha", "beta", "group:majors", "global", "gamma"}[(seq-1)%5]; tgt == "alpha" || tgt == "gamma" {
			t.Errorf("seq %d concerns %s, not beta", seq, tgt)
		}
	}
	if len(ts.Seqs) != 24 { // seqs 60..100 whose target is beta, group:majors or global
		t.Errorf("got %d target seqs: %v", len(ts.Seqs), ts.Seqs)
	}
	rep, err := Inspect(context.Background(), res.Path, InspectOptions{VerifierKey: l.VerifierKey()})
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if rep.Ledger.From != 60 || rep.Ledger.To != 100 {
		t.Errorf("export covers %d..%d, want 60..100", rep.Ledger.From, rep.Ledger.To)
	}
}

func TestBuilder_Build_Deterministic(t *testing.T) {
	l := openLedger(t, 20)
	src := testSources(t, l)
	req := core.BundleRequest{Target: "alpha", Actor: "U1", Reason: "stuck", CommandID: "cmd-4"}
	var sums []string
	var contents [][]byte
	for i := 0; i < 2; i++ {
		res, err := newTestBuilder(t, t.TempDir(), src).Build(context.Background(), req)
		if err != nil {
			t.Fatalf("Build %d: %v", i, err)
		}
		raw, err := os.ReadFile(res.Path)
		if err != nil {
			t.Fatal(err)
		}
		sums, contents = append(sums, res.SHA256), append(contents, raw)
	}
	if sums[0] != sums[1] || !bytes.Equal(contents[0], contents[1]) {
		t.Errorf("two builds of the same state differ: %s vs %s", sums[0], sums[1])
	}
}

func TestBuilder_Build_AbortsOnLeak(t *testing.T) {
	// The ledger export is embedded verbatim (it must verify), so a secret
	// recorded there slips past redaction: the proof must catch it.
	l := openLedger(t, 10, `{"event_type":"oops","target":"alpha","detail":"`+envSigning+`"}`)
	dir := t.TempDir()
	b := newTestBuilder(t, dir, testSources(t, l))
	_, err := b.Build(context.Background(), core.BundleRequest{Target: "alpha", Actor: "U1", CommandID: "cmd-5"})
	var leak *redact.LeakError
	if !errors.As(err, &leak) || !errors.Is(err, redact.ErrLeak) || !errors.Is(err, core.ErrBundleLeak) {
		t.Fatalf("Build = %v, want a leak error the core audits as a denial", err)
	}
	if leak.File != ledgerExportName || leak.Rule != redact.RuleKnownSecret {
		t.Errorf("leak = %+v, want known_secret in %s", leak, ledgerExportName)
	}
	if strings.Contains(err.Error(), envSigning) {
		t.Errorf("error reveals the secret: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Errorf("bundle dir not empty after abort: %v", ents)
	}
}

func TestBuilder_Build_AbortsOnRuleMatch(t *testing.T) {
	l := openLedger(t, 5, `{"event_type":"oops","target":"global","detail":"key `+unknownAWS+`"}`)
	dir := t.TempDir()
	_, err := newTestBuilder(t, dir, testSources(t, l)).Build(context.Background(), core.BundleRequest{Target: "global", CommandID: "c"})
	var leak *redact.LeakError
	if !errors.As(err, &leak) || leak.Rule != redact.RuleAWSKeyID {
		t.Fatalf("Build = %v, want aws_access_key_id leak", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 0 {
		t.Errorf("files left: %v", m)
	}
}

func TestNew_Errors(t *testing.T) {
	l := openLedger(t, 1)
	for name, tc := range map[string]struct {
		opts Options
		src  Sources
	}{
		"no dir":      {Options{}, Sources{Snapshot: testSnapshot, Ledger: l}},
		"no snapshot": {Options{Dir: t.TempDir()}, Sources{Ledger: l}},
		"no ledger":   {Options{Dir: t.TempDir()}, Sources{Snapshot: testSnapshot}},
	} {
		if _, err := New(tc.opts, tc.src); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
	b := newTestBuilder(t, t.TempDir(), Sources{Snapshot: testSnapshot, Ledger: l, Secrets: func() []string { return []string{"short"} }})
	if _, err := b.Build(context.Background(), core.BundleRequest{}); !errors.Is(err, redact.ErrShortSecret) {
		t.Errorf("short secret: err = %v", err)
	}
}
