package redact

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
)

const (
	knownSlack   = "xoxb-1111-2222-planted-bot-token"
	knownSigning = "8f14e45fceea167a5a36dedd4bea2543"
	knownDriver  = "drv-pass:w0rd/with+chars&more"
)

func newTestRedactor(t *testing.T, extra ...Rule) *Redactor {
	t.Helper()
	r, err := New([]string{knownSlack, "", knownSigning, knownDriver}, extra)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

func TestRedactor_Bytes(t *testing.T) {
	t.Parallel()
	extra, err := NewRule("order_id", `ORD-[0-9]{6}`)
	if err != nil {
		t.Fatal(err)
	}
	r := newTestRedactor(t, extra)
	tests := []struct {
		name  string
		in    string
		want  string // substring that must be in the output
		gone  string // substring that must not be
		rule  string
		count int
	}{
		{"known raw", "token is " + knownSigning + ".", "token is [REDACTED:known_secret].", knownSigning, RuleKnownSecret, 1},
		{"known base64", "blob " + base64.StdEncoding.EncodeToString([]byte(knownDriver)), "blob [REDACTED:known_secret]", "drv-pass", RuleKnownSecret, 1},
		{"known url escaped", "q=" + url.QueryEscape(knownDriver), "q=[REDACTED:known_secret]", "w0rd", RuleKnownSecret, 1},
		{"known twice", knownSigning + " " + knownSigning, "[REDACTED:known_secret] [REDACTED:known_secret]", knownSigning, RuleKnownSecret, 2},
		{"slack shape", "got xoxp-9999-8888-abcdefgh end", "got [REDACTED:slack_token] end", "xoxp-", RuleSlackToken, 1},
		{"slack app token", "xapp-1-A0B1C2-3456-deadbeef", "[REDACTED:slack_token]", "xapp-1", RuleSlackToken, 1},
		{"aws key id", "id=AKIAIOSFODNN7EXAMPLE,", "[REDACTED:aws_access_key_id]", "AKIAIOSFODNN7EXAMPLE", RuleAWSKeyID, 1},
		{"aws secret", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key = [REDACTED:aws_secret_access_key]", "wJalrXUtnFEMI", RuleAWSSecret, 1},
		{"jwt", "t eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl x", "t [REDACTED:jwt] x", "eyJzdWIi", RuleJWT, 1},
		{"bearer keeps scheme", "Authorization: Bearer abcdefgh12345678", "Bearer [REDACTED:bearer_token]", "abcdefgh12345678", RuleBearer, 1},
		{"api token", "pasted bw_7t0So5nY6yqOnGHeHK1ieinAVhkNhnLXa6BoORAQq9c by mistake", "pasted [REDACTED:botwarden_token] by mistake", "7t0So5nY", RuleAPIToken, 1},
		{"url password", "dsn postgres://app:hunter2hunter2@db:5432/x", "postgres://app:[REDACTED:url_password]@db:5432/x", "hunter2", RuleURLPassword, 1},
		{"private key block", "k: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY----- done", "k: [REDACTED:private_key] done", "MIIEow", RulePrivateKey, 1},
		{"truncated private key", "-----BEGIN PRIVATE KEY-----\nMIIEvQ", "[REDACTED:private_key]", "MIIEvQ", RulePrivateKey, 1},
		{"json secret field", `{"webhook_secret":"s3cr3t-value-1","n":1}`, `{"webhook_secret":"[REDACTED:secret_field]","n":1}`, "s3cr3t", RuleSecretField, 1},
		{"logfmt password", "user=bob password=pa55word1 ok", "password=[REDACTED:secret_field] ok", "pa55word1", RuleSecretField, 1},
		{"reference kept", `{"secret_ref":"slack-bot","push_token_env":"PUSH_TOKEN"}`, `"secret_ref":"slack-bot","push_token_env":"PUSH_TOKEN"`, "REDACTED", "", 0},
		{"json literal kept", `{"token":null,"password_set":true}`, `{"token":null,"password_set":true}`, "REDACTED", "", 0},
		{"extra rule", "order ORD-123456 filled", "order [REDACTED:order_id] filled", "ORD-123456", "order_id", 1},
		{"plain text untouched", "bot alpha moved IDLE->RUNNING_PAPER", "bot alpha moved IDLE->RUNNING_PAPER", "REDACTED", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Counts{}
			got := r.String(tc.in, c)
			if !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want it to contain %q", got, tc.want)
			}
			if strings.Contains(got, tc.gone) {
				t.Errorf("got %q, still contains %q", got, tc.gone)
			}
			if tc.rule != "" && c[tc.rule] != tc.count {
				t.Errorf("counts %v, want %s=%d", c, tc.rule, tc.count)
			}
			if err := r.Scan(strings.NewReader(got)); err != nil {
				t.Errorf("scan of redacted output: %v", err)
			}
			if tc.rule != "" {
				if err := r.Scan(strings.NewReader(tc.in)); !errors.Is(err, ErrLeak) {
					t.Errorf("scan of the input = %v, want a leak", err)
				}
			}
		})
	}
}

