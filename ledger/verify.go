package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
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
	// Map the tables in bulk rather than a fault per page; releasing pages
	// while both cores walk would make them fault again under each other
	// (and cost TLB shootdowns): once, at the end.
	l.populateTablePages(from, to)
	defer l.releaseTablePages()
	for _, r := range l.verifyChunks(ctx, splitChunks(from, to, l.chunkLeaves, cps)) {
		if r.err != nil {
			err = r.err
			break
		}
		rep.Entries += r.entries
		rep.Bytes += r.bytes
	}
	if err == nil {
		err = ctx.Err()
	}
	rep.Duration = time.Since(start)
	return rep, err
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

// checkpointsIn returns the stored checkpoints with from ≤ size ≤ to;
// their signatures are checked by the chunk that reaches their size.
func (l *Log) checkpointsIn(ctx context.Context, from, to uint64) ([]rawCheckpoint, error) {
	var out []rawCheckpoint
	err := l.Checkpoints(ctx, from, func(size uint64, b []byte) error {
		if size <= to {
			out = append(out, rawCheckpoint{size: size, note: b})
		}
		return nil
	})
	return out, err
}
