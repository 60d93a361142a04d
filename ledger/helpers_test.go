package ledger

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
)

// fakeClock returns a fixed, advancing time so hashes are reproducible.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time {
	c.t = c.t.Add(1500 * time.Microsecond)
	return c.t
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func testEvent(i int) []byte {
	return fmt.Appendf(nil, `{"type":"test.event","n":%d,"note":"<a&b>"}`, i)
}

// openTest opens a ledger in a temporary folder with a fake clock and
// closes it at the end of the test.
func openTest(t testing.TB, dir string, opts Options) *Log {
	t.Helper()
	if opts.Now == nil {
		opts.Now = newClock().Now
	}
	l, err := Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func appendN(t testing.TB, l *Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := l.Append(context.Background(), testEvent(i)); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
}

func exportAll(t testing.TB, l *Log, from, to uint64) ([]byte, []byte) {
	t.Helper()
	var buf bytes.Buffer
	cp, err := l.Export(context.Background(), &buf, from, to)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	return buf.Bytes(), cp
}
