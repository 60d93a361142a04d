package ledger

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestOpen_RefusesRollbackToOlderBackup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	appendN(t, l, 1, 10)
	l.Close()
	backup := filepath.Join(t.TempDir(), "backup")
	if err := os.CopyFS(backup, os.DirFS(filepath.Join(dir, badgerDirName))); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, Options{})
	appendN(t, l, 11, 10)
	l.Close()
	os.RemoveAll(filepath.Join(dir, badgerDirName))
	if err := os.CopyFS(filepath.Join(dir, badgerDirName), os.DirFS(backup)); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), dir, Options{})
	if !errors.Is(err, ErrRollback) || !strings.Contains(err.Error(), "entries 11..20 are missing") {
		t.Fatalf("Open of a restored backup = %v, want ErrRollback naming 11..20", err)
	}
	// The documented recovery: set the newer checkpoint aside on purpose.
	if err := os.Rename(filepath.Join(dir, checkpointFileName), filepath.Join(dir, "rejected.checkpoint")); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, Options{})
	if l.Head().Size != 10 {
		t.Fatalf("head after recovery = %d", l.Head().Size)
	}
}

func TestOpen_RefusesForkedFolder(t *testing.T) {
	t.Parallel()
	a, b := t.TempDir(), t.TempDir()
	la := openTest(t, a, Options{})
	key, _ := os.ReadFile(filepath.Join(a, privateKeyFileName))
	os.WriteFile(filepath.Join(b, privateKeyFileName), key, 0o600)
	lb := openTest(t, b, Options{})
	appendN(t, la, 1, 8)
	appendN(t, lb, 101, 8)
	la.Close()
	lb.Close()
	// Swap b's database into a: same key, same size, another history.
	os.RemoveAll(filepath.Join(a, badgerDirName))
	os.Rename(filepath.Join(b, badgerDirName), filepath.Join(a, badgerDirName))
	_, err := Open(context.Background(), a, Options{})
	if !errors.Is(err, ErrRollback) || !strings.Contains(err.Error(), "differs from the signed one") {
		t.Fatalf("Open of a swapped folder = %v, want ErrRollback", err)
	}
}

func TestLog_AppendUnavailableWhenDiskNearlyFull(t *testing.T) {
	t.Parallel()
	var st unix.Statfs_t
	dir := t.TempDir()
	unix.Statfs(dir, &st)
	l := openTest(t, dir, Options{MinFreeBytes: st.Bavail*uint64(st.Bsize) + 1<<40})
	start := time.Now()
	_, err := l.Append(context.Background(), testEvent(1))
	if !errors.Is(err, ErrUnavailable) || time.Since(start) > time.Second {
		t.Fatalf("Append = %v after %v, want ErrUnavailable promptly", err, time.Since(start))
	}
	if l.Head().Size != 0 {
		t.Fatal("an entry was written")
	}
}

// mountTmpfs mounts a small tmpfs (root only) and unmounts it at cleanup.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v); the MinFreeBytes test covers the mechanism", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

func TestLog_AppendUnavailableOnFullTmpfs(t *testing.T) {
	dir := mountTmpfs(t, "48m")
	l, err := Open(context.Background(), dir, Options{MinFreeBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendN(t, l, 1, 5)
	// Fill the file system up to 4 MiB of free space.
	var st unix.Statfs_t
	unix.Statfs(dir, &st)
	fill := int64(st.Bavail*uint64(st.Bsize)) - 4<<20
	if out, err := exec.Command("fallocate", "-l", itoa(fill), filepath.Join(dir, "filler")).CombinedOutput(); err != nil {
		t.Skipf("fallocate: %v %s", err, out)
	}
	start := time.Now()
	_, err = l.Append(context.Background(), testEvent(6))
	if !errors.Is(err, ErrUnavailable) || time.Since(start) > time.Second {
		t.Fatalf("Append on a full disk = %v after %v, want ErrUnavailable promptly", err, time.Since(start))
	}
	os.Remove(filepath.Join(dir, "filler"))
	appendN(t, l, 6, 1) // space is back: the guard never broke the log
	if _, err := l.Verify(context.Background(), 0, 0); err != nil {
		t.Fatal(err)
	}
}

func TestOpen_UnavailableOnReadOnlyFolder(t *testing.T) {
	dir := mountTmpfs(t, "16m")
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Skipf("remount read-only: %v", err)
	}
	start := time.Now()
	_, err := Open(context.Background(), dir, Options{})
	if !errors.Is(err, ErrUnavailable) || time.Since(start) > time.Second {
		t.Fatalf("Open on a read-only folder = %v, want ErrUnavailable promptly", err)
	}
}

func itoa(n int64) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int64) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}
