package ledger

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/table"
	"golang.org/x/sys/unix"
)

// releaseEvery is how many bytes of stored values Scan and Export read
// between two calls to releaseTablePages (Verify releases at its end).
const releaseEvery = 16 << 20

// releaseAtEnd: a Scan or Export that read at least this much releases
// the table pages when it ends.
const releaseAtEnd = 1 << 20

// walked accounts n bytes of stored values read by a walk, and releases
// the table pages once releaseEvery bytes were read since the last time.
func (l *Log) walked(n int64) {
	if l.walkedBytes.Add(n) >= releaseEvery {
		l.releaseTablePages()
	}
}

// releaseTablePages drops this process's mappings of the pages of
// Badger's table files (MADV_DONTNEED). Badger reads its tables through
// mmap, so a walk over a 1M-entry log leaves ~600 MB of file pages mapped
// and counted in the service's RSS, although nothing reads most of them
// again (the core replays the log once, at start). For a shared file
// mapping the advice only unmaps: the data stays in the page cache and
// the file, and a page read again is mapped back from there.
//
// It must never touch memory that is not such a mapping: a table Badger
// unmaps meanwhile could leave its addresses to other memory. So it
// holds an iterator, which keeps every table it covers mapped, and
// advises only tables that were in the tree both before and after the
// iterator was made (IDs are never reused, so those are covered by it).
// Best effort: errors are ignored.
func (l *Log) releaseTablePages() {
	if !l.releaseMu.TryLock() { // another walker is releasing right now
		return
	}
	defer l.releaseMu.Unlock()
	l.walkedBytes.Store(0)
	if l.tableDir == "" {
		return
	}
	before := l.db.Tables()
	txn := l.db.NewTransaction(false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{}) // holds a reference on every table
	defer it.Close()
	held := map[string]bool{}
	for _, t := range l.db.Tables() {
		held[table.IDToFilename(t.ID)] = true
	}
	pinned := map[string]bool{}
	for _, t := range before {
		if name := table.IDToFilename(t.ID); held[name] {
			pinned[name] = true
		}
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "start-end perms offset dev inode path"
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || filepath.Dir(fields[5]) != l.tableDir || !pinned[filepath.Base(fields[5])] {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			continue
		}
		unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_DONTNEED)
	}
}

// tableDirOf is the Badger directory as /proc/self/maps names it:
// absolute, symbolic links resolved ("" if that fails: no release).
func tableDirOf(dir string) string {
	abs, err := filepath.Abs(filepath.Join(dir, badgerDirName))
	if err != nil {
		return ""
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return ""
	}
	return real
}
