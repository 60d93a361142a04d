// Package secret provides the one type every credential in Botwarden is
// held in (Slack tokens, signing secrets, bearer tokens, bot signing
// secrets), so printing, logging or marshalling one by mistake is harmless.
package secret

import "encoding/json"

// Secret is a credential. It prints, marshals and logs as [REDACTED];
// Reveal returns the value for the one place that needs it.
type Secret string

// Redacted is what a non-empty Secret shows instead of its value.
const Redacted = "[REDACTED]"

// String returns [REDACTED] (or "" for an empty secret).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// GoString returns [REDACTED], so %#v does not leak the value either.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON marshals the secret as "[REDACTED]".
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText marshals the secret as [REDACTED] (YAML, text encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }
