package chatops

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The verification failures. Each makes the HTTP handler answer 401 and
// do nothing else.
var (
	ErrUnsigned     = errors.New("request is not signed")
	ErrBadSignature = errors.New("request signature does not match")
	ErrStale        = errors.New("request timestamp is outside the replay window")
	ErrReplayed     = errors.New("request was already received")
)

// maxSeen bounds the replay cache; past it, the oldest entries go first
// (they are about to leave the window anyway).
const maxSeen = 100000

// verifier checks Slack's v0 request signatures
// (https://api.slack.com/authentication/verifying-requests-from-slack):
// HMAC-SHA256 of "v0:{timestamp}:{body}" with the signing secret, compared
// in constant time; timestamps further than the window from now are
// refused, and so is a second delivery of the same signed request. It uses
// the injected clock, unlike slack.SecretsVerifier, so tests control time.
type verifier struct {
	secret Secret
	window time.Duration
	clock  Clock

	mu    sync.Mutex
	seen  map[string]time.Time // signature -> request timestamp
	order []string             // insertion order, for pruning
}

func newVerifier(secret Secret, window time.Duration, clock Clock) *verifier {
	return &verifier{secret: secret, window: window, clock: clock, seen: map[string]time.Time{}}
}

// Verify returns nil only for a correctly signed, fresh, first-seen request.
func (v *verifier) Verify(h http.Header, body []byte) error {
	sig, tsText := h.Get("X-Slack-Signature"), h.Get("X-Slack-Request-Timestamp")
	if sig == "" || tsText == "" || v.secret == "" {
		return ErrUnsigned
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q", ErrBadSignature, tsText)
	}
	at := time.Unix(ts, 0)
	now := v.clock.Now()
	if at.Before(now.Add(-v.window)) || at.After(now.Add(v.window)) {
		return ErrStale
	}
	want := Sign(v.secret, tsText, body)
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return ErrBadSignature
	}
	return v.remember(sig, at, now)
}

func (v *verifier) remember(sig string, at, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, dup := v.seen[sig]; dup {
		return ErrReplayed
	}
	for len(v.order) > 0 {
		old := v.order[0]
		if len(v.order) < maxSeen && v.seen[old].After(now.Add(-v.window)) {
			break
		}
		delete(v.seen, old)
		v.order = v.order[1:]
	}
	v.seen[sig] = at
	v.order = append(v.order, sig)
	return nil
}

// Sign returns the v0 signature Slack sends in X-Slack-Signature for a
// body sent at timestamp ts (Unix seconds, as text).
func Sign(secret Secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret.Reveal()))
	mac.Write([]byte("v0:" + ts + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}
