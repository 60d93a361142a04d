package httpdriver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The headers of a signed request.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderTimestamp      = "X-Botwarden-Timestamp"
	HeaderSignature      = "X-Botwarden-Signature"
)

// DefaultMaxSkew is how far a request's timestamp may be from the
// receiver's clock before Verify calls it stale.
const DefaultMaxSkew = 5 * time.Minute

// Errors Verify returns; check with errors.Is.
var (
	ErrBadSignature = errors.New("bad signature")
	ErrStale        = errors.New("timestamp outside the allowed window")
)

// signaturePrefix names the scheme version in the signature header.
const signaturePrefix = "v1="

// Sign returns the signature header value for a request with timestamp ts
// (unix seconds) and body: "v1=" + hex(HMAC-SHA256(secret, ts + "." + body)).
func Sign(secret Secret, ts int64, body []byte) string {
	return signaturePrefix + hex.EncodeToString(mac(secret, strconv.FormatInt(ts, 10), body))
}

// Verify checks a request's timestamp header ts and signature header sig
// against body and secret: the timestamp must be within maxSkew of now and
// the signature must be a v1 HMAC made with secret. The comparison is in
// constant time. An empty secret never verifies.
func Verify(secret Secret, ts string, body []byte, sig string, now time.Time, maxSkew time.Duration) error {
	if secret == "" {
		return fmt.Errorf("%w: no secret configured", ErrBadSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || strconv.FormatInt(sec, 10) != ts {
		return fmt.Errorf("%w: timestamp %q is not unix seconds", ErrStale, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxSkew || d < -maxSkew {
		return fmt.Errorf("%w: timestamp is %s from now (max %s)", ErrStale, d.Round(time.Second), maxSkew)
	}
	hexSig, ok := strings.CutPrefix(sig, signaturePrefix)
	if !ok {
		return fmt.Errorf("%w: want a %q signature", ErrBadSignature, signaturePrefix)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || !hmac.Equal(got, mac(secret, ts, body)) {
		return ErrBadSignature
	}
	return nil
}

func mac(secret Secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret.Reveal()))
	h.Write([]byte(ts))
	h.Write([]byte("."))
	h.Write(body)
	return h.Sum(nil)
}
