package operations

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestService_KilledUnderLoadKeepsEveryAnsweredCommand kills the real
// service (SIGKILL, no shutdown at all) while eight clients send it
// commands, restarts it on the same data folder and checks what audit
// first and idempotency promise across a crash: every command answered
// "applied" before the kill is known afterwards with the same ledger seq,
// a retry of any command sent (answered or not) has no second effect, and
// the ledger verifies.
func TestService_KilledUnderLoadKeepsEveryAnsweredCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts the real service twice")
	}
	bin := binary(t)
	root := t.TempDir()
	data := filepath.Join(root, "data")
	out, err := exec.Command(bin, "token", "create", "--data", data, "--actor", "U0OPERATOR").CombinedOutput()
	tok := regexp.MustCompile(`bw_[A-Za-z0-9_-]+`).FindString(string(out))
	if err != nil || tok == "" {
		t.Fatalf("token create: %v\n%s", err, out)
	}
	base, kill := startPlainService(t, bin, root, data)

	type answer struct {
		seq     uint64
		applied bool
	}
	var mu sync.Mutex
	sent := map[string]answer{} // every key sent; applied: answered 200 applied before the kill
	ctx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				key := fmt.Sprintf("crash-%d-%d", c, i)
				mu.Lock()
				sent[key] = answer{}
				mu.Unlock()
				code, o, err := postStatus(base, tok, key)
				if err != nil {
					return // the service is gone
				}
				if code == http.StatusOK && o.Status == "applied" && !o.Duplicate {
					mu.Lock()
					sent[key] = answer{seq: o.Seq, applied: true}
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	kill() // SIGKILL, mid-load
	stopLoad()
	wg.Wait()

	applied := 0
	for _, a := range sent {
		if a.applied {
			applied++
		}
	}
	if applied < 50 {
		t.Fatalf("only %d commands answered before the kill: the test measured nothing", applied)
	}
	base, stop := startPlainService(t, bin, root, data)
	defer stop()
	for key, a := range sent {
		code, o, err := postStatus(base, tok, key)
		switch {
		case err != nil || code != http.StatusOK:
			t.Fatalf("retry of %s after the crash: %d %v", key, code, err)
		case a.applied && (!o.Duplicate || o.Seq != a.seq || o.Status != "applied"):
			t.Fatalf("%s was answered applied at seq %d before the kill; after it: %+v", key, a.seq, o)
		}
		// A command sent but not answered may or may not have been
		// recorded: either way the retry ran at most once more.
	}
	if out, err := exec.Command(bin, "ledger", "verify", "--data", data).Output(); err != nil || !strings.HasPrefix(string(out), "ok:") {
		t.Fatalf("ledger verify after the crash: %v\n%s", err, out)
	}
	// The restart says the run before it ended without recording its stop.
	exp := filepath.Join(root, "ledger.jsonl")
	if out, err := exec.Command(bin, "ledger", "export", "--data", data, "--out", exp).CombinedOutput(); err != nil {
		t.Fatalf("ledger export: %v\n%s", err, out)
	}
	if got := lastStart(t, exp); got != "unclean" {
		t.Fatalf("the restart after SIGKILL recorded previous_run %q, want unclean", got)
	}
	t.Logf("%d commands sent, %d answered applied before the SIGKILL; all kept", len(sent), applied)
}

// lastStart returns previous_run of the last controlplane.started in an
// export.
func lastStart(t *testing.T, export string) string {
	t.Helper()
	b, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	run, starts := "", 0
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var e struct {
			Event struct {
				Type    string `json:"event_type"`
				Service struct {
					PreviousRun string `json:"previous_run"`
				} `json:"service"`
			} `json:"event"`
		}
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatal(err)
		}
		if e.Event.Type == "controlplane.started" {
			run, starts = e.Event.Service.PreviousRun, starts+1
		}
	}
	if starts != 2 {
		t.Fatalf("%d starts recorded, want 2", starts)
	}
	return run
}

type statusOutcome struct {
	Status    string `json:"status"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate"`
}

func postStatus(base, tok, key string) (int, statusOutcome, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/v1/commands", strings.NewReader(`{"target":"alpha","op":"status"}`))
	if err != nil {
		return 0, statusOutcome{}, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, statusOutcome{}, err
	}
	defer resp.Body.Close()
	var o statusOutcome
	if resp.StatusCode == http.StatusOK {
		err = json.NewDecoder(resp.Body).Decode(&o)
	}
	return resp.StatusCode, o, err
}
