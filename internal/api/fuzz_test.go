package api_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/botwarden/botwarden/internal/api"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// FuzzDecodeCommand: decoding never panics, and what decodes re-encodes
// to a body that decodes to the same request (no field is silently lost).
func FuzzDecodeCommand(f *testing.F) {
	for _, s := range []string{`{"target":"alpha","op":"start","params":{"mode":"live"}}`, `{"target":"x","op":"stop","extra":1}`, `{}`, `[]`, `{"params":{"level":"halt"}}{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req api.CommandRequest
		if api.DecodeStrict(bytes.NewReader(b), &req) != nil {
			return
		}
		out, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		var again api.CommandRequest
		if err := api.DecodeStrict(bytes.NewReader(out), &again); err != nil || again != req {
			t.Fatalf("round trip: %v\n%+v\n%+v", err, req, again)
		}
	})
}

// FuzzDecodeConfirm: the confirm and reject bodies decode strictly
// without panicking and round-trip.
func FuzzDecodeConfirm(f *testing.F) {
	for _, s := range []string{`{"reason":"ok","typed_target":"alpha"}`, `{"reason":"ok","typed_target":"alpha","x":1}`, `{"reason":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c api.ConfirmBody
		if api.DecodeStrict(bytes.NewReader(b), &c) == nil {
			out, _ := json.Marshal(c)
			var again api.ConfirmBody
			if err := api.DecodeStrict(bytes.NewReader(out), &again); err != nil || again != c {
				t.Fatalf("round trip: %v", err)
			}
		}
		var r api.RejectBody
		_ = api.DecodeStrict(bytes.NewReader(b), &r)
	})
}

// FuzzReadEvents: parsing any stream never panics, and the seq it returns
// is at least that of every event it delivered.
func FuzzReadEvents(f *testing.F) {
	f.Add(": botwarden events\nretry: 2000\n\nid: 7\n\nid: 8\nevent: x\ndata: {}\n\n")
	f.Add("id: 3\ndata: {\"a\":1}\ndata: \n\n: ping\n\nid: nope\n\n")
	f.Add("event: y\ndata: {}\n\nid: 18446744073709551615\n\n")
	f.Fuzz(func(t *testing.T, stream string) {
		var most uint64
		last, err := api.ReadEvents(bytes.NewReader([]byte(stream)), func(ev api.Event) error {
			most = max(most, ev.Seq)
			return nil
		})
		if err == nil && last < most {
			t.Fatalf("returned %d after delivering seq %d", last, most)
		}
	})
}
