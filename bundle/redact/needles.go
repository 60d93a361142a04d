package redact

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// MinSecretLen is the shortest secret value a Redactor accepts. A shorter
// value cannot be searched for without hitting ordinary text, so the proof
// would be meaningless.
const MinSecretLen = 8

// ErrShortSecret is returned (wrapped) by New for a known secret value
// shorter than MinSecretLen. The error never contains the value.
var ErrShortSecret = errors.New("secret value too short to redact reliably")

// needle is one form of one known secret value.
type needle struct {
	text    string
	secret  int    // index of the value in the list given to New
	variant string // "raw", "base64", "url_query", …
}

// needlesFor returns every searchable form of a secret value, longest
// first so redaction replaces the widest form.
func needlesFor(i int, value string) []needle {
	forms := map[string]string{"raw": value}
	add := func(variant, s string) {
		if len(s) >= MinSecretLen && s != value {
			if _, dup := forms[variant]; !dup {
				forms[variant] = s
			}
		}
	}
	add("json", jsonEscape(value, false))
	add("json_html", jsonEscape(value, true))
	add("url_query", url.QueryEscape(value))
	add("url_path", url.PathEscape(value))
	add("hex", hex.EncodeToString([]byte(value)))
	add("base64", base64.StdEncoding.EncodeToString([]byte(value)))
	add("base64url", base64.URLEncoding.EncodeToString([]byte(value)))
	for k := 0; k < 3; k++ {
		add(fmt.Sprintf("base64_inner%d", k), base64Inner(base64.RawStdEncoding, value, k))
		add(fmt.Sprintf("base64url_inner%d", k), base64Inner(base64.RawURLEncoding, value, k))
	}
	seen := map[string]bool{}
	var out []needle
	for v, s := range forms {
		if !seen[s] {
			seen[s] = true
			out = append(out, needle{text: s, secret: i, variant: v})
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if len(out[a].text) != len(out[b].text) {
			return len(out[a].text) > len(out[b].text)
		}
		return out[a].text < out[b].text
	})
	return out
}

// base64Inner returns the characters of value's base64 encoding that do
// not depend on its neighbours when value starts k bytes into a longer
// encoded stream: the form a secret takes inside a base64 blob.
func base64Inner(enc *base64.Encoding, value string, k int) string {
	s := enc.EncodeToString(append(make([]byte, k), value...))
	skip := (8*k + 5) / 6              // characters touched by the k prefix bytes
	full := (8 * (k + len(value))) / 6 // characters fully determined so far
	if full <= skip {
		return ""
	}
	return s[skip:full]
}

// jsonEscape returns value as it appears inside a JSON string.
func jsonEscape(value string, html bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(value); err != nil {
		return value // a string always encodes; keep the raw form
	}
	s := strings.TrimSuffix(b.String(), "\n")
	return s[1 : len(s)-1]
}
