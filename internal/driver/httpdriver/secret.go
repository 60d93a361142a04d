package httpdriver

import "github.com/botwarden/botwarden/internal/secret"

// Secret is a credential; it prints, marshals and logs as [REDACTED]
// (see package secret).
type Secret = secret.Secret