func TestNew_Errors(t *testing.T) {
	t.Parallel()
	if _, err := New([]string{"short"}, nil); !errors.Is(err, ErrShortSecret) || strings.Contains(err.Error(), "short\"") {
		t.Errorf("short secret: err = %v, want ErrShortSecret without the value", err)
	}
	dup := Rule{Name: RuleJWT, Pattern: DefaultRules()[0].Pattern}
	if _, err := New(nil, []Rule{dup}); !errors.Is(err, ErrBadRule) {
		t.Errorf("duplicate rule: err = %v, want ErrBadRule", err)
	}
	for _, tc := range []struct{ name, pattern string }{{"Bad Name", "x+"}, {"ok", "("}, {"empty", "x*"}} {
		if _, err := NewRule(tc.name, tc.pattern); !errors.Is(err, ErrBadRule) {
			t.Errorf("NewRule(%q, %q) = %v, want ErrBadRule", tc.name, tc.pattern, err)
		}
	}
}

func TestRedactor_ScanFindsEveryForm(t *testing.T) {
	t.Parallel()
	r := newTestRedactor(t)
	for _, n := range r.needles {
		t.Run(n.variant, func(t *testing.T) {
			err := r.Scan(strings.NewReader("prefix " + n.text + " suffix"))
			var leak *LeakError
			if !errors.As(err, &leak) || leak.Rule != RuleKnownSecret {
				t.Fatalf("scan = %v, want known_secret leak", err)
			}
			if strings.Contains(err.Error(), n.text) {
				t.Fatalf("error %q contains the secret form", err)
			}
		})
	}
}

func TestRedactor_ScanBase64AnyAlignment(t *testing.T) {
	t.Parallel()
	r := newTestRedactor(t)
	for k := 0; k < 3; k++ {
		blob := append(bytes.Repeat([]byte{0xA5}, 7+k), knownSigning+"tail bytes"...)
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			if err := r.Scan(strings.NewReader(enc.EncodeToString(blob))); !errors.Is(err, ErrLeak) {
				t.Errorf("offset %d: scan = %v, want a leak", 7+k, err)
			}
		}
	}
}

func TestRedactor_ScanAcrossChunks(t *testing.T) {
	t.Parallel()
	r := newTestRedactor(t)
	for _, at := range []int{0, scanChunk - 5, scanChunk + scanOverlap - 3, 3*scanChunk + 17} {
		data := bytes.Repeat([]byte("a"), 4*scanChunk)
		copy(data[at:], knownSigning)
		err := r.Scan(bytes.NewReader(data))
		var leak *LeakError
		if !errors.As(err, &leak) {
			t.Fatalf("at %d: scan = %v, want a leak", at, err)
		}
		if leak.Offset != int64(at) {
			t.Errorf("at %d: offset %d", at, leak.Offset)
		}
	}
	if err := r.Scan(bytes.NewReader(bytes.Repeat([]byte("clean text\n"), 50000))); err != nil {
		t.Errorf("clean stream: %v", err)
	}
}

func TestRedactor_JSON(t *testing.T) {
	t.Parallel()
	r := newTestRedactor(t)
	cfg := map[string]any{
		"slack":  map[string]any{"bot_token": knownSlack, "signing_secret": "other-secret-value", "channel": "C0AUDIT"},
		"driver": map[string]any{"credentials": map[string]any{"user": "u", "pass": "x"}, "secret_ref": "vault:bots/alpha", "url": "https://u:pw123456@h/"},
		"safety": map[string]any{"push_token_env": "PUSH_TOKEN", "api_key": 12345},
		"notes":  []any{"contains " + knownSigning},
	}
	c := Counts{}
	out, err := r.JSON(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, gone := range []string{knownSlack, "other-secret-value", `"pass"`, "pw123456", "12345", knownSigning} {
		if strings.Contains(s, gone) {
			t.Errorf("output still contains %q:\n%s", gone, s)
		}
	}
	for _, kept := range []string{`"secret_ref": "vault:bots/alpha"`, `"push_token_env": "PUSH_TOKEN"`, `"channel": "C0AUDIT"`} {
		if !strings.Contains(s, kept) {
			t.Errorf("output lost %q:\n%s", kept, s)
		}
	}
	if c[RuleSecretField] != 4 || c[RuleKnownSecret] != 1 || c[RuleURLPassword] != 1 {
		t.Errorf("counts = %v", c)
	}
	if err := r.Scan(bytes.NewReader(out)); err != nil {
		t.Errorf("scan: %v", err)
	}
}

func TestRedactor_KnownOnly(t *testing.T) {
	t.Parallel()
	r := newTestRedactor(t)
	got := r.KnownOnly(`{"msg":"auth with ` + knownSlack + `"}`)
	if got != `{"msg":"auth with [REDACTED:known_secret]"}` {
		t.Errorf("got %q", got)
	}
}
