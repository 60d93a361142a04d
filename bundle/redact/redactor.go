package redact

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// Counts is the number of replacements made per rule name.
type Counts map[string]int

// Add adds n replacements for rule. A nil Counts ignores it.
func (c Counts) Add(rule string, n int) {
	if c != nil && n > 0 {
		c[rule] += n
	}
}

// Redactor replaces known secret values and pattern matches with markers.
// It is immutable after New and safe for concurrent use.
type Redactor struct {
	needles []needle // all forms of all known values, longest first
	raw     *strings.Replacer
	rules   []Rule
}

// New returns a Redactor for the given known secret values (empty ones are
// ignored; values shorter than MinSecretLen are refused with
// ErrShortSecret), the built-in rules and the extra rules.
func New(secrets []string, extra []Rule) (*Redactor, error) {
	r := &Redactor{rules: append(DefaultRules(), extra...)}
	var pairs []string
	for i, s := range secrets {
		if s == "" {
			continue
		}
		if len(s) < MinSecretLen {
			return nil, fmt.Errorf("%w: known secret #%d has %d bytes, want at least %d", ErrShortSecret, i, len(s), MinSecretLen)
		}
		r.needles = append(r.needles, needlesFor(i, s)...)
		pairs = append(pairs, s, Marker(RuleKnownSecret))
	}
	sort.SliceStable(r.needles, func(a, b int) bool { return len(r.needles[a].text) > len(r.needles[b].text) })
	seen := map[string]bool{}
	for _, rule := range r.rules {
		if rule.Name == "" || rule.Pattern == nil || seen[rule.Name] || rule.Name == RuleKnownSecret {
			return nil, fmt.Errorf("%w: %q is empty or duplicated", ErrBadRule, rule.Name)
		}
		seen[rule.Name] = true
	}
	r.raw = strings.NewReplacer(pairs...)
	return r, nil
}

// RuleNames lists every rule this Redactor runs, known_secret first.
func (r *Redactor) RuleNames() []string {
	names := []string{RuleKnownSecret}
	for _, rule := range r.rules {
		names = append(names, rule.Name)
	}
	return names
}

// KnownOnly replaces the raw known secret values in s and nothing else. It
// is cheap enough for every log line.
func (r *Redactor) KnownOnly(s string) string { return r.raw.Replace(s) }

// Bytes returns b with every known secret form and every rule match
// replaced by its marker, adding the replacements to c.
func (r *Redactor) Bytes(b []byte, c Counts) []byte {
	for _, n := range r.needles {
		if k := bytes.Count(b, []byte(n.text)); k > 0 {
			b = bytes.ReplaceAll(b, []byte(n.text), []byte(Marker(RuleKnownSecret)))
			c.Add(RuleKnownSecret, k)
		}
	}
	for _, rule := range r.rules {
		b = rule.replace(b, c)
	}
	return b
}

// String is Bytes for a string.
func (r *Redactor) String(s string, c Counts) string { return string(r.Bytes([]byte(s), c)) }

// replace applies one rule to b.
func (rule Rule) replace(b []byte, c Counts) []byte {
	matches := rule.matches(b, lowerASCII(b))
	if matches == nil {
		return b
	}
	marker := []byte(Marker(rule.Name))
	var out []byte
	last, n := 0, 0
	for _, idx := range matches {
		start, end := rule.span(idx)
		if start < 0 || start < last || rule.skip(b, idx, start) {
			continue
		}
		out = append(out, b[last:start]...)
		out = append(out, marker...)
		last = end
		n++
	}
	if n == 0 {
		return b
	}
	c.Add(rule.Name, n)
	return append(out, b[last:]...)
}

// span is the part of a match to replace: the secret subgroup if the rule
// has one, else the whole match.
func (rule Rule) span(idx []int) (int, int) {
	if g := rule.Pattern.SubexpIndex(secretGroup); g > 0 {
		return idx[2*g], idx[2*g+1]
	}
	return idx[0], idx[1]
}

// skip reports whether a match is already a marker or is kept by the rule.
func (rule Rule) skip(b []byte, idx []int, start int) bool {
	if bytes.HasPrefix(b[start:], []byte(markerPrefix)) {
		return true
	}
	return rule.keep != nil && rule.keep(b, idx)
}
