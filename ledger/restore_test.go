package ledger

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sourceLog builds a ledger of n entries, appended in batches of varied
// sizes, and returns it with its whole export and checkpoint.
func sourceLog(t *testing.T, n int) (*Log, []byte, []byte) {
	t.Helper()
	l := openTest(t, t.TempDir(), Options{CheckpointEvery: 100})
	for i := 0; i < n; {
		k := min(1+i%7, n-i)
		evs := make([][]byte, k)
		for j := range evs {
			evs[j] = testEvent(i + j)
		}
		if _, err := l.AppendAll(context.Background(), evs...); err != nil {
			t.Fatal(err)
		}
		i += k
	}
	exp, cp := exportAll(t, l, 1, l.Head().Size)
	return l, exp, cp
}

func copyKey(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(from, privateKeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(to, privateKeyFileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRestore_SameLog restores a ledger from its export and its own
// signing key: the same head, a log that verifies, an export that is byte
// for byte the original's, and a log that takes new entries and reopens.
func TestRestore_SameLog(t *testing.T) {
	ctx := context.Background()
	src, exp, cp := sourceLog(t, 2500)
	dst := t.TempDir()
	copyKey(t, src.Dir(), dst)
	rep, err := Restore(ctx, dst, bytes.NewReader(exp), cp, src.VerifierKey(), Options{})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if rep.Head != src.Head() || rep.NewKey || rep.VerifierKey != src.VerifierKey() || rep.Export.Entries != 2500 {
		t.Fatalf("report = %+v, want head %+v with the same key", rep, src.Head())
	}
	l := openTest(t, dst, Options{})
	if _, err := l.Verify(ctx, 1, l.Head().Size); err != nil {
		t.Fatalf("Verify restored: %v", err)
	}
	again, cp2 := exportAll(t, l, 1, 2500)
	if !bytes.Equal(again, exp) {
		t.Fatal("the restored log's export differs from the original's")
	}
	if _, err := VerifyExport(ctx, bytes.NewReader(again), cp2, src.VerifierKey(), cp); err != nil {
		t.Fatalf("restored export against the original key and checkpoint: %v", err)
	}
	appendN(t, l, 2500, 3)
	l.Close()
	l = openTest(t, dst, Options{})
	if h := l.Head(); h.Size != 2503 {
		t.Fatalf("after reopen: size %d", h.Size)
	}
}

// TestRestore_NewKey restores without the signing key: the history is the
// same, and a new key, named like the old one, signs from then on.
func TestRestore_NewKey(t *testing.T) {
	ctx := context.Background()
	src, exp, cp := sourceLog(t, 300)
	dst := t.TempDir()
	rep, err := Restore(ctx, dst, bytes.NewReader(exp), cp, src.VerifierKey(), Options{})
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if !rep.NewKey || rep.VerifierKey == src.VerifierKey() || rep.Head.Root != src.Head().Root {
		t.Fatalf("report = %+v", rep)
	}
	if name := strings.SplitN(rep.VerifierKey, "+", 2)[0]; name != src.Origin() {
		t.Fatalf("new key named %q, want the origin %q", name, src.Origin())
	}
	l := openTest(t, dst, Options{})
	again, cp2 := exportAll(t, l, 1, 300)
	if _, err := VerifyExport(ctx, bytes.NewReader(again), cp2, rep.VerifierKey, nil); err != nil {
		t.Fatalf("restored export against the new key: %v", err)
	}
}

// TestRestore_Refused checks that a restore that cannot be trusted or
// would overwrite a ledger writes nothing and leaves no partial ledger.
func TestRestore_Refused(t *testing.T) {
	ctx := context.Background()
	src, exp, cp := sourceLog(t, 200)
	other := openTest(t, t.TempDir(), Options{})
	partial, partialCP := exportAll(t, src, 2, 200)
	tampered := bytes.Replace(exp, []byte(`"n":57,`), []byte(`"n":58,`), 1)
	if bytes.Equal(tampered, exp) {
		t.Fatal("test export has no entry 57 to alter")
	}
	for _, tc := range []struct {
		name    string
		exp, cp []byte
		vkey    string
		prepare func(dir string)
		want    string
	}{
		{"altered entry", tampered, cp, src.VerifierKey(), nil, "does not verify"},
		{"partial export", partial, partialCP, src.VerifierKey(), nil, "from seq 1"},
		{"checkpoint of another ledger", exp, cp, other.VerifierKey(), nil, "does not verify"},
		{"another signing key in the folder", exp, cp, src.VerifierKey(),
			func(dir string) { copyKey(t, other.Dir(), dir) }, "is not a key that signed"},
		{"a ledger already there", exp, cp, src.VerifierKey(),
			func(dir string) { os.MkdirAll(filepath.Join(dir, badgerDirName, "x"), 0o700) }, ErrNotEmpty.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.prepare != nil {
				tc.prepare(dir)
			}
			before, _ := os.ReadDir(dir)
			_, err := Restore(ctx, dir, bytes.NewReader(tc.exp), tc.cp, tc.vkey, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Restore = %v, want an error saying %q", err, tc.want)
			}
			if after, _ := os.ReadDir(dir); len(after) != len(before) {
				t.Fatalf("the failed restore left %v in the folder (before: %v)", after, before)
			}
		})
	}
	t.Run("altered after verification", func(t *testing.T) {
		// An export that changes between the check and the restore (a
		// file rewritten meanwhile) is caught entry by entry.
		dir := t.TempDir()
		r := &swapReader{first: bytes.NewReader(exp), then: bytes.NewReader(tampered)}
		_, err := Restore(ctx, dir, r, cp, src.VerifierKey(), Options{})
		if !errors.Is(err, ErrTampered) {
			t.Fatalf("Restore = %v, want ErrTampered", err)
		}
		if after, _ := os.ReadDir(dir); len(after) != 0 {
			t.Fatalf("left %v", after)
		}
	})
}

// swapReader reads first until the first rewind, then.
type swapReader struct {
	first, then *bytes.Reader
	swapped     bool
}

func (s *swapReader) Read(p []byte) (int, error) {
	if s.swapped {
		return s.then.Read(p)
	}
	return s.first.Read(p)
}

func (s *swapReader) Seek(off int64, whence int) (int64, error) {
	s.swapped = true
	return s.then.Seek(off, whence)
}

// TestRestore_KeepsEventsOlderRulesAccepted: an event recorded before a
// rule was added to ValidateEvent (here a repeated member name, refused
// since) still verifies offline and is restored as recorded: the history
// is proven by its hashes, not re-judged.
func TestRestore_KeepsEventsOlderRulesAccepted(t *testing.T) {
	ctx := context.Background()
	src := openTest(t, t.TempDir(), Options{})
	appendN(t, src, 0, 3)
	old := []byte(`{"type":"test.event","n":1,"n":2}`)
	if ValidateEvent(old) == nil {
		t.Fatal("the test needs an event today's rules refuse")
	}
	p, err := src.queueAt(ctx, [][]byte{old}, []time.Time{src.Head().Time.Add(time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	appendN(t, src, 3, 2)
	exp, cp := exportAll(t, src, 1, src.Head().Size)
	if _, err := VerifyExport(ctx, bytes.NewReader(exp), cp, src.VerifierKey(), nil); err != nil {
		t.Fatalf("offline verification of the older history: %v", err)
	}
	dst := t.TempDir()
	copyKey(t, src.Dir(), dst)
	rep, err := Restore(ctx, dst, bytes.NewReader(exp), cp, src.VerifierKey(), Options{})
	if err != nil || rep.Head != src.Head() {
		t.Fatalf("Restore = %+v, %v", rep, err)
	}
}

// TestRestore_Chain restores from a whole export and two incremental ones
// (each from the last one's size + 1): the same log as the source. Parts
// with a gap, an overlap or out of order are refused before anything is
// written.
func TestRestore_Chain(t *testing.T) {
	ctx := context.Background()
	src, _, _ := sourceLog(t, 900)
	type part struct{ exp, cp []byte }
	cut := func(from, to uint64) part {
		e, c := exportAll(t, src, from, to)
		return part{e, c}
	}
	full, inc1, inc2 := cut(1, 300), cut(301, 650), cut(651, 900)
	chain := func(ps ...part) []ExportPart {
		var out []ExportPart
		for _, p := range ps {
			out = append(out, ExportPart{Export: bytes.NewReader(p.exp), Checkpoint: p.cp})
		}
		return out
	}
	dst := t.TempDir()
	copyKey(t, src.Dir(), dst)
	rep, err := RestoreChain(ctx, dst, chain(full, inc1, inc2), src.VerifierKey(), Options{})
	if err != nil || rep.Head != src.Head() || rep.Export.Entries != 900 || rep.Export.From != 1 || rep.Export.To != 900 {
		t.Fatalf("RestoreChain = %+v, %v; want the source's head %+v", rep, err, src.Head())
	}
	for _, tc := range []struct {
		name  string
		parts []ExportPart
		want  string
	}{
		{"gap", chain(full, inc2), "size 300 is outside what export 651..900 can prove"},
		{"overlap", chain(full, cut(250, 650)), "starts at seq 250, want 301"},
		{"out of order", chain(inc1, full), "from seq 1"},
		{"none", nil, "no export"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := RestoreChain(ctx, dir, tc.parts, src.VerifierKey(), Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("RestoreChain = %v, want an error saying %q", err, tc.want)
			}
			if names, _ := os.ReadDir(dir); len(names) != 0 {
				t.Fatalf("left %v", names)
			}
		})
	}
}
