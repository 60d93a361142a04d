package main

import (
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/botwarden/botwarden/bundle/redact"
)

// secretRefresh is how often the secret files are read again: a secret
// rotated by file (secret_rotate through an action, a mounted secret
// updated) becomes a known secret within that, without a restart.
const secretRefresh = 5 * time.Second

// secretSet is every secret value the process has loaded: support bundles
// prove none of them is inside, the log ring scrubs them on write, and
// what people type and what drivers answer is redacted by them before the
// ledger records it. Values are only ever added: a rotated-out secret is
// still a secret.
type secretSet struct {
	mu      sync.RWMutex
	vals    []string
	files   []string     // secret files, read again every secretRefresh
	read    time.Time    // when files were last read
	version atomic.Int64 // bumped whenever a value is added
}

func (s *secretSet) add(vals ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(vals...)
}

func (s *secretSet) addLocked(vals ...string) {
	for _, v := range vals {
		if v != "" && !slices.Contains(s.vals, v) {
			s.vals = append(s.vals, v)
			s.version.Add(1)
		}
	}
}

// addRefs loads the values behind secret references (env var names and
// file paths) so they are known secrets too; the files are read again
// every secretRefresh.
func (s *secretSet) addRefs(getenv func(string) string, envs, files map[string]string) {
	for _, name := range envs {
		if name != "" {
			s.add(getenv(name))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, path := range files {
		if path != "" && !slices.Contains(s.files, path) {
			s.files = append(s.files, path)
			s.addLocked(readSecretFile(path))
		}
	}
	s.read = time.Now()
}

func readSecretFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// refresh reads the secret files again if secretRefresh has passed.
func (s *secretSet) refresh() {
	s.mu.RLock()
	due := len(s.files) > 0 && time.Since(s.read) >= secretRefresh
	s.mu.RUnlock()
	if !due {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.read) < secretRefresh {
		return
	}
	for _, path := range s.files {
		s.addLocked(readSecretFile(path))
	}
	s.read = time.Now()
}

func (s *secretSet) values() []string {
	s.refresh()
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]string(nil), s.vals...)
}

func (s *secretSet) scrub(line string) string {
	for _, v := range s.values() {
		line = strings.ReplaceAll(line, v, "[REDACTED]")
	}
	return line
}

// typedText is the engine's Deps.Scrubber: what people type, and what
// drivers and actions answer, goes through the support bundles' rules and
// the known secret values before the ledger records it. Its redactor is
// built again when the set of known values grows (a rotated secret file).
// A known value too short to match reliably is left to the patterns alone
// (bundles refuse to build with it, and say so).
type typedText struct {
	secrets *secretSet
	log     zerolog.Logger
	cur     atomic.Pointer[typedRedactor]
}

type typedRedactor struct {
	version int64
	red     *redact.Redactor
}

func newTypedText(secrets *secretSet, log zerolog.Logger) *typedText {
	t := &typedText{secrets: secrets, log: log}
	t.redactor()
	return t
}

// redactor returns a redactor for the current known values.
func (t *typedText) redactor() *redact.Redactor {
	t.secrets.refresh()
	v := t.secrets.version.Load()
	if c := t.cur.Load(); c != nil && c.version == v {
		return c.red
	}
	red, err := redact.New(t.secrets.values(), nil)
	if err != nil {
		t.log.Warn().Err(err).Msg("typed text is redacted by pattern only")
		if red, err = redact.New(nil, nil); err != nil {
			panic(err) // the built-in rules always compile
		}
	}
	t.cur.Store(&typedRedactor{version: v, red: red})
	return red
}

// Redact replaces every secret in s with its marker.
func (t *typedText) Redact(s string) string {
	if s == "" {
		return s
	}
	return t.redactor().String(s, nil)
}

// IsSecret reports whether a reference is a secret value: a known value or
// a token or key shape. The secret_field rule (text like "token: v") is
// left out: a reference such as vault:bots/alpha/token:v2 has that shape.
func (t *typedText) IsSecret(ref string) bool {
	c := redact.Counts{}
	t.redactor().String(ref, c)
	for rule, n := range c {
		if n > 0 && rule != redact.RuleSecretField {
			return true
		}
	}
	return false
}
