package ledger

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// crash stops l as a killed process would leave it: the goroutines end,
// Badger is closed, and the write-ahead log stays on disk.
func crash(t *testing.T, l *Log) {
	t.Helper()
	l.once.Do(func() {
		close(l.closing)
		<-l.seqDone
		<-l.cpDone
		if err := l.db.Close(); err != nil {
			t.Fatal(err)
		}
		if err := l.wal.close(false); err != nil {
			t.Fatal(err)
		}
	})
}

func segments(t *testing.T, dir string) []walSegment {
	t.Helper()
	segs, err := walSegments(filepath.Join(dir, walDirName))
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

// snapshotDB copies the closed ledger's Badger folder; restoreDB puts it
// back, as if Badger had lost every write made since.
func snapshotDB(t *testing.T, dir string) string {
	t.Helper()
	snap := filepath.Join(t.TempDir(), "snap")
	if out, err := exec.Command("cp", "-a", filepath.Join(dir, badgerDirName), snap).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	return snap
}

func restoreDB(t *testing.T, dir, snap string) {
	t.Helper()
	db := filepath.Join(dir, badgerDirName)
	if err := os.RemoveAll(db); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", snap, db).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
}

// walCrash builds a ledger whose entries 11..30 and checkpoint at size 20
// are only in the write-ahead log after a crash, and returns the receipts
// of all 30 entries and a snapshot of Badger holding only entries 1..10.
func walCrash(t *testing.T, dir string) ([]Receipt, string) {
	t.Helper()
	opts := Options{CheckpointInterval: time.Hour}
	l := openTest(t, dir, opts)
	rs := appendReceipts(t, l, 1, 10)
	l.Close()
	snap := snapshotDB(t, dir)
	l = openTest(t, dir, opts)
	rs = append(rs, appendReceipts(t, l, 11, 10)...)
	if _, err := l.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	rs = append(rs, appendReceipts(t, l, 21, 10)...)
	crash(t, l)
	return rs, snap
}

func appendReceipts(t *testing.T, l *Log, from, n int) []Receipt {
	t.Helper()
	var rs []Receipt
	for i := from; i < from+n; i++ {
		r, err := l.Append(context.Background(), testEvent(i))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		rs = append(rs, r)
	}
	return rs
}

// checkReplayed opens dir and checks that it holds exactly the entries of
// rs, verifies, and holds the checkpoint at size 20.
func checkReplayed(t *testing.T, dir string, rs []Receipt) *Log {
	t.Helper()
	l := openTest(t, dir, Options{CheckpointInterval: time.Hour})
	if h := l.Head(); h.Size != uint64(len(rs)) || h.Hash != rs[len(rs)-1].Hash {
		t.Fatalf("head after replay = %d %x, want %d %x", h.Size, h.Hash, len(rs), rs[len(rs)-1].Hash)
	}
	for _, r := range rs {
		e, err := l.Get(context.Background(), r.Seq)
		if err != nil || e.Hash != r.Hash {
			t.Fatalf("entry %d after replay: %v, hash %x, want %x", r.Seq, err, e.Hash, r.Hash)
		}
	}
	if _, err := l.Verify(context.Background(), 0, 0); err != nil {
		t.Fatalf("Verify after replay: %v", err)
	}
	var sizes []uint64
	l.Checkpoints(context.Background(), 0, func(size uint64, _ []byte) error { sizes = append(sizes, size); return nil })
	if len(sizes) == 0 || sizes[0] != 10 && sizes[0] != 20 || !containsSize(sizes, 20) {
		t.Fatalf("stored checkpoints after replay: %v, want 20 among them", sizes)
	}
	if segs := segments(t, dir); len(segs) != 1 || segs[0].first != uint64(len(rs))+1 {
		t.Fatalf("write-ahead log after replay: %v, want one fresh segment", segs)
	}
	return l
}

func containsSize(s []uint64, n uint64) bool {
	for _, v := range s {
		if v == n {
			return true
		}
	}
	return false
}

func TestLog_ReplaysWriteAheadLog(t *testing.T) {
	t.Parallel()
	t.Run("Badger kept everything", func(t *testing.T) {
		dir := t.TempDir()
		rs, _ := walCrash(t, dir)
		checkReplayed(t, dir, rs)
	})
	t.Run("Badger lost every unsynced write", func(t *testing.T) {
		dir := t.TempDir()
		rs, snap := walCrash(t, dir)
		restoreDB(t, dir, snap)
		l := checkReplayed(t, dir, rs)
		appendN(t, l, 31, 5) // and the log goes on
		if h := l.Head(); h.Size != 35 {
			t.Fatalf("head = %d, want 35", h.Size)
		}
	})
	t.Run("torn last frame", func(t *testing.T) {
		dir := t.TempDir()
		rs, _ := walCrash(t, dir)
		segs := segments(t, dir)
		f, err := os.OpenFile(segs[len(segs)-1].path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte("BWL1\x00\x00\x10\x00half a frame"))
		f.Close()
		checkReplayed(t, dir, rs)
	})
}

func TestLog_RefusesDamagedWriteAheadLog(t *testing.T) {
	t.Parallel()
	damage := []struct {
		name string
		edit func(t *testing.T, dir string)
		want string
	}{
		{"a byte flipped in a frame followed by good ones", func(t *testing.T, dir string) {
			path := segments(t, dir)[0].path
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b[walFrameHeader+walPayloadHeader+walRecordHeader+20] ^= 1
			os.WriteFile(path, b, 0o600)
		}, "checksum mismatch"},
		{"log starting after the database's end", func(t *testing.T, dir string) {
			s := segments(t, dir)[0]
			if err := os.Rename(s.path, segmentPath(filepath.Dir(s.path), 25)); err != nil {
				t.Fatal(err)
			}
		}, "entries 11..24 are missing"},
		{"entry rewritten in the log", func(t *testing.T, dir string) {
			path := segments(t, dir)[0].path
			b, _ := os.ReadFile(path)
			// Re-frame the first frame with one event byte changed: the
			// checksum holds, the chain hash does not.
			n := walFrameHeader + int(beUint32(b[4:]))
			p := append([]byte(nil), b[walFrameHeader:n]...)
			p[len(p)-5] ^= 1
			os.WriteFile(path, append(frame(p), b[n:]...), 0o600)
		}, "stored hash does not match"},
	}
	for _, tc := range damage {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, snap := walCrash(t, dir)
			restoreDB(t, dir, snap)
			tc.edit(t, dir)
			l, err := Open(context.Background(), dir, Options{})
			if err == nil {
				l.Close()
				t.Fatal("Open accepted a damaged write-ahead log")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want %q", err, tc.want)
			}
			if tc.name == "log starting after the database's end" && !errors.Is(err, ErrRollback) {
				t.Fatalf("Open: %v, want ErrRollback", err)
			}
		})
	}
}

func TestLog_DropsSyncedWriteAheadLogSegments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openTest(t, dir, Options{CheckpointInterval: time.Hour})
	l.wal.max = 2 << 10 // rotate every few entries
	rs := appendReceipts(t, l, 1, 200)
	deadline := time.Now().Add(10 * time.Second)
	for len(segments(t, dir)) > 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d segments stay after the rotations", len(segments(t, dir)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	crash(t, l)
	l = openTest(t, dir, Options{CheckpointInterval: time.Hour})
	if h := l.Head(); h.Size != 200 || h.Hash != rs[199].Hash {
		t.Fatalf("head = %d, want 200", h.Size)
	}
	if _, err := l.Verify(context.Background(), 0, 0); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if segs := segments(t, dir); len(segs) != 0 {
		t.Fatalf("a clean Close left %d segments", len(segs))
	}
}

func beUint32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

// frame wraps payload p in a frame header with its checksum.
func frame(p []byte) []byte {
	h := append([]byte(nil), walMagic...)
	h = binary.BigEndian.AppendUint32(h, uint32(len(p)))
	h = binary.BigEndian.AppendUint32(h, crc32.Checksum(p, castagnoli))
	return append(h, p...)
}
