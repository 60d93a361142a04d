package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// FileName is the store's file in the data folder.
const FileName = "api_tokens.json"

// Prefix starts every token, so that secret scanners recognise it.
const Prefix = "bw_"

// The reasons a token is refused; check them with errors.Is.
var (
	ErrUnknown = errors.New("unknown token")
	ErrRevoked = errors.New("token revoked")
	ErrExpired = errors.New("token expired")
	ErrActor   = errors.New("invalid actor name")
	ErrNoToken = errors.New("no such token id")
	ErrTTL     = errors.New("invalid token lifetime")
)

// actorPattern is the contracts' actor pattern (command.schema.json).
var actorPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`)

// Record is what the store keeps of one token: never the token itself.
type Record struct {
	ID      string    `json:"id"`     // public handle for list and revoke
	Actor   string    `json:"actor"`  // every request with it acts as this actor
	Hash    string    `json:"sha256"` // hex SHA-256 of the token string
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires,omitzero"` // zero: never
	Revoked time.Time `json:"revoked,omitzero"` // zero: not revoked
}

// Active reports whether the record would authenticate at now.
func (r Record) Active(now time.Time) bool {
	return r.Revoked.IsZero() && (r.Expires.IsZero() || now.Before(r.Expires))
}

// Store is the token file. Safe for concurrent use; every change is
// written to disk before it is visible.
type Store struct {
	path string
	now  func() time.Time
	mu   sync.RWMutex
	recs []Record
}

// Open loads the store in dir (an absent file is an empty store). now is
// the clock (nil: time.Now).
func Open(dir string, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	s := &Store{path: filepath.Join(dir, FileName), now: now}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	if err := json.Unmarshal(b, &s.recs); err != nil {
		return nil, fmt.Errorf("decode %s: %w", s.path, err)
	}
	return s, nil
}

// Ensure writes the store's file, empty, if there is none yet, so that a
// data folder always holds it (a backup copies it like any other file).
func (s *Store) Ensure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(s.path); !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return s.write(append([]Record{}, s.recs...))
}

// Create makes a token for actor valid for ttl (0: no expiry), stores its
// hash and returns the token, which is never shown again.
func (s *Store) Create(actor string, ttl time.Duration) (string, Record, error) {
	secret, rec, err := s.New(actor, ttl)
	if err != nil {
		return "", Record{}, err
	}
	return secret, rec, s.Add(rec)
}

// New makes a token and its record without storing it, so that the caller
// can record the creation in the audit ledger first and then Add it.
func (s *Store) New(actor string, ttl time.Duration) (string, Record, error) {
	if !actorPattern.MatchString(actor) {
		return "", Record{}, fmt.Errorf("%w: %q", ErrActor, actor)
	}
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails (Go 1.24+)
	secret := Prefix + base64.RawURLEncoding.EncodeToString(raw[:])
	var idb [6]byte
	_, _ = rand.Read(idb[:])
	now := s.now().UTC()
	rec := Record{ID: "tok_" + hex.EncodeToString(idb[:]), Actor: actor, Hash: hashOf(secret), Created: now}
	if ttl > 0 {
		rec.Expires = now.Add(ttl)
	}
	return secret, rec, nil
}

// Add stores a record made by New; it is durable when Add returns.
func (s *Store) Add(rec Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := append(append([]Record(nil), s.recs...), rec)
	if err := s.write(next); err != nil {
		return err
	}
	s.recs = next
	return nil
}

// Get returns the record with id.
func (s *Store) Get(id string) (Record, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.recs {
		if r.ID == id {
			return r, nil
		}
	}
	return Record{}, fmt.Errorf("%w: %q", ErrNoToken, id)
}

// Revoke marks a token revoked (idempotent) and returns its record.
func (s *Store) Revoke(id string) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := append([]Record(nil), s.recs...)
	for i := range next {
		if next[i].ID != id {
			continue
		}
		if next[i].Revoked.IsZero() {
			next[i].Revoked = s.now().UTC()
			if err := s.write(next); err != nil {
				return Record{}, err
			}
			s.recs = next
		}
		return next[i], nil
	}
	return Record{}, fmt.Errorf("%w: %q", ErrNoToken, id)
}

// List returns every record, oldest first.
func (s *Store) List() []Record {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := append([]Record(nil), s.recs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// Authenticate returns the record of an active token. A refused token
// returns ErrUnknown, or ErrRevoked / ErrExpired with its record (so the
// refusal can name the actor).
func (s *Store) Authenticate(secret string) (Record, error) {
	if !strings.HasPrefix(secret, Prefix) {
		return Record{}, ErrUnknown
	}
	h := hashOf(secret)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.recs {
		if subtle.ConstantTimeCompare([]byte(r.Hash), []byte(h)) != 1 {
			continue
		}
		now := s.now()
		switch {
		case !r.Revoked.IsZero():
			return r, ErrRevoked
		case !r.Expires.IsZero() && !now.Before(r.Expires):
			return r, ErrExpired
		}
		return r, nil
	}
	return Record{}, ErrUnknown
}

func hashOf(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// write replaces the file atomically: temp file (0600), fsync, rename.
func (s *Store) write(recs []Record) error {
	b, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return fmt.Errorf("encode tokens: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), FileName+".tmp-*")
	if err != nil {
		return fmt.Errorf("write tokens: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write tokens: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write tokens: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync tokens: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write tokens: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("replace tokens: %w", err)
	}
	return nil
}

// maxTTLDays bounds a token's lifetime (ten years): longer would overflow
// time.Duration soon after, and no token should outlive its purpose.
const maxTTLDays = 3650

// ParseTTL reads a lifetime like "30d", "12h" or "90m"; "" and "0" mean no
// expiry. Anything else, or more than maxTTLDays, wraps ErrTTL.
func ParseTTL(s string) (time.Duration, error) {
	if s == "" || s == "0" {
		return 0, nil
	}
	bad := fmt.Errorf("%w: expiry %q: want a number of days like 30d, or a duration like 12h, at most %dd", ErrTTL, s, maxTTLDays)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err != nil || days <= 0 || days > maxTTLDays || fmt.Sprint(days) != n {
			return 0, bad
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > maxTTLDays*24*time.Hour {
		return 0, bad
	}
	return d, nil
}
