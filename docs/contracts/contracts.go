// Package contracts embeds Botwarden's JSON Schemas (draft 2020-12), the
// single source of truth for commands, audit events, safety state and gate
// results, and validates documents against them. Code and tests validate
// through this package so that the schemas, not copies of them, decide.
//
// Typical use: build one Validator at start and reuse it (it is safe for
// concurrent use); Validate is a convenience that compiles every call.
package contracts

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// The schema names accepted by Compile, Validate and Validator.Validate.
const (
	Command     = "command"
	AuditEvent  = "audit_event"
	SafetyState = "safety_state"
	GateResults = "gate_results"
)

// ErrUnknownSchema is returned for a name that is not one of the schemas.
var ErrUnknownSchema = errors.New("unknown contract schema")

// ErrInvalid wraps every validation failure (malformed JSON or a document
// that does not satisfy its schema); check it with errors.Is.
var ErrInvalid = errors.New("document does not satisfy its contract")

//go:embed *.schema.json
var files embed.FS

const baseURL = "https://botwarden.dev/contracts/"

// Names lists the schema names in a stable order.
func Names() []string {
	return []string{AuditEvent, Command, GateResults, SafetyState}
}

// Source returns the raw schema document for name.
func Source(name string) ([]byte, error) {
	if !known(name) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSchema, name)
	}
	return files.ReadFile(name + ".schema.json")
}

func known(name string) bool {
	for _, n := range Names() {
		if n == name {
			return true
		}
	}
	return false
}

// Compile compiles the named schema (with the schemas it references) and
// asserts formats such as date-time.
func Compile(name string) (*jsonschema.Schema, error) {
	if !known(name) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSchema, name)
	}
	c, err := compiler()
	if err != nil {
		return nil, err
	}
	return compile(c, name)
}

// compiler returns a compiler holding every schema as a resource.
func compiler() (*jsonschema.Compiler, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, n := range Names() {
		raw, err := files.ReadFile(n + ".schema.json")
		if err != nil {
			return nil, fmt.Errorf("read schema %s: %w", n, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("parse schema %s: %w", n, err)
		}
		if err := c.AddResource(baseURL+n+".schema.json", doc); err != nil {
			return nil, fmt.Errorf("add schema %s: %w", n, err)
		}
	}
	return c, nil
}

func compile(c *jsonschema.Compiler, name string) (*jsonschema.Schema, error) {
	s, err := c.Compile(baseURL + name + ".schema.json")
	if err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", name, err)
	}
	return s, nil
}

// Validator holds every compiled schema. It is safe for concurrent use.
type Validator struct {
	schemas map[string]*jsonschema.Schema
}

// NewValidator compiles every schema once.
func NewValidator() (*Validator, error) {
	c, err := compiler()
	if err != nil {
		return nil, err
	}
	v := &Validator{schemas: make(map[string]*jsonschema.Schema)}
	for _, n := range Names() {
		s, err := compile(c, n)
		if err != nil {
			return nil, err
		}
		v.schemas[n] = s
	}
	return v, nil
}

// Validate checks that doc is one JSON value satisfying the named schema.
// Failures wrap ErrInvalid and name every violated location.
func (v *Validator) Validate(name string, doc []byte) error {
	s, ok := v.schemas[name]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownSchema, name)
	}
	return validate(s, name, doc)
}

// Validate compiles the named schema and validates doc against it. Prefer
// a Validator where documents are checked repeatedly.
func Validate(name string, doc []byte) error {
	s, err := Compile(name)
	if err != nil {
		return err
	}
	return validate(s, name, doc)
}

func validate(s *jsonschema.Schema, name string, doc []byte) error {
	val, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("%w: %s: not one JSON value: %v", ErrInvalid, name, err)
	}
	if err := s.Validate(val); err != nil {
		return fmt.Errorf("%w: %s: %s", ErrInvalid, name, describe(err))
	}
	return nil
}

// describe flattens a validation error into "at /path: message" parts.
func describe(err error) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var parts []string
	collect(ve, message.NewPrinter(language.English), &parts)
	sort.Strings(parts)
	if len(parts) == 0 {
		return ve.Error()
	}
	return strings.Join(parts, "; ")
}

func collect(ve *jsonschema.ValidationError, p *message.Printer, parts *[]string) {
	if len(ve.Causes) == 0 {
		loc := "/" + strings.Join(ve.InstanceLocation, "/")
		*parts = append(*parts, fmt.Sprintf("at %s: %s", loc, ve.ErrorKind.LocalizedString(p)))
		return
	}
	for _, c := range ve.Causes {
		collect(c, p, parts)
	}
}
