package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/botwarden/botwarden/docs/contracts"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
)

// FuzzSubmit feeds arbitrary command documents to a real engine: nothing
// panics, a malformed command records nothing, and every event a
// well-formed one records satisfies the audit event contract.
func FuzzSubmit(f *testing.F) {
	f.Add([]byte(`{"schema_version":"1.0","command_id":"c1","actor":"U0OPERATOR","target":"alpha","op":"start","requested_transition":"IDLE->RUNNING_LIVE","environment":"dev","trace_id":"t","run_id":"r","params":{"mode":"live"}}`))
	f.Add([]byte(`{"schema_version":"1.0","command_id":"c2","actor":"U0ADMIN","target":"global","op":"killswitch_release","requested_transition":"killswitch_release","environment":"dev","trace_id":"t","run_id":"r","params":{"level":"off"}}`))
	h := coretest.NewEngine(f)
	h.Healthy()
	v, err := contracts.NewValidator()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var cmd core.Command
		if json.Unmarshal(doc, &cmd) != nil {
			return
		}
		before := h.Auditor.Len()
		_, err := h.Engine.Submit(context.Background(), cmd)
		raw := h.Auditor.Raw()
		if err != nil {
			if !errors.Is(err, core.ErrInvalidCommand) || len(raw) != before {
				t.Fatalf("malformed command: err %v, %d new events", err, len(raw)-before)
			}
			return
		}
		for _, ev := range raw[before:] {
			if err := v.Validate(contracts.AuditEvent, ev); err != nil {
				t.Fatalf("event invalid: %v\n%s", err, ev)
			}
		}
	})
}
