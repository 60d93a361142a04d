package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// TestPrintOutcomeText checks what ctl prints for people: the transition
// once, whether or not the engine's detail already names it, and a
// challenge with the command that confirms it.
func TestPrintOutcomeText(t *testing.T) {
	expires := time.Date(2026, 11, 26, 10, 20, 47, 892775692, time.UTC)
	for _, tc := range []struct {
		name string
		o    core.Outcome
		want []string // each must appear exactly once
		not  []string
	}{
		{
			name: "detail names the transition",
			o: core.Outcome{Op: core.OpStart, Target: "alpha", Status: core.StatusApplied,
				From: lifecycle.Idle, To: lifecycle.RunningPaper, Detail: "alpha: IDLE -> RUNNING_PAPER"},
			want: []string{"start alpha: applied\n", "IDLE -> RUNNING_PAPER"},
		},
		{
			name: "detail does not name it",
			o: core.Outcome{Op: core.OpStop, Target: "alpha", Status: core.StatusApplied,
				From: lifecycle.RunningPaper, To: lifecycle.Idle, Detail: "stopped"},
			want: []string{"  RUNNING_PAPER -> IDLE\n", "  stopped\n"},
		},
		{
			name: "challenge",
			o: core.Outcome{Op: core.OpStart, Target: "beta", Status: core.StatusChallenged,
				Challenge: &core.Challenge{ID: "ch-1", Live: true, ExpiresAt: expires,
					Requires: core.Requirements{Role: "approver", Approvers: 1, TypedTarget: "beta"}}},
			want: []string{"challenge ch-1 LIVE: 1 approval(s) by role approver before 2026-11-26T10:20:47Z\n",
				"botwarden ctl confirm ch-1 --target beta --reason"},
			not: []string{"892775692", " -> "},
		},
		{
			name: "challenge with the engine's detail",
			o: core.Outcome{Op: core.OpStart, Target: "beta", Status: core.StatusChallenged,
				Detail: "dangerous op: 1 approval(s) by role approver needed before 2026-11-26T10:20:47Z",
				Challenge: &core.Challenge{ID: "ch-1", Live: true, ExpiresAt: expires,
					Requires: core.Requirements{Role: "approver", Approvers: 1, TypedTarget: "beta"}}},
			want: []string{"approval(s) by role approver", "  challenge ch-1 LIVE\n", "botwarden ctl confirm ch-1 --target beta --reason"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			printOutcomeText(&b, tc.o)
			for _, w := range tc.want {
				if n := strings.Count(b.String(), w); n != 1 {
					t.Errorf("%q appears %d times in\n%s", w, n, b.String())
				}
			}
			for _, w := range tc.not {
				if strings.Contains(b.String(), w) {
					t.Errorf("%q in\n%s", w, b.String())
				}
			}
		})
	}
}

// TestCtlHelp_NamesTargets checks that each operation's help says what it
// takes, as the engine decides: a fleet target only where one is accepted.
func TestCtlHelp_NamesTargets(t *testing.T) {
	for _, tc := range []struct {
		cmd   string
		scope bool
	}{
		{"start", false}, {"resume", false}, {"apply", false}, {"release", false},
		{"stop", true}, {"pause", true}, {"quarantine", true}, {"killswitch-set", true},
	} {
		out, code := runCLI(t, "ctl", tc.cmd, "--help")
		if code != 0 {
			t.Fatalf("ctl %s --help: code %d", tc.cmd, code)
		}
		if got := strings.Contains(out, "group:NAME or global"); got != tc.scope {
			t.Errorf("ctl %s --help offers group:NAME/global = %v, want %v:\n%s", tc.cmd, got, tc.scope, out)
		}
		if want := "ctl " + tc.cmd + " BOT"; !tc.scope && !strings.Contains(out, want) {
			t.Errorf("ctl %s --help: no %q in\n%s", tc.cmd, want, out)
		}
	}
}

