package ledger

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"
)

// verifyChunkLeaves is how many entries one verify task covers (tests
// use smaller chunks through Log.chunkLeaves). Chunks
// are aligned Merkle subtrees (leaf index multiples of it), so every
// stored hash of a chunk's leaves, up to the chunk's own root, is
// recomputed from that chunk's entries alone; the few hashes above it
// join the chunk's root with stored hashes that earlier chunks check.
const verifyChunkLeaves = 1 << 14

// verifyChunk is one task: entries lo..hi and the stored checkpoints
// whose size falls in it (signatures not yet checked).
type verifyChunk struct {
	lo, hi uint64
	cps    []rawCheckpoint
}

type rawCheckpoint struct {
	size uint64
	note []byte
}

type chunkResult struct {
	entries uint64
	bytes   int64
	err     error
}

// splitChunks cuts from..to at leaf indexes that are multiples of
// leaves (a power of two) and hands each chunk its checkpoints.
func splitChunks(from, to, leaves uint64, cps []rawCheckpoint) []verifyChunk {
	var out []verifyChunk
	for lo := from; lo <= to; {
		hi := min(to, (lo-1)/leaves*leaves+leaves)
		c := verifyChunk{lo: lo, hi: hi}
		for len(cps) > 0 && cps[0].size <= hi {
			c.cps = append(c.cps, cps[0])
			cps = cps[1:]
		}
		out = append(out, c)
		lo = hi + 1
	}
	return out
}

// verifyChunks checks chunks on every core. Each chunk is independent:
// it reads the stored hash of the entry before it as the prev it expects
// and the stored Merkle hashes left of it as its prefix, both of which an
// earlier chunk (or the range's caller) vouches for. So the first failure
// of the whole range is the first failure of the first failing chunk;
// chunks after a failed one are skipped.
func (l *Log) verifyChunks(ctx context.Context, chunks []verifyChunk) []chunkResult {
	res := make([]chunkResult, len(chunks))
	var next atomic.Int64
	var failed atomic.Int64
	failed.Store(math.MaxInt64)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(chunks)) {
		wg.Go(func() {
			h := newChainHasher()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(chunks)) || i > failed.Load() {
					return
				}
				res[i] = l.checkChunk(ctx, h, chunks[i])
				for res[i].err != nil {
					f := failed.Load()
					if i >= f || failed.CompareAndSwap(f, i) {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	return res
}

// checkChunk recomputes the chain hashes, links, stored Merkle hashes and
// checkpoint roots of one chunk, in seq order, in one read transaction.
func (l *Log) checkChunk(ctx context.Context, h *chainHasher, c verifyChunk) chunkResult {
	var res chunkResult
	res.err = l.db.View(func(txn *badger.Txn) error {
		prev, err := l.prevOf(txn, c.lo)
		if err != nil {
			return err
		}
		w, err := newTreeWalker(txn, c.lo)
		if err != nil {
			return err
		}
		defer w.close()
		cps := c.cps
		return l.scanValues(ctx, txn, c.lo, c.hi, false, func(seq uint64, v []byte) error {
			if len(v) < entryHeaderSize {
				return &VerifyError{Seq: seq, Problem: fmt.Sprintf("entry %d: stored value of %d bytes is too short", seq, len(v))}
			}
			var hash [32]byte
			copy(hash[:], v[40:72])
			if h.hash(seq, int64(binary.BigEndian.Uint64(v)), v[8:40], v[entryHeaderSize:]) != hash {
				return &VerifyError{Seq: seq, Problem: "hash mismatch: the stored entry does not hash to its stored hash"}
			}
			if string(v[8:40]) != string(prev[:]) {
				return &VerifyError{Seq: seq, Problem: "bad prev link: prev is not the hash of the previous entry"}
			}
			if err := w.leaf(seq, hash); err != nil {
				return err
			}
			for len(cps) > 0 && cps[0].size == seq {
				if err := l.checkRoot(cps[0], w.cr.root()); err != nil {
					return err
				}
				cps = cps[1:]
			}
			prev = hash
			res.entries++
			res.bytes += int64(len(v) - entryHeaderSize)
			return nil
		})
	})
	return res
}

// checkRoot checks a stored checkpoint's signature and that it signs root.
func (l *Log) checkRoot(raw rawCheckpoint, root tlog.Hash) error {
	cp, err := l.parseSigned(raw.note)
	if err != nil {
		return &VerifyError{Seq: raw.size, Problem: fmt.Sprintf("stored checkpoint at size %d: %v", raw.size, err)}
	}
	if cp.Size != raw.size {
		return &VerifyError{Seq: raw.size, Problem: fmt.Sprintf("checkpoint stored under size %d signs size %d", raw.size, cp.Size)}
	}
	if root != cp.Root {
		return &VerifyError{Seq: raw.size, Problem: fmt.Sprintf("Merkle root mismatch: computed %s, checkpoint at size %d signed %s", hex.EncodeToString(root[:]), raw.size, hex.EncodeToString(cp.Root[:]))}
	}
	return nil
}

// treeWalker recomputes the Merkle tree from the leaves and compares every
// node with the stored hash, reading stored hashes in index order.
type treeWalker struct {
	cr compactRange
	it *badger.Iterator
}

// newTreeWalker starts at entry from: the complete subtrees before it are
// read from the store (they are checked by whoever checks those entries).
func newTreeWalker(txn *badger.Txn, from uint64) (*treeWalker, error) {
	w := &treeWalker{cr: compactRange{n: int64(from - 1)}}
	prefix := prefixNodes(int64(from - 1))
	idx := make([]int64, len(prefix))
	for i, nd := range prefix {
		idx[i] = tlog.StoredHashIndex(nd.level, nd.index)
	}
	hashes, err := txnHashReader{txn: txn}.ReadHashes(idx)
	if err != nil {
		return nil, &VerifyError{Seq: from, Problem: fmt.Sprintf("Merkle hashes before this entry: %v", err)}
	}
	for i := range prefix {
		prefix[i].hash = hashes[i]
	}
	w.cr.nodes = append(make([]node, 0, 64), prefix...)
	w.it = txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixHash}})
	w.it.Seek(key(prefixHash, uint64(tlog.StoredHashIndex(0, int64(from-1)))))
	return w, nil
}

