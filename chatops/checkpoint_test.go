package chatops

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

// fakeLedger verifies only against the note it was told is consistent,
// and records the export range asked for.
type fakeLedger struct {
	good     string
	mu       sync.Mutex
	from, to uint64
}

var _ Ledger = (*fakeLedger)(nil)

func (l *fakeLedger) Head(context.Context) (LedgerHead, error) {
	return LedgerHead{Size: 7, Root: "abc", Note: []byte(l.good)}, nil
}

func (l *fakeLedger) VerifyAgainst(_ context.Context, note []byte) error {
	if string(note) != l.good {
		return errors.New("checkpoint is not a prefix of this ledger")
	}
	return nil
}

func (l *fakeLedger) Export(_ context.Context, w io.Writer, from, to uint64) ([]byte, error) {
	l.mu.Lock()
	l.from, l.to = from, to
	l.mu.Unlock()
	_, err := io.WriteString(w, "{\"seq\":1}\n{\"seq\":2}\n")
	return []byte(l.good), err
}

func TestCheckpoint_BatchedPostedThrough429AndVerified(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	led := &fakeLedger{good: "botwarden.dev/ledger\n3\nROOT3\n\n— key sig\n"}
	h.a.ledger = led
	h.slack.RateLimit("chat.postMessage", 1, 1)
	h.a.PostCheckpoint([]byte("botwarden.dev/ledger\n2\nROOT2\n"))
	h.a.PostCheckpoint([]byte(led.good))
	h.waitFor("checkpoint in the audit channel", func() bool {
		for _, m := range h.slack.Messages("C0AUDIT") {
			if strings.Contains(m.Text, "ROOT3") {
				return true
			}
		}
		return false
	})
	for _, m := range h.slack.Messages("C0AUDIT") {
		if strings.Contains(m.Text, "ROOT2") {
			t.Fatal("superseded checkpoint posted: batches post the newest only")
		}
		if strings.Contains(m.Text, "ROOT3") && !strings.Contains(m.Text, "(2 since the last post)") {
			t.Fatalf("batch count missing: %s", m.Text)
		}
	}
	_, ru := h.command("U0AUDITOR", "C0OPS", "audit verify")
	h.waitFor("verify answer", func() bool { return h.responseTo(ru) != "" })
	if got := h.responseTo(ru); !strings.Contains(got, "consistent") {
		t.Fatalf("audit verify = %s", got)
	}
	led.good = "rewritten"
	_, ru = h.command("U0AUDITOR", "C0OPS", "audit verify")
	h.waitFor("verify answer", func() bool { return h.responseTo(ru) != "" })
	if got := h.responseTo(ru); !strings.Contains(got, "does NOT match") {
		t.Fatalf("audit verify after rewrite = %s", got)
	}
	_, ru = h.command("U0OPERATOR", "C0OPS", "audit head")
	h.waitFor("refusal", func() bool { return h.responseTo(ru) != "" })
	if got := h.responseTo(ru); !strings.Contains(got, "do not allow audit commands") {
		t.Fatalf("operator audit head = %s", got)
	}
}

func TestAudit_HeadAndExport(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	led := &fakeLedger{good: "botwarden.dev/ledger\n7\nROOT7\n\n— key sig\n"}
	h.ledger = led
	h.restart()

	_, ru := h.command("U0AUDITOR", "C0OPS", "audit head")
	h.waitFor("head", func() bool { return h.responseTo(ru) != "" })
	if got := h.responseTo(ru); !strings.Contains(got, "size 7") || !strings.Contains(got, "`abc`") || !strings.Contains(got, "ROOT7") {
		t.Fatalf("audit head = %s", got)
	}

	// Not where people without the audit permission would get the file.
	_, ru = h.command("U0ADMIN", "C0OPS", "audit export --from 2 --to=5")
	h.waitFor("export refusal", func() bool { return h.responseTo(ru) != "" })
	if got := h.responseTo(ru); !strings.Contains(got, "direct message") || len(h.slack.Files()) != 0 {
		t.Fatalf("audit export in an ops channel = %s (%d files)", got, len(h.slack.Files()))
	}
	_, ru = h.command("U0ADMIN", "D0ADMIN", "audit export --from 2 --to=5")
	h.waitFor("export answer", func() bool { return h.responseTo(ru) != "" })
	if got := h.responseTo(ru); !strings.Contains(got, "Exported 20 bytes") || !strings.Contains(got, "ledger-dev-2-5.jsonl") {
		t.Fatalf("audit export = %s", got)
	}
	fs := h.slack.Files()
	if len(fs) != 1 || !fs[0].Completed || fs[0].Channel != "D0ADMIN" || fs[0].Name != "ledger-dev-2-5.jsonl" ||
		string(fs[0].Content) != "{\"seq\":1}\n{\"seq\":2}\n" {
		t.Fatalf("uploaded export = %+v", fs)
	}
	led.mu.Lock()
	from, to := led.from, led.to
	led.mu.Unlock()
	if from != 2 || to != 5 {
		t.Fatalf("export range = %d..%d, want 2..5", from, to)
	}

	_, ru = h.command("U0VIEWER", "C0OPS", "audit export")
	h.waitFor("refusal", func() bool { return h.responseTo(ru) != "" })
	if got := h.responseTo(ru); !strings.Contains(got, "do not allow audit commands") || len(h.slack.Files()) != 1 {
		t.Fatalf("viewer export = %s (%d files)", got, len(h.slack.Files()))
	}
}

// auditPolicy is a Core whose policy grants audit to the named actors
// only, whatever their roles are called.
type auditPolicy struct {
	Core
	may map[string]bool
}

func (p auditPolicy) MayAudit(actor string) bool { return p.may[actor] }
func (p auditPolicy) Roles(string) []string      { return []string{"admin", "auditor"} }

// Slack asks the policy's audit permission, as the API does, not a list of
// role names: an "admin" without audit may not read the ledger, and a
// role named otherwise that has it may.
func TestAudit_PolicyPermissionNotRoleNames(t *testing.T) {
	a := &Adapter{core: auditPolicy{may: map[string]bool{"U0COMPLIANCE": true}}}
	if a.mayAudit("U0ADMIN") || !a.mayAudit("U0COMPLIANCE") {
		t.Fatalf("mayAudit: admin %v, compliance %v", a.mayAudit("U0ADMIN"), a.mayAudit("U0COMPLIANCE"))
	}
}
