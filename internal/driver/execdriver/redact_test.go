package execdriver

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in string
		secrets  []string
		want     string
	}{
		{"known secret", "key is s3cr3t-value!", []string{"s3cr3t-value"}, "key is [REDACTED]!"},
		{"password pair", "login password=hunter2 ok", nil, "login password=[REDACTED] ok"},
		{"api key colon", `API_KEY: "abc def"`, nil, `API_KEY: [REDACTED]`},
		{"token suffix", "token_value=xyz", nil, "token_value=[REDACTED]"},
		{"bearer", "Authorization: Bearer abcdefghijkl", nil, "Authorization: Bearer [REDACTED]"},
		{"control chars", "a\x1b[31mred\x00", nil, "a[31mred"},
		{"plain", "order filled", nil, "order filled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := redact([]byte(tc.in), tc.secrets); got != tc.want {
				t.Errorf("redact(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestTail_Bounded(t *testing.T) {
	t.Parallel()
	var tl tail
	for i := range 10000 {
		tl.Write([]byte(strings.Repeat("x", i%7) + "é\n"))
	}
	tl.Write([]byte("THE END"))
	out := redact(tl.bytes(), nil)
	if len(out) > TailBytes+len("…") || !strings.HasSuffix(out, "THE END") || !utf8.ValidString(out) {
		t.Errorf("tail len %d, suffix %q: want <= %d bytes of valid UTF-8 ending in THE END", len(out), out[len(out)-10:], TailBytes)
	}
}

func FuzzRedact(f *testing.F) {
	f.Add([]byte("password=hunter2 key=abc"), "abc")
	f.Add([]byte("Bearer abcdefghijkl\x00"), "")
	f.Fuzz(func(t *testing.T, raw []byte, secret string) {
		out := redact(raw, []string{secret})
		if len(out) > TailBytes+len("…") || !utf8.ValidString(out) {
			t.Fatalf("output %d bytes or invalid UTF-8", len(out))
		}
		if len(secret) >= 4 && !strings.Contains(redacted, secret) && strings.Contains(out, secret) && !strings.Contains(string(raw), redacted) {
			t.Fatalf("secret %q survives in %q", secret, out)
		}
	})
}
