package ledger

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"
)

// VerifyReport describes a verified range of the stored log.
type VerifyReport struct {
	From, To    uint64
	Entries     uint64
	Bytes       int64 // event bytes hashed
	Checkpoints int   // signed checkpoints in the range checked
	Duration    time.Duration
}

// Verify re-checks entries from..to (0, 0: the whole log) against what
// they claim and against each other: each chain hash is recomputed, each
// prev must be the previous entry's hash, no seq may be missing, every
// stored Merkle hash must equal the one recomputed from the entries, and
// the Merkle root at every signed checkpoint in the range must match its
// (valid) signature. The first failure is a *VerifyError naming the seq.
func (l *Log) Verify(ctx context.Context, from, to uint64) (VerifyReport, error) {
	start := time.Now()
	head := l.Head()
	if from == 0 {
		from = 1
	}
	if to == 0 {
		to = head.Size
	}
	rep := VerifyReport{From: from, To: to}
	if to > head.Size || from > to {
		if head.Size == 0 && to == 0 {
			return rep, nil
		}
		return rep, fmt.Errorf("verify %d..%d: %w (the log holds 1..%d)", from, to, ErrNotFound, head.Size)
	}
	cps, err := l.checkpointsIn(ctx, from, to)
	if err != nil {
		return rep, err
	}
	rep.Checkpoints = len(cps)
	err = l.db.View(func(txn *badger.Txn) error {
		w, err := newTreeWalker(txn, from)
		if err != nil {
			return err
		}
		defer w.close()
		return l.walk(ctx, txn, from, to, w, cps, &rep)
	})
	rep.Duration = time.Since(start)
	return rep, err
}

// walk checks the entries in order. Chain hashes are recomputed in
// parallel (each entry stores its prev); links, gaps and the Merkle tree
// are checked here, in order.
func (l *Log) walk(ctx context.Context, txn *badger.Txn, from, to uint64, w *treeWalker, cps []*signedCheckpoint, rep *VerifyReport) error {
	prev, err := l.prevOf(txn, from)
	if err != nil {
		return err
	}
	return verifyPipeline(ctx, l, from, to, func(e *checkedEntry) error {
		if e.Prev != prev {
			return &VerifyError{Seq: e.Seq, Problem: "bad prev link: prev is not the hash of the previous entry"}
		}
		if err := w.leaf(e.Seq, e.Hash); err != nil {
			return err
		}
		for len(cps) > 0 && cps[0].Size == e.Seq {
			if root := w.cr.root(); root != cps[0].Root {
				return &VerifyError{Seq: e.Seq, Problem: fmt.Sprintf("Merkle root mismatch: computed %s, checkpoint at size %d signed %s", hex.EncodeToString(root[:]), e.Seq, hex.EncodeToString(cps[0].Root[:]))}
			}
			cps = cps[1:]
		}
		prev = e.Hash
		rep.Entries++
		rep.Bytes += int64(e.size)
		return nil
	})
}

// prevOf returns the chain hash entry from must point back to.
func (l *Log) prevOf(txn *badger.Txn, from uint64) ([32]byte, error) {
	if from == 1 {
		return [32]byte{}, nil
	}
	item, err := txn.Get(key(prefixEntry, from-1))
	if err != nil {
		return [32]byte{}, &VerifyError{Seq: from - 1, Problem: fmt.Sprintf("entry missing: %v", err)}
	}
	var h [32]byte
	err = item.Value(func(v []byte) error {
		e, err := decodeEntry(from-1, v)
		h = e.Hash
		return err
	})
	return h, err
}

// checkpointsIn returns the stored checkpoints with from ≤ size ≤ to, with
// their signatures checked.
func (l *Log) checkpointsIn(ctx context.Context, from, to uint64) ([]*signedCheckpoint, error) {
	var out []*signedCheckpoint
	err := l.Checkpoints(ctx, from, func(size uint64, b []byte) error {
		if size > to {
			return nil
		}
		cp, err := l.parseSigned(b)
		if err != nil {
			return &VerifyError{Seq: size, Problem: fmt.Sprintf("stored checkpoint at size %d: %v", size, err)}
		}
		if cp.Size != size {
			return &VerifyError{Seq: size, Problem: fmt.Sprintf("checkpoint stored under size %d signs size %d", size, cp.Size)}
		}
		out = append(out, cp)
		return nil
	})
	return out, err
}

// treeWalker recomputes the Merkle tree from the leaves and compares every
// node with the stored hash, reading stored hashes in index order.
type treeWalker struct {
	cr   compactRange
	it   *badger.Iterator
	next int64 // stored index expected next
}

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
	w.cr.nodes = prefix
	w.next = tlog.StoredHashIndex(0, int64(from-1))
	w.it = txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixHash}, PrefetchValues: true, PrefetchSize: 512})
	w.it.Seek(key(prefixHash, uint64(w.next)))
	return w, nil
}

func (w *treeWalker) close() { w.it.Close() }

func (w *treeWalker) leaf(seq uint64, chain [32]byte) error {
	return w.cr.push(tlog.RecordHash(chain[:]), func(nd node) error {
		idx := tlog.StoredHashIndex(nd.level, nd.index)
		if !w.it.Valid() || keyNum(w.it.Item().Key()) != uint64(idx) {
			return &VerifyError{Seq: seq, Problem: fmt.Sprintf("stored Merkle hash %d (level %d) missing", idx, nd.level)}
		}
		var ok bool
		if err := w.it.Item().Value(func(v []byte) error {
			ok = string(v) == string(nd.hash[:])
			return nil
		}); err != nil {
			return err
		}
		if !ok {
			first := uint64(nd.index<<nd.level) + 1
			return &VerifyError{Seq: seq, Problem: fmt.Sprintf("stored Merkle hash mismatch (level %d, covering seq %d..%d)", nd.level, first, first+1<<nd.level-1)}
		}
		w.it.Next()
		return nil
	})
}
