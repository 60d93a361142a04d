package source

import (
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to both document decoders: they must
// never panic, and anything they accept must carry the contract's version.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"safety_normal.json", "gates_pass.json", "safety_unknown_field.json", "gates_trailing.json", "safety_repeated_mode.json"} {
		f.Add(fixture(f, name))
	}
	d := decoder{v: validator(f)}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if s, err := d.safety(raw); err == nil && s.SchemaVersion != "1.0" {
			t.Errorf("accepted safety doc with version %q", s.SchemaVersion)
		} else if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("safety error not ErrInvalid: %v", err)
		}
		if g, err := d.gates(raw); err == nil && g.SchemaVersion != "1.0" {
			t.Errorf("accepted gates doc with version %q", g.SchemaVersion)
		} else if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("gates error not ErrInvalid: %v", err)
		}
	})
}
