package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
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

func TestValidateEvent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		event string
		ok    bool
	}{
		{`{"a":1,"b":{"c":[true,null,"é"]}}`, true},
		{`{"a":"\u00e9 \ud83d\ude00"}`, true}, // escapes, a surrogate pair
		{``, false},
		{`[1]`, false},
		{`{"a":1}x`, false},
		{`{"a":1,}`, false},
		{`{"a": 1}`, false},            // not compact
		{`{"a":1,"a":2}`, false},       // a repeated name reads differently to different parsers
		{`{"o":{"b":1,"b":1}}`, false}, // also when nested
		{"{\"a\":\"caf\xe9\"}", false}, // invalid UTF-8
		{`{"a":"\ud800"}`, false},      // a lone surrogate
		{`{"a":1,"A":2}`, true},        // names differ in case: both kept
	} {
		err := ValidateEvent([]byte(tc.event))
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalidEvent)) {
			t.Errorf("ValidateEvent(%q) = %v, want ok=%v", tc.event, err, tc.ok)
		}
	}
}
