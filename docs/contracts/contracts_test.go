package contracts

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtures are named "<schema>.<case>.json" under testdata/valid and
// testdata/invalid.
func fixtures(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in testdata/%s: %v", dir, err)
	}
	out := make(map[string][]byte, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

func schemaOf(file string) string { return strings.SplitN(file, ".", 2)[0] }

func TestValidator_Fixtures(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	for _, dir := range []string{"valid", "invalid"} {
		for name, doc := range fixtures(t, dir) {
			t.Run(dir+"/"+name, func(t *testing.T) {
				err := v.Validate(schemaOf(name), doc)
				if dir == "valid" && err != nil {
					t.Fatalf("valid fixture rejected: %v", err)
				}
				if dir == "invalid" {
					if err == nil {
						t.Fatal("invalid fixture accepted")
					}
					if !errors.Is(err, ErrInvalid) {
						t.Fatalf("error does not wrap ErrInvalid: %v", err)
					}
				}
			})
		}
	}
}

func TestValidate_MatchesValidator(t *testing.T) {
	doc := fixtures(t, "valid")["command.live_start.json"]
	if err := Validate(Command, doc); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if err := Validate(Command, []byte(`{"op":`)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("malformed JSON: got %v, want ErrInvalid", err)
	}
}

func TestValidate_UnknownSchema(t *testing.T) {
	if _, err := Compile("nope"); !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("Compile: got %v", err)
	}
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Validate("nope", []byte(`{}`)); !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("Validate: got %v", err)
	}
	if _, err := Source("nope"); !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("Source: got %v", err)
	}
}

func TestValidate_ErrorNamesLocation(t *testing.T) {
	doc := fixtures(t, "invalid")["command.bad_env.json"]
	err := Validate(Command, doc)
	if err == nil || !strings.Contains(err.Error(), "/environment") {
		t.Fatalf("error should name /environment: %v", err)
	}
}

func TestSource_AllSchemasAre2020_12(t *testing.T) {
	for _, n := range Names() {
		b, err := Source(n)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "https://json-schema.org/draft/2020-12/schema") {
			t.Errorf("%s does not declare draft 2020-12", n)
		}
	}
}

// FuzzValidate: any input is either accepted or refused with ErrInvalid;
// validation never panics.
func FuzzValidate(f *testing.F) {
	for _, dir := range []string{"valid", "invalid"} {
		paths, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		for _, p := range paths {
			b, _ := os.ReadFile(p)
			f.Add(schemaOf(filepath.Base(p)), b)
		}
	}
	v, err := NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string, doc []byte) {
		if !known(name) {
			name = Command
		}
		if err := v.Validate(name, doc); err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error does not wrap ErrInvalid: %v", err)
		}
	})
}
