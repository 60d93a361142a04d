package ledger

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestNewestStoreFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		files []string
		want  []string
	}{
		{nil, nil},
		{[]string{"MANIFEST", "000001.sst", "KEYREGISTRY"}, nil},
		{[]string{"000001.vlog", "000002.vlog", "00001.mem", "00003.mem", "00002.mem", "000004.sst"},
			[]string{"000002.vlog", "00003.mem"}},
		{[]string{"000010.vlog", "000009.vlog"}, []string{"000010.vlog"}},
	} {
		dir := t.TempDir()
		for _, f := range tc.files {
			if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		got, err := newestStoreFiles(dir)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%v: %v, %v; want %v", tc.files, got, err, tc.want)
		}
	}
	if _, err := newestStoreFiles(filepath.Join(t.TempDir(), "gone")); err == nil {
		t.Error("a missing folder gave no error")
	}
}

// Appends start writeback passes as Badger's files grow, and only then.
func TestWriteback_FollowsAppends(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{CheckpointInterval: time.Hour})
	if n := l.writebacks.Load(); n != 0 {
		t.Fatalf("%d writeback passes before any append", n)
	}
	if err := startWriteback(filepath.Join(l.dir, badgerDirName)); err != nil {
		t.Fatalf("writeback on the open ledger's files: %v", err)
	}
	ev := []byte(`{"pad":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}`)
	evs := make([][]byte, 64)
	for i := range evs {
		evs[i] = ev
	}
	if _, err := l.AppendAll(t.Context(), evs...); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := l.writebacks.Load(); n != 0 {
		t.Fatalf("%d writeback passes after %d bytes, fewer than writebackBytes", n, l.unwritten.Load())
	}
	for range int(writebackBytes) / (len(evs) * len(ev)) { // each entry stores more than its event
		if _, err := l.AppendAll(t.Context(), evs...); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for l.writebacks.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no writeback pass after appending more than writebackBytes")
		}
		time.Sleep(time.Millisecond)
	}
}
