package source

import (
	"crypto/sha256"
	"crypto/subtle"
	"github.com/botwarden/botwarden/internal/secret"
	"net/http"
	"strings"
)

// Secret is a credential; it prints, marshals and logs as [REDACTED]
// (see package secret).
type Secret = secret.Secret

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
