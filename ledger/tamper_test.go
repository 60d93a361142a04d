package ledger

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// tamperDB edits the closed ledger's Badger database directly.
func tamperDB(t *testing.T, dir string, fn func(txn *badger.Txn) error) {
	t.Helper()
	db, err := badger.Open(badgerOptions(filepath.Join(dir, badgerDirName), Options{}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func getValue(t *testing.T, txn *badger.Txn, seq uint64) []byte {
	t.Helper()
	item, err := txn.Get(key(prefixEntry, seq))
	if err != nil {
		t.Fatal(err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func flipAt(t *testing.T, seq uint64, off func(v []byte) int) func(*badger.Txn) error {
	return func(txn *badger.Txn) error {
		v := getValue(t, txn, seq)
		v[off(v)] ^= 0x01
		return txn.Set(key(prefixEntry, seq), v)
	}
}

func wantBadSeq(t *testing.T, err error, seq uint64, problem string) {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) || !errors.Is(err, ErrTampered) {
		t.Fatalf("err = %v, want a *VerifyError", err)
	}
	if ve.Seq != seq || !strings.Contains(ve.Problem, problem) {
		t.Fatalf("err = %v, want seq %d and %q", err, seq, problem)
	}
}

func TestLog_VerifyDetectsTamperingInBadger(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		tamper  func(t *testing.T) func(*badger.Txn) error
		seq     uint64
		problem string
	}{
		{"event byte", func(t *testing.T) func(*badger.Txn) error {
			return flipAt(t, 7, func(v []byte) int { return len(v) - 3 })
		}, 7, "hash mismatch"},
		{"time byte", func(t *testing.T) func(*badger.Txn) error { return flipAt(t, 7, func([]byte) int { return 7 }) }, 7, "hash mismatch"},
		{"prev byte", func(t *testing.T) func(*badger.Txn) error { return flipAt(t, 7, func([]byte) int { return 8 }) }, 7, "hash mismatch"},
		{"hash byte", func(t *testing.T) func(*badger.Txn) error { return flipAt(t, 7, func([]byte) int { return 40 }) }, 7, "hash mismatch"},
		{"entry rewritten with a consistent hash", func(t *testing.T) func(*badger.Txn) error {
			return func(txn *badger.Txn) error {
				e, _ := decodeEntry(7, getValue(t, txn, 7))
				ev := []byte(`{"type":"forged"}`)
				h := ChainHash(7, e.Time.UnixNano(), e.Prev, ev)
				return txn.Set(key(prefixEntry, 7), encodeEntry(7, e.Time.UnixNano(), e.Prev, h, nil, ev))
			}
		}, 8, "bad prev link"}, // entry 7 is consistent in itself: entry 8 links to (and its Merkle nodes cover) the original
		{"deleted entry", func(t *testing.T) func(*badger.Txn) error {
			return func(txn *badger.Txn) error { return txn.Delete(key(prefixEntry, 7)) }
		}, 7, "entry missing"},
		{"two entries swapped", func(t *testing.T) func(*badger.Txn) error {
			return func(txn *badger.Txn) error {
				a, b := getValue(t, txn, 7), getValue(t, txn, 8)
				txn.Set(key(prefixEntry, 7), b)
				return txn.Set(key(prefixEntry, 8), a)
			}
		}, 7, "hash mismatch"},
		{"stored Merkle hash, level 1", func(t *testing.T) func(*badger.Txn) error {
			return flipAt(t, 8, func([]byte) int { return entryHeaderSize })
		}, 8, "Merkle hash mismatch (level 1"},
		{"stored Merkle hash, level 3", func(t *testing.T) func(*badger.Txn) error {
			return flipAt(t, 8, func([]byte) int { return entryHeaderSize + 2*32 + 31 })
		}, 8, "Merkle hash mismatch (level 3"},
		{"stored value cut inside its Merkle hashes", func(t *testing.T) func(*badger.Txn) error {
			return func(txn *badger.Txn) error {
				return txn.Set(key(prefixEntry, 8), getValue(t, txn, 8)[:entryHeaderSize+40])
			}
		}, 8, "shorter than its"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			l := openTest(t, dir, Options{})
			appendN(t, l, 1, 20)
			if _, err := l.Verify(context.Background(), 0, 0); err != nil {
				t.Fatalf("healthy ledger: %v", err)
			}
			l.Close()
			tamperDB(t, dir, tc.tamper(t))
			l2 := openTest(t, dir, Options{})
			_, err := l2.Verify(context.Background(), 0, 0)
			wantBadSeq(t, err, tc.seq, tc.problem)
		})
	}
}

func TestOpen_DetectsTruncatedTail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	appendN(t, l, 1, 20)
	l.Close()
	tamperDB(t, dir, func(txn *badger.Txn) error {
		for seq := uint64(18); seq <= 20; seq++ {
			txn.Delete(key(prefixEntry, seq))
		}
		return nil
	})
	// Close signed a checkpoint at 20: a log that ends at 17 is refused.
	_, err := Open(context.Background(), dir, Options{})
	if !errors.Is(err, ErrRollback) || !strings.Contains(err.Error(), "entries 18..20 are missing") {
		t.Fatalf("err = %v, want ErrRollback naming entries 18..20", err)
	}
}

// tamperLines applies fn to the export's lines.
func tamperLines(exp []byte, fn func(lines [][]byte) [][]byte) []byte {
	lines := bytes.SplitAfter(exp, []byte("\n"))
	lines = lines[:len(lines)-1] // empty after the last newline
	return bytes.Join(fn(lines), nil)
}

func editLine(i int, fn func(line []byte) []byte) func([][]byte) [][]byte {
	return func(lines [][]byte) [][]byte {
		lines[i] = fn(append([]byte(nil), lines[i]...))
		return lines
	}
}

func TestVerifyExport_DetectsTampering(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{})
	appendN(t, l, 1, 20)
	exp, cp := exportAll(t, l, 3, 20) // lines[i] holds seq i+3
	flip := func(field string, off int) func([]byte) []byte {
		return func(line []byte) []byte {
			line[bytes.Index(line, []byte(field))+len(field)+off] ^= 0x01 // '0'<->'1', 'a'<->'`'...
			return line
		}
	}
	cases := []struct {
		name    string
		edit    func([][]byte) [][]byte
		seq     uint64
		problem string
	}{
		{"event byte", editLine(4, flip(`"n":`, 0)), 7, "hash mismatch"},
		{"prev byte", editLine(4, func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"prev":"`)) + 8
			b[i] = "01"[map[bool]int{true: 1}[b[i] == '0']]
			return b
		}), 7, "hash mismatch"},
		{"hash byte", editLine(4, func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"hash":"`)) + 8
			b[i] = "01"[map[bool]int{true: 1}[b[i] == '0']]
			return b
		}), 7, "hash mismatch"},
		{"time", editLine(4, flip(`"time":"`, 3)), 7, "hash mismatch"},
		{"deleted line", func(ls [][]byte) [][]byte { return append(ls[:4], ls[5:]...) }, 7, "missing or out of order"},
		{"swapped lines", func(ls [][]byte) [][]byte { ls[4], ls[5] = ls[5], ls[4]; return ls }, 7, "missing or out of order"},
		{"truncated tail and trailer", func(ls [][]byte) [][]byte { return ls[:10] }, 13, "no trailer"},
		{"truncated tail, trailer kept", func(ls [][]byte) [][]byte { return append(ls[:10], ls[len(ls)-1]) }, 13, "trailer says"},
		{"cut mid-line", func(ls [][]byte) [][]byte { ls[9] = ls[9][:20]; return ls[:10] }, 12, "no newline"},
		{"prefix hash", editLine(18, flip(`"prefix":["`, 5)), 20, "Merkle root mismatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bad := tamperLines(append([]byte(nil), exp...), tc.edit)
			_, err := VerifyExport(context.Background(), bytes.NewReader(bad), cp, l.VerifierKey(), nil)
			wantBadSeq(t, err, tc.seq, tc.problem)
		})
	}
}

