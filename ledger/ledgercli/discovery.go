package ledgercli

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// AdminTokenFile is the file in the data folder holding the bearer token
// the running service's admin endpoint requires. Loopback is no boundary
// between users of one host: only who can read the data folder (the
// service's user, root) can use the endpoint.
const AdminTokenFile = "admin.token"

// PublishAdmin makes the running service's admin endpoint at base
// discoverable: it writes a fresh random token to AdminTokenFile and base
// to AdminURLFile, both mode 0600, and returns the token and a cleanup
// that removes both.
func PublishAdmin(dir, base string) (token string, cleanup func(), err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("admin token: %w", err)
	}
	token = hex.EncodeToString(b[:])
	tokFile, urlFile := filepath.Join(dir, AdminTokenFile), filepath.Join(dir, AdminURLFile)
	cleanup = func() { os.Remove(urlFile); os.Remove(tokFile) }
	if err := os.WriteFile(tokFile, []byte(token+"\n"), 0o600); err != nil {
		return "", nil, fmt.Errorf("write %s: %w", tokFile, err)
	}
	if err := os.WriteFile(urlFile, []byte(base+"\n"), 0o600); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("write %s: %w", urlFile, err)
	}
	return token, cleanup, nil
}

// ReadAdmin returns the running service's admin base URL (checked to be
// http on a loopback address) and its token, from the data folder dir.
func ReadAdmin(dir string) (base, token string, err error) {
	b, err := os.ReadFile(filepath.Join(dir, AdminURLFile))
	if err != nil {
		return "", "", fmt.Errorf("no running service found: %w", err)
	}
	base = strings.TrimSpace(string(b))
	if err := checkLoopback(base); err != nil {
		return "", "", err
	}
	t, err := os.ReadFile(filepath.Join(dir, AdminTokenFile))
	if err != nil {
		return "", "", fmt.Errorf("admin token of the running service: %w (run as the service's user)", err)
	}
	return base, strings.TrimSpace(string(t)), nil
}

// RequireToken serves h only to requests carrying "Authorization: Bearer
// token", compared in constant time; others get 401.
func RequireToken(token string, h http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(got))
		if !ok || token == "" || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			http.Error(w, "admin endpoint: missing or wrong admin token (read from the data folder's "+AdminTokenFile+")", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
