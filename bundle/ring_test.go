package bundle

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/botwarden/botwarden/bundle/redact"
	"github.com/rs/zerolog"
)

func TestRing_Write(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		lines    int
		bytes    int
		writes   []string
		want     string
		wantKept int
	}{
		{"keeps all", 10, 1000, []string{"a\n", "b\n"}, "a\nb\n", 2},
		{"line bound drops oldest", 2, 1000, []string{"a\n", "b\n", "c\n"}, "b\nc\n", 2},
		{"byte bound drops oldest", 10, 6, []string{"aaa\n", "bbb\n"}, "bbb\n", 1},
		{"joins partial writes", 10, 1000, []string{"hel", "lo\nwor", "ld\n"}, "hello\nworld\n", 2},
		{"holds an unfinished line", 10, 1000, []string{"done\n", "pending"}, "done\n", 1},
		{"several lines in one write", 2, 1000, []string{"1\n2\n3\n"}, "2\n3\n", 2},
		{"cuts an overlong line", 10, 4, []string{"abcdefgh"}, "abcd", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := NewRing(tc.lines, tc.bytes, nil)
			for _, w := range tc.writes {
				if n, err := r.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			var buf bytes.Buffer
			if _, err := r.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tc.want || len(r.Snapshot()) != tc.wantKept {
				t.Errorf("ring holds %q (%d lines), want %q (%d)", buf.String(), len(r.Snapshot()), tc.want, tc.wantKept)
			}
		})
	}
}

func TestRing_ScrubsKnownSecretsOnWrite(t *testing.T) {
	t.Parallel()
	red, err := redact.New([]string{logPassword}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRing(10, 1<<10, red.KnownOnly)
	log := zerolog.New(r)
	log.Info().Str("pw", logPassword).Msg("login")
	got := string(bytes.Join(r.Snapshot(), nil))
	if strings.Contains(got, logPassword) || !strings.Contains(got, "[REDACTED:known_secret]") {
		t.Errorf("ring holds %q", got)
	}
}

func TestRing_Concurrent(t *testing.T) {
	t.Parallel()
	r := NewRing(50, 1<<20, nil)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			log := zerolog.New(r)
			for i := 0; i < 200; i++ {
				log.Info().Int("g", g).Int("i", i).Msg("x")
			}
		}()
	}
	wg.Wait()
	lines := r.Snapshot()
	if len(lines) != 50 {
		t.Fatalf("%d lines, want 50", len(lines))
	}
	for _, l := range lines {
		if !bytes.HasPrefix(l, []byte(`{"level":"info"`)) || !bytes.HasSuffix(l, []byte("}\n")) {
			t.Errorf("torn line %q", l)
		}
	}
}
