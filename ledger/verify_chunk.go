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

// verifyChunks checks chunks on every core, fed by one reader
// (feedChunks). Each chunk is independent: it reads the stored hash of
// the entry before it as the prev it expects and the stored Merkle hashes
// left of it as its prefix, both of which an earlier chunk (or the range's
// caller) vouches for. So the first failure of the whole range is the
// first failure of the first failing chunk; chunks after a failed one are
// skipped.
func (l *Log) verifyChunks(ctx context.Context, chunks []verifyChunk) []chunkResult {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := min(runtime.GOMAXPROCS(0), len(chunks))
	res := make([]chunkResult, len(chunks))
	feeds := make([]chan *valueBatch, len(chunks))
	for i := range feeds {
		feeds[i] = make(chan *valueBatch, feedBatches)
	}
	free := make(chan *valueBatch, (workers+1)*(feedBatches+1))
	var next atomic.Int64
	var failed atomic.Int64
	failed.Store(math.MaxInt64)
	fed := make(chan error, 1)
	go func() { fed <- l.feedChunks(ctx, chunks, feeds, free, &failed, workers+1) }()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			h := newChainHasher()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(chunks)) || i > failed.Load() {
					return
				}
				res[i] = l.checkChunk(ctx, h, chunks[i], feeds[i], free)
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
	cancel() // the feeder may be waiting to feed a chunk after a failed one
	<-fed    // it ends early only when ctx does: the workers saw that too
	return res
}

// checkChunk recomputes the chain hashes, links, stored Merkle hashes and
// checkpoint roots of one chunk, in seq order, from the values fed to it.
func (l *Log) checkChunk(ctx context.Context, h *chainHasher, c verifyChunk, feed <-chan *valueBatch, free chan<- *valueBatch) chunkResult {
	var res chunkResult
	var prev [32]byte
	var w *treeWalker
	res.err = l.db.View(func(txn *badger.Txn) error {
		var err error
		if prev, err = l.prevOf(txn, c.lo); err != nil {
			return err
		}
		w, err = newTreeWalker(txn, c.lo)
		return err
	})
	if res.err != nil {
		return res
	}
	cps := c.cps
	check := func(seq uint64, v []byte) error {
		n := headerLen(seq)
		if len(v) < n {
			return &VerifyError{Seq: seq, Problem: fmt.Sprintf("entry %d: stored value of %d bytes is shorter than its %d-byte header", seq, len(v), n)}
		}
		hash := [32]byte(v[40:72])
		if h.hash(seq, int64(binary.BigEndian.Uint64(v)), v[8:40], v[n:]) != hash {
			return &VerifyError{Seq: seq, Problem: "hash mismatch: the stored entry does not hash to its stored hash"}
		}
		if string(v[8:40]) != string(prev[:]) {
			return &VerifyError{Seq: seq, Problem: "bad prev link: prev is not the hash of the previous entry"}
		}
		if err := w.leaf(seq, hash, v); err != nil {
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
		res.bytes += int64(len(v) - n)
		return nil
	}
	for {
		var b *valueBatch
		var ok bool
		select {
		case b, ok = <-feed:
		case <-ctx.Done():
			res.err = ctx.Err()
			return res
		}
		if !ok {
			return res
		}
		start := 0
		for i, end := range b.ends {
			if res.err = check(b.first+uint64(i), b.buf[start:end]); res.err != nil {
				break
			}
			start = end
		}
		if res.err == nil {
			res.err = b.err
		}
		select {
		case free <- b:
		default:
		}
		if res.err != nil {
			return res
		}
	}
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
// node an entry completes with the hash that entry's value stores.
type treeWalker struct {
	cr compactRange
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
	return w, nil
}

// leaf adds entry seq's leaf, whose chain hash is chain, and checks every
// node it completes against the hashes its stored value v holds.
func (w *treeWalker) leaf(seq uint64, chain [32]byte, v []byte) error {
	nodes := append(w.cr.nodes, node{level: 0, index: w.cr.n, hash: leafHash(chain)})
	w.cr.n++
	for len(nodes) >= 2 {
		a, b := &nodes[len(nodes)-2], &nodes[len(nodes)-1]
		if a.level != b.level || a.index&1 != 0 || b.index != a.index+1 {
			break
		}
		*a = node{level: a.level + 1, index: a.index >> 1, hash: nodeHash(a.hash, b.hash)}
		nodes = nodes[:len(nodes)-1]
		if storedNode(v, a.level) != a.hash {
			w.cr.nodes = nodes
			first := uint64(a.index<<a.level) + 1
			return &VerifyError{Seq: seq, Problem: fmt.Sprintf("stored Merkle hash mismatch (level %d, covering seq %d..%d)", a.level, first, first+1<<a.level-1)}
		}
	}
	w.cr.nodes = nodes
	return nil
}
