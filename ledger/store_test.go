package ledger

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"
)

// mapHashes is a tlog.HashReader over a map, filled by tlog itself.
type mapHashes map[int64]tlog.Hash

func (m mapHashes) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		h, ok := m[x]
		if !ok {
			return nil, errors.New("missing")
		}
		out[i] = h
	}
	return out, nil
}

// The Merkle hashes kept inside entry values must read back, index by
// index, as exactly the hashes tlog computes and would store itself.
func TestStore_MerkleHashesMatchTlog(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{})
	const n = 70 // crosses levels 1..6
	appendN(t, l, 1, n)
	want := mapHashes{}
	err := l.db.View(func(txn *badger.Txn) error {
		for seq := uint64(1); seq <= n; seq++ {
			e, err := entryAt(txn, seq)
			if err != nil {
				return err
			}
			hs, err := tlog.StoredHashes(int64(seq-1), e.Hash[:], want)
			if err != nil {
				return err
			}
			if len(hs) != 1+nodeCount(seq) {
				t.Errorf("entry %d: tlog stores %d hashes, the entry holds %d nodes", seq, len(hs), nodeCount(seq))
			}
			for j, h := range hs {
				want[tlog.StoredHashIndex(0, int64(seq-1))+int64(j)] = h
			}
		}
		for idx := range tlog.StoredHashCount(n) {
			got, err := txnHashReader{txn: txn}.ReadHashes([]int64{idx})
			if err != nil {
				return err
			}
			if got[0] != want[idx] {
				level, i := tlog.SplitStoredHashIndex(idx)
				t.Errorf("stored hash %d (level %d, index %d) differs from tlog's", idx, level, i)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	root, err := tlog.TreeHash(n, want)
	if err != nil {
		t.Fatal(err)
	}
	if h := l.Head(); h.Root != root {
		t.Fatalf("head root %x, tlog computes %x", h.Root, root)
	}
}

func TestEncodeEntry_RoundTrip(t *testing.T) {
	t.Parallel()
	for _, seq := range []uint64{1, 2, 3, 8, 12, 1 << 20} {
		nodes := make([]tlog.Hash, nodeCount(seq))
		for i := range nodes {
			nodes[i][0] = byte(i + 1)
		}
		ev := []byte(`{"a":1}`)
		v := encodeEntry(seq, 42, [32]byte{1}, [32]byte{2}, nodes, ev)
		e, err := decodeEntry(seq, v)
		if err != nil {
			t.Fatal(err)
		}
		if string(e.Event) != string(ev) || e.Prev != ([32]byte{1}) || e.Hash != ([32]byte{2}) || e.Time.UnixNano() != 42 {
			t.Fatalf("seq %d: decoded %+v", seq, e)
		}
		for i := range nodes {
			if storedNode(v, i+1) != nodes[i] {
				t.Fatalf("seq %d: node %d differs", seq, i+1)
			}
		}
		if _, err := decodeEntry(seq, v[:headerLen(seq)-1]); err == nil {
			t.Fatalf("seq %d: a value cut inside its header decoded", seq)
		}
	}
}

func TestOpen_RefusesOtherStoreFormats(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		tamper func(*badger.Txn) error
		want   string
	}{
		{"first format: no mark, hash keys", func(txn *badger.Txn) error {
			if err := txn.Delete(formatKey); err != nil {
				return err
			}
			return txn.Set(key('h', 0), make([]byte, 32))
		}, "no format mark"},
		{"another format", func(txn *badger.Txn) error {
			return txn.Set(formatKey, []byte("botwarden-ledger-store-9"))
		}, `"botwarden-ledger-store-9"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			l := openTest(t, dir, Options{})
			appendN(t, l, 1, 3)
			l.Close()
			tamperDB(t, dir, tc.tamper)
			_, err := Open(context.Background(), dir, Options{})
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrFormat saying %s", err, tc.want)
			}
		})
	}
}

func TestOpen_MarksNewStoreFormat(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{})
	err := l.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(formatKey)
		if err != nil {
			return err
		}
		v, err := item.ValueCopy(nil)
		if string(v) != string(formatValue) {
			t.Errorf("format mark %q, want %q", v, formatValue)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
