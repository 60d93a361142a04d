package httpdriver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// independentSign is the scheme as docs/drivers.md states it, written
// without the package's helpers.
func independentSign(secret string, ts int64, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(h, "%d.%s", ts, body)
	return "v1=" + hex.EncodeToString(h.Sum(nil))
}

func TestSign_MatchesDocumentedScheme(t *testing.T) {
	t.Parallel()
	body := []byte(`{"op":"start"}`)
	if got, want := Sign("k", 1700000000, body), independentSign("k", 1700000000, body); got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1700000000, 0)
	body := []byte(`{"op":"stop","command_id":"c1"}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	good := Sign("secret", now.Unix(), body)
	cases := []struct {
		name   string
		secret Secret
		ts     string
		body   []byte
		sig    string
		want   error
	}{
		{"ok", "secret", ts, body, good, nil},
		{"ok at skew edge", "secret", "1699999700", body, Sign("secret", 1699999700, body), nil},
		{"wrong secret", "other", ts, body, good, ErrBadSignature},
		{"tampered body", "secret", ts, []byte(`{"op":"start","command_id":"c1"}`), good, ErrBadSignature},
		{"signature for another ts", "secret", "1700000001", body, good, ErrBadSignature},
		{"stale", "secret", "1699999699", body, Sign("secret", 1699999699, body), ErrStale},
		{"future", "secret", "1700000301", body, Sign("secret", 1700000301, body), ErrStale},
		{"ts with plus", "secret", "+1700000000", body, good, ErrStale},
		{"ts not a number", "secret", "now", body, good, ErrStale},
		{"no prefix", "secret", ts, body, strings.TrimPrefix(good, "v1="), ErrBadSignature},
		{"v0 prefix", "secret", ts, body, "v0=" + strings.TrimPrefix(good, "v1="), ErrBadSignature},
		{"bad hex", "secret", ts, body, "v1=zz", ErrBadSignature},
		{"truncated", "secret", ts, body, good[:len(good)-2], ErrBadSignature},
		{"empty secret", "", ts, body, Sign("", now.Unix(), body), ErrBadSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Verify(tc.secret, tc.ts, tc.body, tc.sig, now, DefaultMaxSkew)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("1700000000", []byte(`{"op":"start"}`), "v1=00")
	f.Add("-1", []byte{}, "")
	now := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, ts string, body []byte, sig string) {
		err := Verify("k", ts, body, sig, now, DefaultMaxSkew)
		if err == nil && sig != Sign("k", now.Unix()+mustInt(ts)-now.Unix(), body) {
			t.Errorf("accepted a signature Sign would not make: ts=%q sig=%q", ts, sig)
		}
	})
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
