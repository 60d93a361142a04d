package ledger

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/badger/v4/y"
	"golang.org/x/sys/unix"
)

// releaseEvery is how many bytes of stored values Scan and Export read
// between two calls to releaseTablePages (Verify releases at its end).
const releaseEvery = 16 << 20

// releaseAtEnd: a Scan or Export that read at least this much releases
// the table pages when it ends.
const releaseAtEnd = 1 << 20

// walked accounts n bytes of stored values read by a walk or appended,
// and releases the table pages once releaseEvery bytes were read or
// written since the last time.
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
func (l *Log) releaseTablePages() {
	if !l.releaseMu.TryLock() { // another walker is releasing right now
		return
	}
	defer l.releaseMu.Unlock()
	l.walkedBytes.Store(0)
	l.adviseTables(unix.MADV_DONTNEED, nil, true)
}

// populateTablePages maps in one call per table the pages of the tables
// that hold entries from..to (MADV_POPULATE_READ, Linux 5.14+; older
// kernels refuse it and the walk faults the pages in one by one, as
// without it). Verify reads every
// byte of those tables, and a page fault per page costs it more than a
// tenth of its time. The pages stay mapped until Verify releases them.
func (l *Log) populateTablePages(from, to uint64) {
	l.releaseMu.Lock()
	defer l.releaseMu.Unlock()
	// Entries live in the value log, in seq order, but which file holds a
	// seq is not known without reading its pointer: populate the value
	// log only for a walk over most of the log.
	vlogs := 2*(to-from+1) >= l.Head().Size
	l.adviseTables(unix.MADV_POPULATE_READ, func(t badger.TableInfo) bool { return tableHolds(t, from, to) }, vlogs)
}

// tableHolds says whether table t's key range overlaps the keys of
// entries from..to.
func tableHolds(t badger.TableInfo, from, to uint64) bool {
	left, right := y.ParseKey(t.Left), y.ParseKey(t.Right)
	return bytes.Compare(left, key(prefixEntry, to)) <= 0 && bytes.Compare(right, key(prefixEntry, from)) >= 0
}

// adviseTables applies advice to this process's mappings of the table
// files that want accepts (all of them if want is nil) and, if vlogs, of
// the value log files. Callers hold releaseMu.
//
// It must never touch memory that is not such a mapping: a file Badger
// unmaps meanwhile could leave its addresses to other memory. So it
// holds an iterator, which keeps every table it covers mapped, and
// advises only tables that were in the tree both before and after the
// iterator was made (IDs are never reused, so those are covered by it).
// Value log files stay mapped while the database is open (the ledger
// never garbage-collects the value log), except that Badger truncates
// and remaps the newest one when a write moves on to the next file. Only
// the ledger writes to Badger, always holding storeMu, so advice that
// can change memory is given while holding it too. Best effort: errors
// are ignored.
func (l *Log) adviseTables(advice int, want func(badger.TableInfo) bool, vlogs bool) {
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
		if name := table.IDToFilename(t.ID); held[name] && (want == nil || want(t)) {
			pinned[name] = true
		}
	}
	if vlogs && advice != unix.MADV_POPULATE_READ {
		l.storeMu.Lock()
		defer l.storeMu.Unlock()
	}
	for _, m := range l.dataMappings() {
		name := filepath.Base(m.path)
		if pinned[name] || vlogs && strings.HasSuffix(name, ".vlog") {
			unix.Syscall(unix.SYS_MADVISE, uintptr(m.start), uintptr(m.end-m.start), uintptr(advice))
		}
	}
}

type mapping struct {
	start, end uint64
	path       string
}

// dataMappings lists this process's mappings of files in Badger's
// directory, from /proc/self/maps.
func (l *Log) dataMappings() []mapping {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "start-end perms offset dev inode path"
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || filepath.Dir(fields[5]) != l.tableDir {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil || end <= start {
			continue
		}
		out = append(out, mapping{start, end, fields[5]})
	}
	return out
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
