package redact

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// The built-in rule names. They appear in markers, manifests and scan
// findings.
const (
	RuleKnownSecret = "known_secret" // a value the process knows, in any encoding
	RuleSecretField = "secret_field" // the value of a secret-named field
	RulePrivateKey  = "private_key"
	RuleSlackToken  = "slack_token"
	RuleAWSKeyID    = "aws_access_key_id"
	RuleAWSSecret   = "aws_secret_access_key"
	RuleJWT         = "jwt"
	RuleBearer      = "bearer_token"
	RuleURLPassword = "url_password"
	RuleAPIToken    = "botwarden_token" // an operator API token: bw_ and 43 base64url characters
)

// ErrBadRule is returned (wrapped) for an extra rule that cannot be used.
var ErrBadRule = errors.New("bad redaction rule")

// secretGroup is the name of the optional regexp subgroup that narrows a
// replacement to the secret part of a match ("Bearer [REDACTED:…]").
const secretGroup = "secret"

// Rule is one pattern rule. Pattern is what redaction replaces; when it has
// a subgroup named "secret", only that subgroup is replaced. Detect, when
// set, is what the proof scan looks for instead of Pattern (a bounded
// prefix of a long match, such as a private-key header).
type Rule struct {
	Name    string
	Pattern *regexp.Regexp
	Detect  *regexp.Regexp
	// hints, when set, are lower-case literals one of which every match
	// contains, all within one line: the pattern then runs only on the
	// lines that hold a hint (Go's regexp is slow on long text).
	hints []string
	// find, when set, replaces the pattern search (same result layout).
	find func(b, lower []byte) [][]int
	// keep reports whether a match must be left alone (a secret-named
	// field that is only a reference, like secret_ref).
	keep func(m []byte, idx []int) bool
}

// Marker returns the text that replaces a secret found by rule.
func Marker(rule string) string { return "[REDACTED:" + rule + "]" }

// markerPrefix starts every marker; a pattern match whose secret part is a
// marker is already redacted.
const markerPrefix = "[REDACTED:"

// NewRule compiles an extra rule from configuration. The name must be a
// short identifier (it ends up in markers and manifests) and the pattern a
// valid RE2 expression that cannot match the empty string.
func NewRule(name, pattern string) (Rule, error) {
	if !ruleName.MatchString(name) {
		return Rule{}, fmt.Errorf("%w: name %q: want [a-z0-9_]{1,40}", ErrBadRule, name)
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return Rule{}, fmt.Errorf("%w: %s: %v", ErrBadRule, name, err)
	}
	if re.MatchString("") {
		return Rule{}, fmt.Errorf("%w: %s: pattern matches the empty string", ErrBadRule, name)
	}
	return Rule{Name: name, Pattern: re}, nil
}

var ruleName = regexp.MustCompile(`^[a-z0-9_]{1,40}$`)

// DefaultRules returns the built-in pattern rules, in the order they run.
func DefaultRules() []Rule {
	return []Rule{
		{
			Name: RulePrivateKey,
			// A block without its END line is redacted to the end: a
			// truncated key is still a key.
			Pattern: regexp.MustCompile(`-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?:[\s\S]*?-----END[A-Z0-9 ]*PRIVATE KEY-----|[\s\S]*)`),
			Detect:  regexp.MustCompile(`-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----`),
		},
		{Name: RuleSlackToken, hints: []string{"xox", "xapp-"}, Pattern: regexp.MustCompile(`\b(?:xox[a-z]|xapp)-[A-Za-z0-9-]{8,}`)},
		{Name: RuleAWSKeyID, hints: []string{"akia", "asia", "abia", "acca"}, Pattern: regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b`)},
		{Name: RuleAWSSecret, hints: []string{"access"}, Pattern: regexp.MustCompile(`(?i)aws_?secret_?access_?key["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9/+=]{40})`)},
		{Name: RuleJWT, hints: []string{"eyj"}, Pattern: regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)},
		{Name: RuleBearer, hints: []string{"bearer"}, Pattern: regexp.MustCompile(`(?i)\bbearer[ \t]+(?P<secret>[A-Za-z0-9\-._~+/]{8,}=*)`)},
		{Name: RuleAPIToken, hints: []string{"bw_"}, Pattern: regexp.MustCompile(`\bbw_[A-Za-z0-9_-]{43}`)},
		{Name: RuleURLPassword, hints: []string{"://"}, Pattern: regexp.MustCompile(`\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s/:@"'<>]+:(?P<secret>[^\s/@"'<>]+)@`)},
		{
			Name: RuleSecretField,
			// "token": "v", token=v, password: v — JSON, logfmt and YAML-ish
			// text. Keys that only name a secret (*_ref, *_env, *_file) stay.
			Pattern: regexp.MustCompile(`(?i)"?(?P<key>[A-Za-z0-9_.-]*(?:secret|token|passw(?:or)?d|passphrase|credential|api_?key|private_?key|access_?key)[A-Za-z0-9_.-]*)"?[ \t]*[=:][ \t]*"?(?P<secret>[^\s"'\\,;&{}\[\]]+)`),
			find: func(b, lower []byte) [][]int {
				return findSecretFields(b, lower, []string{"secret", "token", "passwd", "password", "passphrase", "credential", "apikey", "api_key", "privatekey", "private_key", "accesskey", "access_key"})
			},
			keep: keepReferenceField,
		},
	}
}

// keepReferenceField leaves fields that name a secret rather than hold it,
// and JSON literals that cannot be secrets.
func keepReferenceField(m []byte, idx []int) bool {
	key := strings.ToLower(string(m[idx[2]:idx[3]]))
	if IsReferenceKey(key) {
		return true
	}
	switch strings.ToLower(string(m[idx[4]:idx[5]])) {
	case "null", "true", "false", "0":
		return true
	}
	return false
}

// IsReferenceKey reports whether a field name names a secret (by
// reference: *_ref, *_env, *_file, *_id, *_name) rather than holding one.
func IsReferenceKey(key string) bool {
	key = strings.ToLower(key)
	for _, s := range []string{"_ref", "_env", "_file", "_id", "_name", "_refs", "_count", "_total"} {
		if strings.HasSuffix(key, s) {
			return true
		}
	}
	return false
}

// IsSecretKey reports whether a JSON object key holds a secret value:
// named like secret, token, password, key or credential and not a
// reference.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	if IsReferenceKey(k) {
		return false
	}
	for _, w := range []string{"secret", "token", "password", "passwd", "passphrase", "credential", "private_key", "privatekey", "apikey", "api_key", "access_key", "signing", "authorization", "cookie"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return k == "key" || strings.HasSuffix(k, "_key") || strings.HasSuffix(k, "-key")
}
