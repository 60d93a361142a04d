package chatops

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

// fakeLedger verifies only against the note it was told is consistent.
type fakeLedger struct{ good string }

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

func (l *fakeLedger) Export(_ context.Context, w io.Writer, _, _ uint64) ([]byte, error) {
	_, err := io.WriteString(w, "{}\n")
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
	if got := h.responseTo(ru); !strings.Contains(got, "may run audit commands") {
		t.Fatalf("operator audit head = %s", got)
	}
}
