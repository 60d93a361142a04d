package ledger

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint signs the current head now (or returns the existing
// checkpoint if the head is already signed) and returns the signed note.
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return l.cutCheckpoint(l.Head().Size)
}

// CheckpointAt returns a signed checkpoint for tree size size, which must
// be between 1 and the head: the stored one if it exists, else a new one
// (the root at any committed size is computable, so signing it is safe).
func (l *Log) CheckpointAt(ctx context.Context, size uint64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if size == 0 || size > l.Head().Size {
		return nil, fmt.Errorf("checkpoint at size %d: %w (head is %d)", size, ErrNotFound, l.Head().Size)
	}
	return l.cutCheckpoint(size)
}

// LatestCheckpoint returns the signed checkpoint with the largest size, or
// nil if none was signed yet.
func (l *Log) LatestCheckpoint() []byte {
	if cp := l.latestCP.Load(); cp != nil {
		return cp.note
	}
	return nil
}

// Checkpoints calls fn with every stored signed checkpoint whose size is
// at least from, in increasing size order.
func (l *Log) Checkpoints(ctx context.Context, from uint64, fn func(size uint64, note []byte) error) error {
	return l.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixCheckpoint}, PrefetchValues: false})
		defer it.Close()
		for it.Seek(key(prefixCheckpoint, from)); it.Valid(); it.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return fmt.Errorf("read checkpoint: %w", err)
			}
			if err := fn(keyNum(it.Item().Key()), v); err != nil {
				return err
			}
		}
		return nil
	})
}

func (l *Log) latestSize() uint64 {
	if cp := l.latestCP.Load(); cp != nil {
		return cp.Size
	}
	return 0
}

// cutCheckpoint signs size (≤ head, so already committed), stores the
// note durably (see storeNote) and, if it is the new latest, in the checkpoint
// file; then tells OnCheckpoint.
func (l *Log) cutCheckpoint(size uint64) ([]byte, error) {
	if size == 0 {
		return nil, fmt.Errorf("checkpoint: %w: the log is empty", ErrNotFound)
	}
	l.cpMu.Lock()
	signed, advanced, err := l.signAndStore(size)
	l.cpMu.Unlock()
	if err != nil {
		return nil, err
	}
	if advanced && l.opts.OnCheckpoint != nil {
		l.opts.OnCheckpoint(signed)
	}
	return signed, nil
}

func (l *Log) signAndStore(size uint64) ([]byte, bool, error) {
	var existing []byte
	var root tlog.Hash
	err := l.db.View(func(txn *badger.Txn) error {
		if item, err := txn.Get(key(prefixCheckpoint, size)); err == nil {
			existing, err = item.ValueCopy(nil)
			return err
		}
		var err error
		root, err = tlog.TreeHash(int64(size), txnHashReader{txn: txn})
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("checkpoint at size %d: %w", size, err)
	}
	if existing != nil {
		return existing, false, nil
	}
	c := Checkpoint{Origin: l.keys.signer.Name(), Size: size, Root: root}
	signed, err := note.Sign(&note.Note{Text: c.Body()}, l.keys.signer)
	if err != nil {
		return nil, false, fmt.Errorf("sign checkpoint at size %d: %w", size, err)
	}
	if err := l.storeNote(size, signed); err != nil {
		return nil, false, fmt.Errorf("store checkpoint at size %d: %w", size, err)
	}
	if size <= l.latestSize() {
		return signed, false, nil
	}
	if err := writeFileAtomic(filepath.Join(l.dir, checkpointFileName), signed, 0o644); err != nil {
		return nil, false, fmt.Errorf("%w: write checkpoint file: %w", ErrUnavailable, err)
	}
	l.latestCP.Store(&signedCheckpoint{Checkpoint: c, note: signed})
	l.opts.Logger.Debug().Uint64("size", size).Msg("ledger checkpoint signed")
	return signed, true, nil
}

// checkpointLoop cuts a checkpoint every CheckpointInterval if the log
// grew, and whenever the sequencer reports CheckpointEvery new entries.
func (l *Log) checkpointLoop() {
	defer close(l.cpDone)
	t := time.NewTicker(l.opts.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-l.closing:
			return
		case <-t.C:
		case <-l.cpKick:
		case <-l.walKick:
		}
		if h := l.Head(); h.Size > l.latestSize() {
			if _, err := l.cutCheckpoint(h.Size); err != nil {
				l.opts.Logger.Error().Err(err).Uint64("size", h.Size).Msg("ledger checkpoint failed")
			}
		}
		l.dropWAL()
	}
}
