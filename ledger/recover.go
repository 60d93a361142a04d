package ledger

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"
)

// recover rebuilds the head from what is on disk and checks it against the
// latest signed checkpoint. Each entry's value holds its Merkle hashes and
// Badger commits each group of entries atomically, so the last stored entry
// is the last complete one; nothing needs repair, only checking.
func (l *Log) recover(ctx context.Context) error {
	return l.db.View(func(txn *badger.Txn) error {
		size, last, err := lastEntry(txn)
		if err != nil {
			return err
		}
		root, err := tlog.TreeHash(int64(size), txnHashReader{txn: txn})
		if err != nil {
			return fmt.Errorf("merkle root at size %d: %w", size, err)
		}
		l.head = Head{Size: size, Root: root}
		if size > 0 {
			l.head.Hash, l.head.Time = last.Hash, last.Time
		}
		if l.tree, err = treeAt(txn, size); err != nil {
			return fmt.Errorf("merkle edge at size %d: %w", size, err)
		}
		l.tail = l.head
		cps, err := l.loadLatestCheckpoints(txn)
		if err != nil {
			return err
		}
		for _, cp := range cps {
			if err := l.checkAgainst(txn, cp); err != nil {
				return err
			}
			if cp.Size > l.latestSize() {
				l.latestCP.Store(cp)
			}
		}
		return nil
	})
}

// checkFormat refuses a database written in another store format and
// marks a new (empty) one with this format.
func (l *Log) checkFormat() error {
	var found []byte
	var used bool
	err := l.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(formatKey)
		if err == nil {
			found, err = item.ValueCopy(nil)
			return err
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		it.Rewind()
		used = it.Valid()
		return nil
	})
	switch {
	case err != nil:
		return fmt.Errorf("read store format: %w", err)
	case found != nil && string(found) != string(formatValue):
		return fmt.Errorf("%w: the database is in format %q, this version reads %q", ErrFormat, found, formatValue)
	case found != nil:
		return nil
	case used:
		return fmt.Errorf("%w: the database has no format mark: it was written by a development version that kept Merkle hashes under their own keys; export it with that version (botwarden ledger export) and start a new data folder", ErrFormat)
	}
	// Synced now: Badger's writes are not, and a mark lost to a power cut
	// behind entries that survived would refuse a healthy folder.
	if err := l.db.Update(func(txn *badger.Txn) error { return txn.Set(formatKey, formatValue) }); err != nil {
		return fmt.Errorf("%w: mark store format: %w", ErrUnavailable, err)
	}
	if err := l.syncStore(); err != nil {
		return fmt.Errorf("%w: mark store format: %w", ErrUnavailable, err)
	}
	return nil
}

// lastEntry finds the highest stored seq. Its value is copied.
func lastEntry(txn *badger.Txn) (uint64, Entry, error) {
	it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: []byte{prefixEntry}})
	defer it.Close()
	it.Seek(key(prefixEntry, math.MaxUint64))
	if !it.Valid() {
		return 0, Entry{}, nil
	}
	seq := keyNum(it.Item().Key())
	v, err := it.Item().ValueCopy(nil)
	if err != nil {
		return 0, Entry{}, fmt.Errorf("read entry %d: %w", seq, err)
	}
	e, err := decodeEntry(seq, v)
	return seq, e, err
}

// loadLatestCheckpoints returns the latest checkpoint stored in Badger and
// the one in the checkpoint file beside it (which survives a restore or
// swap of the database), after checking their signatures.
func (l *Log) loadLatestCheckpoints(txn *badger.Txn) ([]*signedCheckpoint, error) {
	var out []*signedCheckpoint
	var best *signedCheckpoint
	it := txn.NewIterator(badger.IteratorOptions{Reverse: true, Prefix: []byte{prefixCheckpoint}, PrefetchValues: false})
	it.Seek(key(prefixCheckpoint, math.MaxUint64))
	if it.Valid() {
		v, err := it.Item().ValueCopy(nil)
		if err == nil {
			best, err = l.parseSigned(v)
		}
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("stored checkpoint %d: %w", keyNum(it.Item().Key()), err)
		}
		out = append(out, best)
	}
	it.Close()
	path := filepath.Join(l.dir, checkpointFileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	} else if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	fc, err := l.parseSigned(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return append(out, fc), nil
}

func (l *Log) parseSigned(b []byte) (*signedCheckpoint, error) {
	c, err := openCheckpoint(b, l.keys.history)
	if err != nil {
		return nil, err
	}
	return &signedCheckpoint{Checkpoint: c, note: b}, nil
}

// checkAgainst refuses a log that does not extend checkpoint cp.
func (l *Log) checkAgainst(txn *badger.Txn, cp *signedCheckpoint) error {
	if cp.Size > l.head.Size {
		return fmt.Errorf("%w: the log holds %d entries but this ledger already signed a checkpoint at size %d (root %s): entries %d..%d are missing, e.g. an older backup was restored; see docs/ledger.md \"Recovery\"",
			ErrRollback, l.head.Size, cp.Size, hex.EncodeToString(cp.Root[:]), l.head.Size+1, cp.Size)
	}
	root, err := tlog.TreeHash(int64(cp.Size), txnHashReader{txn: txn})
	if err != nil {
		return fmt.Errorf("merkle root at size %d: %w", cp.Size, err)
	}
	if root != cp.Root {
		return fmt.Errorf("%w: the log's Merkle root at size %d is %s but this ledger signed %s: the stored history differs from the signed one (swapped or altered folder); see docs/ledger.md \"Recovery\"",
			ErrRollback, cp.Size, hex.EncodeToString(root[:]), hex.EncodeToString(cp.Root[:]))
	}
	return nil
}

// txnHashReader reads stored Merkle hashes (tlog.HashReader), first from
// pending (hashes of entries written earlier in the same transaction),
// then from the transaction: a leaf's hash from its entry's chain hash, a
// node's from the value of the entry that completed it (encodeEntry).
type txnHashReader struct {
	txn     *badger.Txn
	pending map[int64]tlog.Hash
}

// ReadHashes implements tlog.HashReader.
func (r txnHashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		if h, ok := r.pending[idx]; ok {
			out[i] = h
			continue
		}
		level, n := tlog.SplitStoredHashIndex(idx)
		seq := uint64(n+1) << level // the entry whose leaf completes the node
		item, err := r.txn.Get(key(prefixEntry, seq))
		if err != nil {
			return nil, fmt.Errorf("merkle hash %d (level %d): entry %d: %w", idx, level, seq, err)
		}
		if err := item.Value(func(v []byte) error {
			if len(v) < headerLen(seq) {
				return fmt.Errorf("merkle hash %d: entry %d: stored value of %d bytes is shorter than its %d-byte header", idx, seq, len(v), headerLen(seq))
			}
			if level == 0 {
				out[i] = leafHash([32]byte(v[40:72]))
			} else {
				out[i] = storedNode(v, level)
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}