func TestVerifyExport_RejectsWrongKeyOrCheckpoint(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{})
	other := openTest(t, t.TempDir(), Options{})
	appendN(t, l, 1, 10)
	appendN(t, other, 1, 10)
	exp, cp := exportAll(t, l, 1, 10)
	ctx := context.Background()
	if _, err := VerifyExport(ctx, bytes.NewReader(exp), cp, other.VerifierKey(), nil); !errors.Is(err, ErrTampered) {
		t.Fatalf("wrong key: %v", err)
	}
	cp9, _ := l.CheckpointAt(ctx, 9)
	if _, err := VerifyExport(ctx, bytes.NewReader(exp), cp9, l.VerifierKey(), nil); err == nil {
		t.Fatal("checkpoint for another size accepted")
	}
	forged := bytes.Replace(cp, []byte("\n10\n"), []byte("\n11\n"), 1)
	if _, err := VerifyExport(ctx, bytes.NewReader(exp), forged, l.VerifierKey(), nil); !errors.Is(err, ErrTampered) {
		t.Fatalf("edited checkpoint: %v", err)
	}
}

func TestVerifyExport_SinceCheckpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	appendN(t, l, 1, 12)
	old, _ := l.Checkpoint(ctx)
	appendN(t, l, 13, 9)
	for _, from := range []uint64{1, 5, 13} {
		exp, cp := exportAll(t, l, from, 0)
		rep, err := VerifyExport(ctx, bytes.NewReader(exp), cp, l.VerifierKey(), old)
		if err != nil || rep.Since == nil || rep.Since.Size != 12 {
			t.Fatalf("from %d: %v %+v", from, err, rep)
		}
	}
	exp, cp := exportAll(t, l, 14, 0)
	if _, err := VerifyExport(ctx, bytes.NewReader(exp), cp, l.VerifierKey(), old); err == nil {
		t.Fatal("an export that cannot prove the old size passed")
	}
	// A different history signed by the same key is inconsistent.
	forkDir := t.TempDir()
	key, err := os.ReadFile(filepath.Join(dir, privateKeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(forkDir, privateKeyFileName), key, 0o600)
	fork := openTest(t, forkDir, Options{})
	appendN(t, fork, 100, 21)
	exp, cp = exportAll(t, fork, 1, 0)
	_, err = VerifyExport(ctx, bytes.NewReader(exp), cp, l.VerifierKey(), old)
	wantBadSeq(t, err, 12, "inconsistent with the older checkpoint")
}
