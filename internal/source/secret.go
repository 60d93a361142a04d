package source

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
)

// Secret is a credential (a bearer token). It prints, marshals and logs as
// [REDACTED]; Reveal returns the value for the one comparison that needs it.
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

// bearerOK reports whether r carries "Authorization: Bearer <want>". The
// comparison is over SHA-256 digests in constant time, so neither the
// token's bytes nor its length leak through timing. An empty want never
// matches.
func bearerOK(r *http.Request, want Secret) bool {
	if want == "" {
		return false
	}
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	exp := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(got[:], exp[:]) == 1
}
