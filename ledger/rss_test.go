package ledger

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

const (
	rssChildEnv  = "BOTWARDEN_LEDGER_RSS_CHILD"
	rssAppendEnv = "BOTWARDEN_LEDGER_RSS_APPEND" // entries the child appends at 64 writers
)

// rssChild is the service's ledger life in a fresh process: open, replay
// every entry through Scan (as the core does at start), Verify the whole
// log, append a little (or BOTWARDEN_LEDGER_RSS_APPEND entries from 64
// writers, a sustained burst); then it prints its memory figures from
// /proc/self/status (kB) and exits.
func rssChild(dir string) {
	ctx := context.Background()
	l, err := Open(ctx, dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "rss child: open:", err)
		os.Exit(3)
	}
	var n int
	if err := l.Scan(ctx, 0, func(uint64, []byte) error { n++; return nil }); err != nil {
		fmt.Fprintln(os.Stderr, "rss child: scan:", err)
		os.Exit(4)
	}
	if _, err := l.Verify(ctx, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "rss child: verify:", err)
		os.Exit(5)
	}
	burst, _ := strconv.Atoi(os.Getenv(rssAppendEnv))
	writers := 64
	if burst <= 0 {
		burst, writers = 100, 1
	}
	var left atomic.Int64
	left.Store(int64(burst))
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if _, err := l.Append(ctx, benchEvent(n)); err != nil {
					fmt.Fprintln(os.Stderr, "rss child: append:", err)
					os.Exit(6)
				}
			}
		})
	}
	wg.Wait()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, "rss child:", err)
		os.Exit(7)
	}
	os.Stdout.Write(status)
	l.Close()
	os.Exit(0)
}

// memStatus runs the RSS child on the ledger in dir and returns the
// /proc/self/status fields it reported, in MiB.
func memStatus(tb testing.TB, dir string, burst int) map[string]float64 {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), rssChildEnv+"="+dir, fmt.Sprintf("%s=%d", rssAppendEnv, burst))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("rss child: %v: %s", err, stderr.String())
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(rest)
		if !ok || len(fields) != 2 || fields[1] != "kB" {
			continue
		}
		if kb, err := strconv.ParseFloat(fields[0], 64); err == nil {
			m[name] = kb / 1024
		}
	}
	if m["VmHWM"] == 0 {
		tb.Fatalf("rss child printed no VmHWM: %q", out)
	}
	return m
}

// BenchmarkServiceRSS reports the resident memory of a process holding
// an open ledger of BOTWARDEN_BENCH_OPEN_ENTRIES (default 1M) entries
// after replaying and verifying all of it: peak (VmHWM) and at the end
// (VmRSS), split into anonymous memory (Go heap, Badger's memtables) and
// file pages (Badger's mmapped tables). "steady" then appends 100
// entries; "burst" appends 200,000 from 64 writers, so that memtables
// fill, rotate and flush while the peak is measured.
func BenchmarkServiceRSS(b *testing.B) {
	n := benchOpenEntries()
	for _, c := range []struct {
		name  string
		burst int
	}{{"steady", 0}, {"burst", 200_000}} {
		b.Run(c.name, func(b *testing.B) {
			dir := sharedLedger(b, n)
			if c.burst > 0 { // the burst grows the shared ledger: work on a copy
				dir = copyDir(b, dir)
			}
			b.ResetTimer()
			var m map[string]float64
			for i := 0; i < b.N; i++ {
				m = memStatus(b, dir, c.burst)
			}
			b.ReportMetric(m["VmHWM"], "MiB-peak")
			b.ReportMetric(m["VmRSS"], "MiB-rss")
			b.ReportMetric(m["RssAnon"], "MiB-anon")
			b.ReportMetric(m["RssFile"], "MiB-file")
			b.ReportMetric(float64(n), "entries")
		})
	}
}

// copyDir copies the ledger folder src into a fresh temporary folder,
// modes included (the signing key must stay 0600).
func copyDir(b *testing.B, src string) string {
	b.Helper()
	dst := filepath.Join(b.TempDir(), "ledger")
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		b.Fatalf("copy %s: %v", src, err)
	}
	return dst
}
