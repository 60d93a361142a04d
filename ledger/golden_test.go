package ledger

import (
	"bytes"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenKey is a test-only signing key: it signs the golden vectors and
// nothing else.
const goldenKey = "PRIVATE+KEY+botwarden-ledger-test+3e53fcbe+AfjVBkGi66c85iloFy5l/3GKAip8Cw7+VRfD/3LyR1q6"

func goldenEvents() [][]byte {
	return [][]byte{
		[]byte(`{"type":"command.received","command_id":"c-1","op":"status"}`),
		[]byte(`{"type":"challenge.issued","note":"<live> & \u003cescaped\u003e"}`),
		[]byte(`{"type":"bot.state.transition","from":"IDLE","to":"RUNNING_PAPER","unicode":"日本語"}`),
		[]byte(`{}`),
		[]byte(`{"nested":{"a":[1,2,{"b":null}],"c":true},"n":-1.5e3}`),
		[]byte(`{"type":"command.result","status":"applied"}`),
		[]byte(`{"type":"x","i":7}`),
	}
}

func TestGolden_SmallLedger(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, privateKeyFileName), []byte(goldenKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := openTest(t, dir, Options{})
	ctx := context.Background()
	var hashes bytes.Buffer
	for _, ev := range goldenEvents() {
		r, err := l.Append(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		root, _ := l.RootAt(ctx, r.Seq)
		fmt.Fprintf(&hashes, "seq=%d chain=%x root=%x\n", r.Seq, r.Hash, root)
	}
	full, cp := exportAll(t, l, 1, 0)
	part, cpPart := exportAll(t, l, 4, 6)
	files := map[string][]byte{
		"hashes.txt": hashes.Bytes(), "export.jsonl": full, "export.jsonl.checkpoint": cp,
		"export-4-6.jsonl": part, "export-4-6.jsonl.checkpoint": cpPart, "ledger.pub": []byte(l.VerifierKey() + "\n"),
	}
	for name, got := range files {
		path := filepath.Join("testdata", "golden", name)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the golden file:\n got %s\nwant %s", name, got, want)
		}
	}
}

// TestGolden_FilesVerify checks the committed vectors with the offline
// verifier alone, so a format change cannot slip through with -update.
func TestGolden_FilesVerify(t *testing.T) {
	t.Parallel()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "golden", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	key := string(bytes.TrimSpace(read("ledger.pub")))
	for _, name := range []string{"export.jsonl", "export-4-6.jsonl"} {
		if _, err := VerifyExport(context.Background(), bytes.NewReader(read(name)), read(name+".checkpoint"), key, nil); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The first chain hash, recomputed from the spec's byte layout by hand.
	first, _ := parseExportLine(bytes.SplitAfter(read("export.jsonl"), []byte("\n"))[0])
	var buf bytes.Buffer
	buf.WriteString("botwarden-ledger-v1\x00")
	buf.Write([]byte{0, 0, 0, 0, 0, 0, 0, 1})
	ns := uint64(first.Time.UnixNano())
	for i := 7; i >= 0; i-- {
		buf.WriteByte(byte(ns >> (8 * i)))
	}
	buf.Write(make([]byte, 32))
	buf.Write(goldenEvents()[0])
	sum := sha256Sum(buf.Bytes())
	if hex.EncodeToString(sum[:]) != hex.EncodeToString(first.Hash[:]) {
		t.Fatal("seq 1 chain hash does not follow the documented layout")
	}
}

// TestGolden_DocsVerifierAgrees runs the Python verifier printed in
// docs/ledger.md (a copy in testdata/docs) on the golden exports.
func TestGolden_DocsVerifierAgrees(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	for _, name := range []string{"export.jsonl", "export-4-6.jsonl"} {
		p := filepath.Join("testdata", "golden", name)
		out, err := exec.Command(py, filepath.Join("testdata", "docs", "verify_export.py"), p, p+".checkpoint").CombinedOutput()
		if err != nil || !bytes.HasPrefix(out, []byte("ok ")) {
			t.Fatalf("%s: %v %s", name, err, out)
		}
	}
}
