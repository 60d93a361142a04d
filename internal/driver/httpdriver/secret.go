package httpdriver

import "encoding/json"

// Secret is a bot's signing secret. It prints, marshals and logs as
// [REDACTED]; Reveal returns the value for signing.
type Secret string

const redacted = "[REDACTED]"

// String returns [REDACTED] (or "" for an empty secret).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString returns [REDACTED], so %#v does not leak the value either.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON marshals the secret as "[REDACTED]".
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText marshals the secret as [REDACTED] (YAML, text encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }
