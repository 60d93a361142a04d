package source

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/botwarden/botwarden/docs/contracts"
	"github.com/botwarden/botwarden/internal/core"
)

// MaxDocBytes bounds a pushed body or a watched file.
const MaxDocBytes = 1 << 20

// ErrInvalid wraps every rejection of a document (not JSON, contract
// violated, unknown field, too large); check it with errors.Is.
var ErrInvalid = errors.New("invalid document")

// Validator checks a document against a named contract;
// *contracts.Validator fits.
type Validator interface {
	Validate(name string, doc []byte) error
}

// Kind names what a document is.
type Kind string

// The document kinds the sources accept.
const (
	KindSafety Kind = "safety"
	KindGates  Kind = "gates"
)

// decoder validates and decodes documents.
type decoder struct {
	v Validator
}

// safety validates raw against the safety_state contract and decodes it.
func (d decoder) safety(raw []byte) (core.SafetyDoc, error) {
	var doc core.SafetyDoc
	err := d.decode(contracts.SafetyState, raw, &doc)
	return doc, err
}

// gates validates raw against the gate_results contract and decodes it.
func (d decoder) gates(raw []byte) (core.GatesDoc, error) {
	var doc core.GatesDoc
	err := d.decode(contracts.GateResults, raw, &doc)
	return doc, err
}

// decode runs the contract first (it names every violation), then a strict
// decode as a second line: unknown fields, trailing data, repeated member
// names and invalid UTF-8 are refused even if a schema were ever loosened.
func (d decoder) decode(schema string, raw []byte, out any) error {
	if len(raw) > MaxDocBytes {
		return fmt.Errorf("%w: %d bytes exceeds the %d byte limit", ErrInvalid, len(raw), MaxDocBytes)
	}
	if err := d.v.Validate(schema, raw); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%w: decode %s: %w", ErrInvalid, schema, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data after the %s document", ErrInvalid, schema)
	}
	// {"safety_mode":"EMERGENCY_STOP","safety_mode":"NORMAL"} reads
	// differently to different parsers: none of its readings is taken.
	if !jsontext.Value(bytes.TrimSpace(raw)).IsValid() {
		return fmt.Errorf("%w: %s document repeats a member name or is not valid UTF-8", ErrInvalid, schema)
	}
	return nil
}

// apply decodes raw as kind and hands it to sink.
func (d decoder) apply(ctx context.Context, sink Sink, kind Kind, raw []byte) (string, error) {
	switch kind {
	case KindSafety:
		doc, err := d.safety(raw)
		if err != nil {
			return "", err
		}
		return doc.Source, wrapSink(kind, sink.SetSafety(ctx, doc))
	case KindGates:
		doc, err := d.gates(raw)
		if err != nil {
			return "", err
		}
		return doc.Source, wrapSink(kind, sink.SetGates(ctx, doc))
	}
	return "", fmt.Errorf("unknown document kind %q", kind)
}
