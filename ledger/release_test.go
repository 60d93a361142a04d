package ledger

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/y"
	"golang.org/x/sys/unix"
)

// tableRSS sums the resident kB of this process's mappings of the
// ledger's table and value log files, from /proc/self/smaps.
func tableRSS(t *testing.T, l *Log) (kb int, tables int) {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		switch {
		case !strings.HasSuffix(fields[0], ":"):
			// A mapping's header: "start-end perms offset dev inode [path]".
			// Anonymous mappings have no path and end the table's section.
			in = len(fields) >= 6 && filepath.Dir(fields[5]) == l.tableDir &&
				(strings.HasSuffix(fields[5], ".sst") || strings.HasSuffix(fields[5], ".vlog"))
			if in {
				tables++
			}
		case in && len(fields) == 3 && fields[0] == "Rss:":
			n, _ := strconv.Atoi(fields[1])
			kb += n
		}
	}
	return kb, tables
}

func TestLog_VerifyReleasesTablePages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	buildLedger(t, l, 20_000) // > one memtable: tables on disk
	l.Close()
	l = openTest(t, dir, Options{})
	if l.tableDir == "" {
		t.Fatal("table directory not resolved")
	}
	var n int
	if err := l.Scan(context.Background(), 0, func(uint64, []byte) error { n++; return nil }); err != nil || n != 20_000 {
		t.Fatalf("Scan: %v after %d entries", err, n)
	}
	if kb, tables := tableRSS(t, l); tables == 0 {
		t.Fatal("no table file is mapped: nothing to test")
	} else if kb > 2048 {
		t.Fatalf("after Scan, %d kB of %d table mappings stay resident", kb, tables)
	}
	if _, err := l.Verify(context.Background(), 0, 0); err != nil {
		t.Fatal(err)
	}
	if kb, _ := tableRSS(t, l); kb > 2048 {
		t.Fatalf("after Verify, %d kB of table mappings stay resident", kb)
	}
	// The pages come back when read again.
	if _, err := l.Verify(context.Background(), 0, 0); err != nil {
		t.Fatalf("Verify after release: %v", err)
	}
}

func TestLog_PopulateMapsTables(t *testing.T) {
	t.Parallel()
	probe, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	perr := unix.Madvise(probe, unix.MADV_POPULATE_READ)
	unix.Munmap(probe)
	if perr != nil {
		t.Skipf("this kernel has no MADV_POPULATE_READ: %v", perr)
	}
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	buildLedger(t, l, 20_000)
	l.Close()
	l = openTest(t, dir, Options{})
	if kb, tables := tableRSS(t, l); tables == 0 {
		t.Fatalf("no table file is mapped: nothing to test")
	} else if kb > 2048 {
		t.Fatalf("freshly opened: %d kB of table mappings resident", kb)
	}
	l.populateTablePages(1, 20_000)
	all, _ := tableRSS(t, l)
	if all < 8192 {
		t.Fatalf("after populate, only %d kB of table mappings resident", all)
	}
	l.releaseTablePages()
	if kb, _ := tableRSS(t, l); kb > 2048 {
		t.Fatalf("after release, %d kB of table mappings stay resident", kb)
	}
}

func TestTableHolds(t *testing.T) {
	t.Parallel()
	tbl := func(lp byte, l uint64, rp byte, r uint64) badger.TableInfo {
		return badger.TableInfo{Left: y.KeyWithTs(key(lp, l), 7), Right: y.KeyWithTs(key(rp, r), 7)}
	}
	tests := []struct {
		name     string
		t        badger.TableInfo
		from, to uint64
		want     bool
	}{
		{"entries inside", tbl(prefixEntry, 50, prefixEntry, 60), 1, 100, true},
		{"entries straddling the start", tbl(prefixEntry, 1, prefixEntry, 10), 5, 100, true},
		{"entries before", tbl(prefixEntry, 1, prefixEntry, 4), 5, 100, false},
		{"entries after", tbl(prefixEntry, 101, prefixEntry, 200), 5, 100, false},
		{"checkpoints only", tbl(prefixCheckpoint, 1, prefixCheckpoint, 1000), 1, 100, false},
		{"a flushed memtable: checkpoints to entries", tbl(prefixCheckpoint, 1, prefixEntry, 10), 5, 600, true},
		{"a flushed memtable: checkpoints to earlier entries", tbl(prefixCheckpoint, 1, prefixEntry, 10), 500, 600, false},
		{"entries to the format mark", tbl(prefixEntry, 90, prefixMeta, 0), 1, 100, true},
	}
	for _, tt := range tests {
		if got := tableHolds(tt.t, tt.from, tt.to); got != tt.want {
			t.Errorf("%s: tableHolds(%d..%d) = %v, want %v", tt.name, tt.from, tt.to, got, tt.want)
		}
	}
}