// TestCtlWatch_JSONLinesResume follows the real service's events with
// `ctl watch --output json`: one JSON line per event carrying its seq, so
// a script can stop and resume with --from exactly after the last one.
func TestCtlWatch_JSONLinesResume(t *testing.T) {
	dir := t.TempDir()
	op := createToken(t, dir, "U0OPERATOR")
	addr, stop := startServe(t, dir, nil)
	defer stop()
	url := "http://" + addr
	watch := func(from uint64, n int) []watchLine {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pr, pw := io.Pipe()
		root := newRootCmd()
		root.SetArgs([]string{"ctl", "--url", url, "--token", op, "--output", "json", "watch", "--from", strconv.FormatUint(from, 10)})
		root.SetOut(pw)
		root.SetErr(io.Discard)
		done := make(chan struct{})
		go func() { _ = root.ExecuteContext(ctx); pw.Close(); close(done) }()
		var lines []watchLine
		sc := bufio.NewScanner(pr)
		for len(lines) < n && sc.Scan() {
			var l watchLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Seq == 0 || l.Type == "" || !json.Valid(l.Event) {
				t.Fatalf("watch line %q: %v", sc.Text(), err)
			}
			lines = append(lines, l)
		}
		cancel()
		go io.Copy(io.Discard, pr)
		<-done
		if len(lines) < n {
			t.Fatalf("watch gave %d lines, want %d", len(lines), n)
		}
		return lines
	}
	first := watch(0, 3)
	rest := watch(first[1].Seq, 1)
	if rest[0].Seq != first[2].Seq || rest[0].Type != first[2].Type {
		t.Fatalf("resumed after seq %d at %+v, want seq %d", first[1].Seq, rest[0], first[2].Seq)
	}
}

// TestCtl_TrustsAPrivateCA reaches a service serving TLS with a
// certificate no system trusts: refused without --ca, answered with it
// (and with BOTWARDEN_CA), as an SRE with a private CA runs it.
func TestCtl_TrustsAPrivateCA(t *testing.T) {
	dir, certs := t.TempDir(), t.TempDir()
	cert, key := filepath.Join(certs, "tls.crt"), filepath.Join(certs, "tls.key")
	writePair(t, "botwarden-test", cert, key)
	op := createToken(t, dir, "U0OPERATOR")
	s, stop := startServeWith(t, dir, nil, func(c *Config) { c.Listen.TLSCert, c.Listen.TLSKey = cert, key })
	defer stop()
	url := "https://" + s.http
	if out, code := runCLI(t, "ctl", "--url", url, "--token", op, "status"); code != 1 || !strings.Contains(out, "certificate") {
		t.Fatalf("without --ca: code %d, %q; want a certificate error", code, out)
	}
	if out, code := runCLI(t, "ctl", "--url", url, "--token", op, "--ca", cert, "status"); code != 0 || !strings.Contains(out, "alpha") {
		t.Fatalf("with --ca: code %d, %q", code, out)
	}
	t.Setenv("BOTWARDEN_CA", cert)
	if out, code := runCLI(t, "ctl", "--url", url, "--token", op, "status"); code != 0 {
		t.Fatalf("with BOTWARDEN_CA: code %d, %q", code, out)
	}
	if out, code := runCLI(t, "ctl", "--url", url, "--token", op, "--ca", key, "status"); code != 1 || !strings.Contains(out, "no PEM certificate") {
		t.Fatalf("--ca naming a key: code %d, %q", code, out)
	}
}

// TestVersion: `botwarden --version` prints what `botwarden version` does.
func TestVersion(t *testing.T) {
	a, code := runCLI(t, "--version")
	b, code2 := runCLI(t, "version")
	if code != 0 || code2 != 0 || a != b || !strings.HasPrefix(a, "botwarden ") {
		t.Fatalf("--version %q (%d), version %q (%d)", a, code, b, code2)
	}
}
