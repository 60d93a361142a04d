package redact

import (
	"bytes"
	"testing"
)

// FuzzRedact checks the property the bundle proof relies on: whatever the
// input, redacted output passes the scan.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{
		"plain", knownSigning, "Bearer abcdefgh12345678", "token=" + knownSlack,
		"https://u:" + knownDriver + "@h", "-----BEGIN PRIVATE KEY-----\nabc",
		`{"password":"xx\"yy"}`, "xoxb-xoxb-12345678901",
	} {
		f.Add([]byte(s))
	}
	r, err := New([]string{knownSlack, knownSigning, knownDriver}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := r.Bytes(bytes.Clone(in), nil)
		if err := r.Scan(bytes.NewReader(out)); err != nil {
			t.Fatalf("redacted output fails the scan: %v\nin:  %q\nout: %q", err, in, out)
		}
	})
}
