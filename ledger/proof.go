package ledger

import (
	"context"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"
)

// ProveInclusion returns the RFC 6962 audit path proving that entry seq is
// leaf seq-1 of the tree of the given size (≤ head). The leaf hash is
// SHA-256(0x00 || the entry's chain hash).
func (l *Log) ProveInclusion(ctx context.Context, seq, size uint64) (tlog.RecordProof, error) {
	if seq == 0 || seq > size || size > l.Head().Size {
		return nil, fmt.Errorf("prove seq %d in size %d: %w (head is %d)", seq, size, ErrNotFound, l.Head().Size)
	}
	var p tlog.RecordProof
	err := l.view(ctx, func(r tlog.HashReader) (err error) {
		p, err = tlog.ProveRecord(int64(size), int64(seq-1), r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("prove seq %d in size %d: %w", seq, size, err)
	}
	return p, nil
}

// ProveConsistency returns the RFC 6962 consistency proof that the tree
// of size oldSize is a prefix of the tree of size newSize (≤ head).
func (l *Log) ProveConsistency(ctx context.Context, oldSize, newSize uint64) (tlog.TreeProof, error) {
	if oldSize == 0 || oldSize > newSize || newSize > l.Head().Size {
		return nil, fmt.Errorf("prove consistency %d..%d: %w (head is %d)", oldSize, newSize, ErrNotFound, l.Head().Size)
	}
	var p tlog.TreeProof
	err := l.view(ctx, func(r tlog.HashReader) (err error) {
		p, err = tlog.ProveTree(int64(newSize), int64(oldSize), r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("prove consistency %d..%d: %w", oldSize, newSize, err)
	}
	return p, nil
}

// RootAt returns the Merkle root of the first size entries (≤ head).
func (l *Log) RootAt(ctx context.Context, size uint64) (tlog.Hash, error) {
	if size > l.Head().Size {
		return tlog.Hash{}, fmt.Errorf("root at %d: %w (head is %d)", size, ErrNotFound, l.Head().Size)
	}
	var h tlog.Hash
	err := l.view(ctx, func(r tlog.HashReader) (err error) {
		h, err = tlog.TreeHash(int64(size), r)
		return err
	})
	return h, err
}

func (l *Log) view(ctx context.Context, fn func(tlog.HashReader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.db.View(func(txn *badger.Txn) error { return fn(txnHashReader{txn: txn}) })
}

// CheckInclusion verifies an inclusion proof of the entry with chain hash
// chain at seq in the tree of size with root.
func CheckInclusion(p tlog.RecordProof, size uint64, root tlog.Hash, seq uint64, chain [32]byte) error {
	if seq == 0 {
		return fmt.Errorf("%w: seq 0", ErrTampered)
	}
	if err := tlog.CheckRecord(p, int64(size), root, int64(seq-1), tlog.RecordHash(chain[:])); err != nil {
		return fmt.Errorf("%w: inclusion of seq %d in size %d: %v", ErrTampered, seq, size, err)
	}
	return nil
}

// CheckConsistency verifies that the tree (oldSize, oldRoot) is a prefix
// of (newSize, newRoot).
func CheckConsistency(p tlog.TreeProof, newSize uint64, newRoot tlog.Hash, oldSize uint64, oldRoot tlog.Hash) error {
	if err := tlog.CheckTree(p, int64(newSize), newRoot, int64(oldSize), oldRoot); err != nil {
		return fmt.Errorf("%w: consistency %d..%d: %v", ErrTampered, oldSize, newSize, err)
	}
	return nil
}
