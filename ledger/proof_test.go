package ledger

import (
	"context"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"
)

// independentRoot computes the root of the first n leaves with
// transparency-dev/merkle's compact ranges, not with tlog.
func independentRoot(t *testing.T, leaves [][32]byte, n int) []byte {
	t.Helper()
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := rf.NewEmptyRange(0)
	for _, c := range leaves[:n] {
		if err := r.Append(rfc6962.DefaultHasher.HashLeaf(c[:]), nil); err != nil {
			t.Fatal(err)
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func toBytes[H ~[32]byte](p []H) [][]byte {
	out := make([][]byte, len(p))
	for i := range p {
		out[i] = append([]byte(nil), p[i][:]...)
	}
	return out
}

func TestLog_ProofsAgreeWithTransparencyDev(t *testing.T) {
	t.Parallel()
	l := openTest(t, t.TempDir(), Options{})
	ctx := context.Background()
	const n = 67
	var chains [][32]byte
	for i := 1; i <= n; i++ {
		r, err := l.Append(ctx, testEvent(i))
		if err != nil {
			t.Fatal(err)
		}
		chains = append(chains, r.Hash)
	}
	h := rfc6962.DefaultHasher
	for _, size := range []uint64{1, 2, 3, 7, 8, 31, 32, 33, 64, 67} {
		root, err := l.RootAt(ctx, size)
		if err != nil {
			t.Fatal(err)
		}
		if want := independentRoot(t, chains, int(size)); string(want) != string(root[:]) {
			t.Fatalf("root at %d differs from transparency-dev", size)
		}
		for _, seq := range []uint64{1, size / 2, size} {
			if seq == 0 {
				continue
			}
			p, err := l.ProveInclusion(ctx, seq, size)
			if err != nil {
				t.Fatal(err)
			}
			c := chains[seq-1]
			if err := proof.VerifyInclusion(h, seq-1, size, h.HashLeaf(c[:]), toBytes(p), root[:]); err != nil {
				t.Fatalf("inclusion %d in %d: %v", seq, size, err)
			}
			if err := CheckInclusion(p, size, root, seq, c); err != nil {
				t.Fatal(err)
			}
			if seq > 1 && CheckInclusion(p, size, root, seq-1, c) == nil {
				t.Fatalf("proof for seq %d accepted for seq %d", seq, seq-1)
			}
		}
		for _, old := range []uint64{1, size / 3, size - 1} {
			if old == 0 {
				continue
			}
			oldRoot, _ := l.RootAt(ctx, old)
			p, err := l.ProveConsistency(ctx, old, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyConsistency(h, old, size, toBytes(p), oldRoot[:], root[:]); err != nil {
				t.Fatalf("consistency %d..%d: %v", old, size, err)
			}
			if err := CheckConsistency(p, size, root, old, oldRoot); err != nil {
				t.Fatal(err)
			}
			bad := oldRoot
			bad[0] ^= 1
			if old != size && CheckConsistency(p, size, root, old, bad) == nil {
				t.Fatalf("consistency %d..%d accepted a wrong old root", old, size)
			}
		}
	}
}

func TestCompactRange_MatchesTlog(t *testing.T) {
	t.Parallel()
	var leaves [][32]byte
	stored := map[int64]tlog.Hash{}
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	var cr compactRange
	for i := int64(0); i < 300; i++ {
		leaf := ChainHash(uint64(i+1), i, [32]byte{}, []byte("{}"))
		leaves = append(leaves, leaf)
		hs, err := tlog.StoredHashes(i, leaf[:], r)
		if err != nil {
			t.Fatal(err)
		}
		var visited []tlog.Hash
		cr.push(tlog.RecordHash(leaf[:]), func(nd node) error { visited = append(visited, nd.hash); return nil })
		for j, h := range hs {
			stored[tlog.StoredHashIndex(0, i)+int64(j)] = h
			if visited[j] != h {
				t.Fatalf("leaf %d: visit order differs from tlog's stored order", i)
			}
		}
		want, _ := tlog.TreeHash(i+1, r)
		if cr.root() != want {
			t.Fatalf("root at %d differs", i+1)
		}
		// A range starting after a prefix joins to the same root.
		for _, p := range []int64{0, 1, i / 2, i} {
			nodes := prefixNodes(p)
			for k := range nodes {
				h, _ := r.ReadHashes([]int64{tlog.StoredHashIndex(nodes[k].level, nodes[k].index)})
				nodes[k].hash = h[0]
			}
			rest := compactRange{n: p}
			for k := p; k <= i; k++ {
				rest.push(tlog.RecordHash(leaves[k][:]), nil)
			}
			if joinRoot(nodes, rest.nodes) != want {
				t.Fatalf("prefix %d + range to %d: root differs", p, i+1)
			}
		}
	}
}
