package token

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newStore(t *testing.T) (*Store, *clock, string) {
	t.Helper()
	dir := t.TempDir()
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s, err := Open(dir, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return s, c, dir
}

func TestStore_CreateAuthenticateRevokeExpire(t *testing.T) {
	t.Parallel()
	s, c, dir := newStore(t)
	secret, rec, err := s.Create("ci-bot", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, Prefix) || len(secret) != len(Prefix)+43 {
		t.Fatalf("token %q: want bw_ + 43 base64url chars (256 bits)", secret)
	}
	got, err := s.Authenticate(secret)
	if err != nil || got.Actor != "ci-bot" || got.ID != rec.ID {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) || strings.Contains(string(b), secret[len(Prefix):]) {
		t.Fatal("the token itself is in the store file")
	}
	if fi, _ := os.Stat(filepath.Join(dir, FileName)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := s.Authenticate(secret + "x"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("altered token: %v, want ErrUnknown", err)
	}
	if _, err := s.Authenticate("Bearer"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("garbage: %v, want ErrUnknown", err)
	}
	c.add(time.Hour)
	if r, err := s.Authenticate(secret); !errors.Is(err, ErrExpired) || r.Actor != "ci-bot" {
		t.Fatalf("expired: %+v %v", r, err)
	}

	secret2, rec2, err := s.Create("ops", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Revoke(rec2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Revoke(rec2.ID); err != nil {
		t.Fatalf("second revoke: %v (want idempotent)", err)
	}
	if _, err := s.Authenticate(secret2); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := s.Revoke("tok_nope"); !errors.Is(err, ErrNoToken) {
		t.Fatalf("unknown id: %v", err)
	}

	// A fresh Open sees the same records (the file is the truth).
	s2, err := Open(dir, c.now)
	if err != nil {
		t.Fatal(err)
	}
	if l := s2.List(); len(l) != 2 || l[0].ID != rec.ID || l[1].Revoked.IsZero() {
		t.Fatalf("reloaded list = %+v", l)
	}
	if _, err := s2.Authenticate(secret2); !errors.Is(err, ErrRevoked) {
		t.Fatalf("reloaded revoked: %v", err)
	}
}

func TestStore_CreateRejectsBadActor(t *testing.T) {
	t.Parallel()
	s, _, _ := newStore(t)
	for _, a := range []string{"", " x", "a b", "-lead", strings.Repeat("a", 129)} {
		if _, _, err := s.Create(a, 0); !errors.Is(err, ErrActor) {
			t.Errorf("Create(%q) = %v, want ErrActor", a, err)
		}
	}
	if len(s.List()) != 0 {
		t.Fatal("a refused create was stored")
	}
}

func TestStore_ConcurrentCreates(t *testing.T) {
	t.Parallel()
	s, _, dir := newStore(t)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() { defer wg.Done(); _, _, _ = s.Create("a", 0) }()
	}
	wg.Wait()
	s2, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s2.List()); n != 16 {
		t.Fatalf("%d records on disk, want 16", n)
	}
}

func TestParseTTL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"", 0, false}, {"0", 0, false}, {"30d", 30 * 24 * time.Hour, false}, {"12h", 12 * time.Hour, false},
		{"-1h", 0, true}, {"d", 0, true}, {"0d", 0, true}, {"1.5d", 0, true}, {"x", 0, true}, {"+3d", 0, true},
		{"3650d", 3650 * 24 * time.Hour, false}, {"3651d", 0, true}, {"200000d", 0, true}, // would overflow into the past
		{"87600h", 87600 * time.Hour, false}, {"87601h", 0, true},
	} {
		got, err := ParseTTL(tc.in)
		if (err != nil) != tc.err || got != tc.want || (err != nil && !errors.Is(err, ErrTTL)) {
			t.Errorf("ParseTTL(%q) = %v, %v; want %v, err %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// Ensure writes an empty store where there is none (0600), and leaves an
// existing file alone.
func TestStore_Ensure(t *testing.T) {
	s, _, dir := newStore(t)
	path := filepath.Join(dir, FileName)
	if err := s.Ensure(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("after Ensure: %v, %v", fi, err)
	}
	if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("empty store written as %q", b)
	}
	if _, _, err := s.Create("U0OPERATOR", 0); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	again, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Ensure(); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) || len(again.List()) != 1 {
		t.Fatal("Ensure rewrote an existing store")
	}
}
