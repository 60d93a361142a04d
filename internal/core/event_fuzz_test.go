package core

import (
	"bufio"
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// FuzzDecodeEvent checks that decodeEvent, which decodes with
// github.com/go-json-experiment/json/v1, agrees with encoding/json on any
// input: both refuse it, or both give the same Event. A ledger written by
// an older Botwarden must replay to the same state.
func FuzzDecodeEvent(f *testing.F) {
	seeds, err := os.Open("testdata/golden/live_start.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	defer seeds.Close()
	sc := bufio.NewScanner(seeds)
	for sc.Scan() {
		f.Add(append([]byte(nil), sc.Bytes()...))
	}
	for _, s := range []string{
		`{"event_type":"a","event_type":"b"}`,        // a repeated name: the last wins
		`{"EVENT_TYPE":"x","Target":"alpha"}`,        // names match without case
		`{"event_type":"caf\xe9","actor":"\ud800"}`,  // invalid UTF-8 and a lone surrogate
		`{"command":null,"approvals":null,"live":1}`, // null pointers, a number for a bool
		`{"approvals":1.5}`,
		`{"safety":{"ttl_seconds":"30"}}`,
		`{"approvers":["a",null]}`,
		`[1]`, `null`, `{"target":"a"} x`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, gotErr := decodeEvent(b)
		var want Event
		wantErr := json.Unmarshal(b, &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("decodeEvent(%q): error %v, encoding/json: %v", b, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(*got, want) {
			t.Fatalf("decodeEvent(%q) = %+v, encoding/json gives %+v", b, *got, want)
		}
	})
}
