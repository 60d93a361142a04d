package bundle

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestPrune(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	files := map[string]time.Duration{ // name -> age
		"bundle-dev-a-1.tar.gz":          1 * time.Hour,
		"bundle-dev-a-2.tar.gz":          2 * time.Hour,
		"bundle-dev-a-3.tar.gz":          3 * time.Hour,
		"bundle-dev-a-4.tar.gz":          30 * 24 * time.Hour,
		".bundle-dev-a-5.tar.gz.partial": 2 * time.Hour, // crash leftover
		".bundle-dev-a-6.tar.gz.partial": time.Minute,   // a build in flight
		"notes.txt":                      90 * 24 * time.Hour,
		"bundle-not-ours.zip":            90 * 24 * time.Hour,
	}
	tests := []struct {
		name   string
		keep   int
		maxAge time.Duration
		want   []string
	}{
		{"no limits", 0, 0, []string{".bundle-dev-a-6.tar.gz.partial", "bundle-dev-a-1.tar.gz", "bundle-dev-a-2.tar.gz", "bundle-dev-a-3.tar.gz", "bundle-dev-a-4.tar.gz", "bundle-not-ours.zip", "notes.txt"}},
		{"count", 2, 0, []string{".bundle-dev-a-6.tar.gz.partial", "bundle-dev-a-1.tar.gz", "bundle-dev-a-2.tar.gz", "bundle-not-ours.zip", "notes.txt"}},
		{"age", 0, 7 * 24 * time.Hour, []string{".bundle-dev-a-6.tar.gz.partial", "bundle-dev-a-1.tar.gz", "bundle-dev-a-2.tar.gz", "bundle-dev-a-3.tar.gz", "bundle-not-ours.zip", "notes.txt"}},
		{"both", 10, 90 * time.Minute, []string{".bundle-dev-a-6.tar.gz.partial", "bundle-dev-a-1.tar.gz", "bundle-not-ours.zip", "notes.txt"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, age := range files {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
					t.Fatal(err)
				}
			}
			if err := Prune(dir, tc.keep, tc.maxAge, now); err != nil {
				t.Fatal(err)
			}
			ents, _ := os.ReadDir(dir)
			var got []string
			for _, e := range ents {
				got = append(got, e.Name())
			}
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("left %v\nwant %v", got, tc.want)
			}
		})
	}
}
