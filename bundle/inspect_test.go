package bundle

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/botwarden/botwarden/internal/core"
)

// repack writes a copy of the bundle at src to dst with edit applied to
// each file's content (nil drops the file).
func repack(t *testing.T, src, dst string, edit func(name string, b []byte) []byte) {
	t.Helper()
	files := readBundle(t, src)
	st, err := newStage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if b = edit(name, b); b != nil {
			if err := st.addBytes(name, b); err != nil {
				t.Fatal(err)
			}
		}
	}
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := packFiles(context.Background(), f, st, "bundle-x", created); err != nil {
		t.Fatal(err)
	}
}

func TestInspect(t *testing.T) {
	l := openLedger(t, 25)
	other := openLedger(t, 1) // a different signing key
	b := newTestBuilder(t, t.TempDir(), testSources(t, l))
	res, err := b.Build(context.Background(), core.BundleRequest{Target: "global", Actor: "U1", CommandID: "cmd-i"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	same := func(_ string, b []byte) []byte { return b }
	tests := []struct {
		name    string
		edit    func(string, []byte) []byte
		key     string
		problem string // "" means it must verify
		source  string
	}{
		{name: "intact, bundle key", edit: same, source: "bundle (integrity only)"},
		{name: "intact, trusted key", edit: same, key: l.VerifierKey(), source: "trusted"},
		{name: "untrusted signer", edit: same, key: other.VerifierKey(), problem: "ledger export"},
		{name: "state edited", edit: func(n string, b []byte) []byte {
			if n == "state/fleet.json" {
				return bytes.Replace(b, []byte("STOPPING"), []byte("IDLE"), 1)
			}
			return b
		}, problem: "state/fleet.json: content differs"},
		{name: "file dropped", edit: func(n string, b []byte) []byte {
			if n == "runtime.json" {
				return nil
			}
			return b
		}, problem: "runtime.json: missing"},
		{name: "file added", edit: same, problem: "extra.txt: not listed"},
		{name: "ledger entry edited", edit: func(n string, b []byte) []byte {
			if n == ledgerExportName {
				return bytes.Replace(b, []byte(`"n":3`), []byte(`"n":4`), 1)
			}
			return b
		}, problem: "ledger export"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".tar.gz")
			if i == 0 {
				path = res.Path
			} else {
				repack(t, res.Path, path, tc.edit)
			}
			if tc.name == "file added" {
				addFile(t, path, "extra.txt", []byte("hello"))
			}
			rep, err := Inspect(context.Background(), path, InspectOptions{VerifierKey: tc.key})
			if tc.problem == "" {
				if err != nil || !rep.OK() || rep.Ledger == nil || rep.Ledger.Entries != 25 || rep.KeySource != tc.source {
					t.Fatalf("Inspect = %+v, %v", rep, err)
				}
				return
			}
			if !errors.Is(err, ErrMismatch) || !strings.Contains(strings.Join(rep.Problems, "\n"), tc.problem) {
				t.Fatalf("Inspect err = %v, problems %q, want %q", err, rep.Problems, tc.problem)
			}
		})
	}
}

// addFile repacks the bundle at path with one more file.
func addFile(t *testing.T, path, name string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	repack(t, path, tmp, func(_ string, c []byte) []byte { return c })
	files := readBundle(t, tmp)
	files[name] = b
	st, err := newStage(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for n, c := range files {
		if err := st.addBytes(n, c); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := packFiles(context.Background(), f, st, "bundle-x", created); err != nil {
		t.Fatal(err)
	}
}

func TestInspect_Malformed(t *testing.T) {
	dir := t.TempDir()
	notGz := filepath.Join(dir, "x.tar.gz")
	if err := os.WriteFile(notGz, []byte("not an archive"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Inspect(context.Background(), notGz, InspectOptions{}); err == nil {
		t.Error("Inspect of garbage succeeded")
	}
	st, err := newStage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.addBytes("state/fleet.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	noManifest := filepath.Join(dir, "nm.tar.gz")
	f, err := os.Create(noManifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := packFiles(context.Background(), f, st, "b", created); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := Inspect(context.Background(), noManifest, InspectOptions{}); !errors.Is(err, ErrMalformed) {
		t.Errorf("Inspect without manifest = %v, want ErrMalformed", err)
	}
}
