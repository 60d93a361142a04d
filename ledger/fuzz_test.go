package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzVerifyExport feeds arbitrary exports to the offline verifier: it must
// never panic, and must accept nothing but the genuine export.
func FuzzVerifyExport(f *testing.F) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "golden", name))
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	exp, cp := read("export.jsonl"), read("export.jsonl.checkpoint")
	key := string(bytes.TrimSpace(read("ledger.pub")))
	f.Add(exp)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := VerifyExport(context.Background(), bytes.NewReader(data), cp, key, nil)
		if err == nil && !bytes.Equal(data, exp) {
			t.Fatalf("a different export verified against the golden checkpoint:\n%s", data)
		}
	})
}

// FuzzParseExportLine checks that the line parser never panics and that
// what it accepts re-encodes to the same line.
func FuzzParseExportLine(f *testing.F) {
	f.Add([]byte(`{"seq":1,"time":"2026-01-02T03:04:05.001500000Z","prev":"0000000000000000000000000000000000000000000000000000000000000000","hash":"0000000000000000000000000000000000000000000000000000000000000000","event":{}}` + "\n"))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := parseExportLine(line)
		if err != nil {
			return
		}
		if got := appendExportLine(nil, e); !bytes.Equal(got, line) {
			t.Fatalf("accepted line does not round-trip:\n got %q\nwant %q", got, line)
		}
	})
}

// FuzzIsCompact checks the whitespace scan against json.Compact.
func FuzzIsCompact(f *testing.F) {
	f.Add([]byte(`{"a":"b c","d":[1, 2]}`))
	f.Add([]byte(`{"a":"\" x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		var buf bytes.Buffer
		json.Compact(&buf, b)
		if want := bytes.Equal(buf.Bytes(), b); isCompact(b) != want {
			t.Fatalf("isCompact(%q) = %v, json.Compact says %v", b, !want, want)
		}
	})
}
