package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/botwarden/botwarden/internal/api"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/ledger"
)

// fileBundler writes a random "bundle" per command into dir and reports
// its real SHA-256, as bundle.Builder does.
type fileBundler struct{ dir string }

func (b fileBundler) Build(_ context.Context, req core.BundleRequest) (core.BundleResult, error) {
	data := make([]byte, 100_000)
	if _, err := rand.Read(data); err != nil {
		return core.BundleResult{}, err
	}
	path := filepath.Join(b.dir, "bundle-"+req.CommandID+".tar.gz")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return core.BundleResult{}, err
	}
	sum := sha256.Sum256(data)
	return core.BundleResult{Path: path, SHA256: hex.EncodeToString(sum[:]), ManifestSHA256: hex.EncodeToString(sum[:])}, nil
}

// A bundle built through the API is fetched through the API, checked
// against the hash the ledger recorded, by those who may build one.
func TestAPI_BundleFetched(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newEnv(t, func(o *envOpt) { o.bundler, o.bundleDir = fileBundler{dir}, dir })
	op := e.client(coretest.Operator)
	out, err := op.Submit(bg, api.CommandRequest{Target: "alpha", Op: core.OpBundle, Reason: "evidence"}, "bund-1")
	if err != nil || out.Status != core.StatusApplied || out.Bundle == nil {
		t.Fatalf("support_bundle: %+v %v", out, err)
	}
	var got bytes.Buffer
	sum, err := op.FetchBundle(bg, "bund-1", &got)
	if err != nil || sum != out.Bundle.SHA256 {
		t.Fatalf("fetch: sha %s %v, want %s", sum, err, out.Bundle.SHA256)
	}
	if disk, _ := os.ReadFile(out.Bundle.Path); !bytes.Equal(disk, got.Bytes()) {
		t.Fatal("the fetched bytes are not the bundle file")
	}
	if !e.ledgerHas(t, `"event_type":"support_bundle.downloaded"`, `"actor":"`+coretest.Operator+`"`,
		`"command_id":"bund-1"`, `"sha256":"`+out.Bundle.SHA256+`"`) {
		t.Fatal("the download is not in the ledger")
	}
	// The outcome read later names the bundle too.
	var later core.Outcome
	if err := op.Do(bg, http.MethodGet, "/v1/commands/bund-1", nil, nil, &later); err != nil || later.Bundle == nil || *later.Bundle != *out.Bundle {
		t.Fatalf("GET /v1/commands/bund-1: %+v %v", later.Bundle, err)
	}

	for _, c := range []struct {
		name   string
		client *api.Client
		id     string
		status int
	}{
		{"a viewer", e.client(coretest.Viewer), "bund-1", http.StatusForbidden},
		{"no such command", op, "nope-1", http.StatusNotFound},
	} {
		_, err := c.client.FetchBundle(bg, c.id, &bytes.Buffer{})
		if p := problemOf(t, err); p.Status != c.status {
			t.Errorf("%s: %+v, want %d", c.name, p, c.status)
		}
	}
	if _, err := op.Submit(bg, api.CommandRequest{Target: "alpha", Op: core.OpStatus}, "stat-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := op.FetchBundle(bg, "stat-1", &bytes.Buffer{}); problemOf(t, err).Status != http.StatusNotFound {
		t.Errorf("a status command's bundle: %v, want 404", err)
	}

	// A file changed on disk after the ledger recorded its hash is caught.
	if err := os.WriteFile(out.Bundle.Path, []byte("tampered"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := op.FetchBundle(bg, "bund-1", &bytes.Buffer{}); !errors.Is(err, api.ErrBundleMismatch) {
		t.Errorf("a tampered bundle: %v, want ErrBundleMismatch", err)
	}
	// A symlink in the folder is not followed (here, to a file outside).
	secret := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(secret, []byte("not a bundle"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(out.Bundle.Path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, out.Bundle.Path); err != nil {
		t.Fatal(err)
	}
	if _, err := op.FetchBundle(bg, "bund-1", &bytes.Buffer{}); problemOf(t, err).Status != http.StatusNotFound {
		t.Errorf("a symlinked bundle: %v, want 404", err)
	}
	// A file gone is a clear 404.
	if err := os.Remove(out.Bundle.Path); err != nil {
		t.Fatal(err)
	}
	if _, err := op.FetchBundle(bg, "bund-1", &bytes.Buffer{}); problemOf(t, err).Status != http.StatusNotFound {
		t.Errorf("a removed bundle: %v, want 404", err)
	}
}

// Only files inside the bundle folder are served, whatever the ledger says.
func TestAPI_BundleOutsideItsFolderRefused(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	e := newEnv(t, func(o *envOpt) { o.bundler, o.bundleDir = fileBundler{outside}, t.TempDir() })
	op := e.client(coretest.Operator)
	if out, err := op.Submit(bg, api.CommandRequest{Target: "alpha", Op: core.OpBundle}, "bund-2"); err != nil || out.Status != core.StatusApplied {
		t.Fatalf("support_bundle: %+v %v", out, err)
	}
	if _, err := op.FetchBundle(bg, "bund-2", &bytes.Buffer{}); problemOf(t, err).Status != http.StatusNotFound {
		t.Errorf("a bundle outside the folder: %v, want 404", err)
	}
}

// refusingLedger refuses the API's own appends while refuse is set.
type refusingLedger struct {
	api.Ledger
	refuse *atomic.Bool
}

func (l refusingLedger) Append(ctx context.Context, ev []byte) (ledger.Receipt, error) {
	if l.refuse.Load() {
		return ledger.Receipt{}, fmt.Errorf("append: %w: disk full (test)", ledger.ErrUnavailable)
	}
	return l.Ledger.Append(ctx, ev)
}

// A download the ledger cannot record is not served: who fetched a
// bundle is audited before a byte of it goes out.
func TestAPI_BundleNotServedUnrecorded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var refuse atomic.Bool
	e := newEnv(t, func(o *envOpt) {
		o.bundler, o.bundleDir = fileBundler{dir}, dir
		o.apiLedger = func(l api.Ledger) api.Ledger { return refusingLedger{l, &refuse} }
	})
	op := e.client(coretest.Operator)
	if out, err := op.Submit(bg, api.CommandRequest{Target: "alpha", Op: core.OpBundle, Reason: "evidence"}, "bund-2"); err != nil || out.Status != core.StatusApplied {
		t.Fatalf("support_bundle: %+v %v", out, err)
	}
	refuse.Store(true)
	var got bytes.Buffer
	_, err := op.FetchBundle(bg, "bund-2", &got)
	if p := problemOf(t, err); p.Status != http.StatusServiceUnavailable || p.Reason != string(core.ReasonLedgerUnavailable) || got.Len() != 0 {
		t.Fatalf("fetch with the ledger refusing: %+v, %d bytes", p, got.Len())
	}
	refuse.Store(false)
	if _, err := op.FetchBundle(bg, "bund-2", &got); err != nil || got.Len() == 0 {
		t.Fatalf("fetch once the ledger is back: %v", err)
	}
}
