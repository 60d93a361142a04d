package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// JSON marshals v, replaces the value of every secret-named key (see
// IsSecretKey; references such as secret_ref stay) with a marker, runs
// every rule over the remaining strings and returns indented JSON with
// sorted keys. Replacements are added to c.
func (r *Redactor) JSON(v any, c Counts) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	tree = r.walk(tree, c)
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(tree); err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	return out.Bytes(), nil
}

// walk redacts one decoded JSON value.
func (r *Redactor) walk(v any, c Counts) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if IsSecretKey(k) && !empty(e) {
				t[k] = Marker(RuleSecretField)
				c.Add(RuleSecretField, 1)
				continue
			}
			t[k] = r.walk(e, c)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = r.walk(e, c)
		}
		return t
	case string:
		return r.String(t, c)
	}
	return v
}

// empty reports whether a secret-named field holds nothing to hide.
func empty(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case string:
		return t == ""
	case bool:
		return true
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return false
}
