package ledger

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestIsCompact_AgreesWithJSONCompact(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"a":"x y"}`, `{"a":"x\" y"}`, `{"a":"\\"}`, `{"a":"\\", "b":1}`,
		`{"a":"\\\" "}`, `{"a":"\u0022 "}`, `{"a":[1, 2]}`, "{\"a\":\n1}", `{"a":"\t"}`, "{\"a\":1}\t",
		`{"a":"\\\\"}`, `{"a":"é ü","b":{"c":[true,false,null]}}`, `{"a" :1}`, `{"n":-1.5e3,"s":"\/ \b"}`,
	} {
		if !json.Valid([]byte(s)) {
			t.Fatalf("test case %q is not valid JSON", s)
		}
		var buf bytes.Buffer
		json.Compact(&buf, []byte(s))
		if want := buf.String() == s; isCompact([]byte(s)) != want {
			t.Errorf("isCompact(%q) = %v, json.Compact says %v", s, !want, want)
		}
	}
}