func (w *treeWalker) close() { w.it.Close() }

// leaf adds entry seq's leaf and checks it and every node it completes
// against the next stored hashes (tlog stores them in exactly this order).
func (w *treeWalker) leaf(seq uint64, chain [32]byte) error {
	nd := node{level: 0, index: w.cr.n, hash: leafHash(chain)}
	w.cr.n++
	if err := w.check(seq, &nd); err != nil {
		return err
	}
	nodes := append(w.cr.nodes, nd)
	for len(nodes) >= 2 {
		a, b := &nodes[len(nodes)-2], &nodes[len(nodes)-1]
		if a.level != b.level || a.index&1 != 0 || b.index != a.index+1 {
			break
		}
		*a = node{level: a.level + 1, index: a.index >> 1, hash: nodeHash(a.hash, b.hash)}
		nodes = nodes[:len(nodes)-1]
		if err := w.check(seq, a); err != nil {
			w.cr.nodes = nodes
			return err
		}
	}
	w.cr.nodes = nodes
	return nil
}

func (w *treeWalker) check(seq uint64, nd *node) error {
	idx := uint64(tlog.StoredHashIndex(nd.level, nd.index))
	if !w.it.Valid() || keyNum(w.it.Item().Key()) != idx {
		return &VerifyError{Seq: seq, Problem: fmt.Sprintf("stored Merkle hash %d (level %d) missing", idx, nd.level)}
	}
	ok := false
	if err := w.it.Item().Value(func(v []byte) error {
		ok = string(v) == string(nd.hash[:])
		return nil
	}); err != nil {
		return fmt.Errorf("read Merkle hash %d: %w", idx, err)
	}
	if !ok {
		first := uint64(nd.index<<nd.level) + 1
		return &VerifyError{Seq: seq, Problem: fmt.Sprintf("stored Merkle hash mismatch (level %d, covering seq %d..%d)", nd.level, first, first+1<<nd.level-1)}
	}
	w.it.Next()
	return nil
}
