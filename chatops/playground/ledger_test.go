package playground

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// memLedger is an in-memory Ledger: events and a fake export format.
type memLedger struct{ events [][]byte }

var _ Ledger = (*memLedger)(nil)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func (m *memLedger) Head() LedgerHead {
	return LedgerHead{Size: uint64(len(m.events)), Root: fmt.Sprintf("%064x", len(m.events)), Time: t0}
}

func (m *memLedger) Event(_ context.Context, seq uint64) ([]byte, time.Time, error) {
	if seq == 0 || seq > uint64(len(m.events)) {
		return nil, time.Time{}, fmt.Errorf("no entry %d", seq)
	}
	return m.events[seq-1], t0.Add(time.Duration(seq) * time.Second), nil
}

func (m *memLedger) Export(_ context.Context, w io.Writer, size uint64) error {
	for i := uint64(0); i < size; i++ {
		fmt.Fprintf(w, "{\"seq\":%d,\"event\":%s}\n", i+1, m.events[i])
	}
	_, err := fmt.Fprintf(w, "{\"export\":\"test\",\"from\":1,\"to\":%d}\n", size)
	return err
}

func (m *memLedger) Checkpoint(_ context.Context, size uint64) ([]byte, error) {
	return []byte(fmt.Sprintf("checkpoint %d\n", size)), nil
}

func (m *memLedger) VerifierKey() string { return "test-key+00000000+AAAA" }

func get(t *testing.T, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestServer_LedgerPanel(t *testing.T) {
	t.Parallel()
	l := &memLedger{}
	for i := 1; i <= 12; i++ {
		l.events = append(l.events, []byte(fmt.Sprintf(`{"event_type":"controlplane.command.requested","actor":"U0OPERATOR","op":"status","target":"b%d"}`, i)))
	}
	r := newRig(t, nil, l)
	code, body, _ := get(t, r.page.URL+"/play/ledger")
	var panel struct {
		Head   LedgerHead     `json:"head"`
		Events []EventSummary `json:"events"`
		Key    string         `json:"verifier_key"`
	}
	if err := json.Unmarshal([]byte(body), &panel); code != 200 || err != nil {
		t.Fatalf("panel = %d %v %s", code, err, body)
	}
	if panel.Head.Size != 12 || len(panel.Events) != recentEvents || panel.Events[0].Seq != 12 || panel.Events[0].Target != "b12" ||
		panel.Events[recentEvents-1].Seq != 12-recentEvents+1 || panel.Key != l.VerifierKey() {
		t.Fatalf("panel = %+v", panel)
	}

	tests := []struct {
		name, path string
		code       int
		want       string
	}{
		{"export at head", "/play/ledger/export", 200, `"to":12`},
		{"export at a size", "/play/ledger/export?size=3", 200, `"to":3`},
		{"export past the head", "/play/ledger/export?size=13", 400, "want 0..12"},
		{"export bad size", "/play/ledger/export?size=x", 400, "want 0..12"},
		{"checkpoint for the export", "/play/ledger/checkpoint?size=3", 200, "checkpoint 3"},
		{"key", "/play/ledger/key", 200, "test-key+00000000+AAAA"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := get(t, r.page.URL+tc.path)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("GET %s = %d %q, want %d with %q", tc.path, code, body, tc.code, tc.want)
			}
		})
	}
	if _, body, h := get(t, r.page.URL+"/play/ledger/export?size=2"); strings.Count(body, "\n") != 3 || !strings.Contains(h.Get("Content-Disposition"), "ledger-2.jsonl") {
		t.Fatalf("export of 2 = %q (%s)", body, h.Get("Content-Disposition"))
	}
}

func TestServer_NoLedgerWired(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil, nil)
	for _, p := range []string{"/play/ledger", "/play/ledger/export", "/play/ledger/key"} {
		if code, _, _ := get(t, r.page.URL+p); code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, code)
		}
	}
}
