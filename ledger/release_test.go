package ledger

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// tableRSS sums the resident kB of this process's mappings of the
// ledger's table files, from /proc/self/smaps.
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
			in = len(fields) >= 6 && filepath.Dir(fields[5]) == l.tableDir && strings.HasSuffix(fields[5], ".sst")
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
