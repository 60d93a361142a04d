package ledger

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"
)

// syncStore makes every Badger write that completed before it durable, so
// that the write-ahead log segments holding those entries can go. Badger
// writes without syncing (the write-ahead log makes appends durable), and
// its own Sync covers only the active memtable log and value log: a
// memtable waiting for its flush and a value log file Badger rotated away
// from are never synced by Badger when its writes are unsynced. So this
// fsyncs every memtable log (.mem) and value log (.vlog) file and the
// folder; tables (.sst) and the manifest are synced by Badger as it writes
// them.
func (l *Log) syncStore() error {
	dir := filepath.Join(l.dir, badgerDirName)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("sync ledger database: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".mem") && !strings.HasSuffix(name, ".vlog") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue // a flushed memtable's log: its table is synced
		} else if err != nil {
			return fmt.Errorf("sync ledger database: %w", err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("sync ledger database %s: %w", name, err)
		}
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("sync ledger database folder: %w", err)
	}
	return nil
}

// replayWAL brings Badger up to date with the write-ahead log the last run
// left: it rewrites every entry the log holds (Badger may have lost or
// torn any write after its last sync), checking each entry's chain hash
// and link, then syncs Badger and removes the log. A clean Close leaves
// no log, so this costs nothing then.
func (l *Log) replayWAL() error {
	dir := filepath.Join(l.dir, walDirName)
	segs, err := walSegments(dir)
	if err != nil {
		return fmt.Errorf("write-ahead log: %w", err)
	}
	if len(segs) == 0 {
		return nil
	}
	first := segs[0].first
	var size uint64
	var prev [32]byte
	var tree compactRange
	err = l.db.View(func(txn *badger.Txn) error {
		if size, _, err = lastEntry(txn); err != nil {
			return err
		}
		if first-1 > size {
			return fmt.Errorf("%w: the write-ahead log starts at seq %d but the database ends at seq %d: entries %d..%d are missing (an older database restored beside a newer log?); see docs/ledger.md \"Recovery\"",
				ErrRollback, first, size, size+1, first-1)
		}
		if first > 1 {
			e, err := entryAt(txn, first-1)
			if err != nil {
				return err
			}
			prev = e.Hash
		}
		tree, err = treeAt(txn, first-1)
		return err
	})
	if err != nil {
		return err
	}
	wb := l.db.NewWriteBatch()
	defer wb.Cancel()
	nodes := make([]tlog.Hash, 0, 64)
	end, err := readWAL(segs, func(seq, cpSize uint64, v []byte) error {
		if cpSize != 0 {
			return l.replayNote(wb, cpSize, v)
		}
		e, err := decodeEntry(seq, v)
		if err != nil {
			return err
		}
		if e.Prev != prev {
			return &VerifyError{Seq: seq, Problem: "write-ahead log: prev does not match the chain hash of the entry before"}
		}
		if ChainHash(seq, e.Time.UnixNano(), e.Prev, e.Event) != e.Hash {
			return &VerifyError{Seq: seq, Problem: "write-ahead log: stored hash does not match the entry"}
		}
		prev = e.Hash
		for j, h := range tree.pushStored(nodes[:0], leafHash(e.Hash))[1:] {
			if storedNode(v, j+1) != h {
				return &VerifyError{Seq: seq, Problem: fmt.Sprintf("write-ahead log: stored Merkle hash mismatch (level %d)", j+1)}
			}
		}
		return wb.Set(key(prefixEntry, seq), append([]byte(nil), v...))
	})
	if err != nil {
		return fmt.Errorf("replay write-ahead log: %w", err)
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("replay write-ahead log: %w: %w", ErrUnavailable, err)
	}
	if err := l.checkLinksAfter(end, prev, size); err != nil {
		return err
	}
	if err := l.syncStore(); err != nil {
		return fmt.Errorf("replay write-ahead log: %w: %w", ErrUnavailable, err)
	}
	for _, s := range segs {
		if err := os.Remove(s.path); err != nil {
			return fmt.Errorf("replay write-ahead log: %w", err)
		}
	}
	l.opts.Logger.Info().Uint64("from", first).Uint64("to", end-1).Msg("ledger replayed its write-ahead log")
	return syncDir(dir)
}

// checkLinksAfter checks that an entry Badger holds past the log's end
// (written, never acknowledged, when the process died before its log
// write) links to the log's last entry.
func (l *Log) checkLinksAfter(end uint64, prev [32]byte, size uint64) error {
	if size < end {
		return nil
	}
	return l.db.View(func(txn *badger.Txn) error {
		e, err := entryAt(txn, end)
		if err != nil {
			return err
		}
		if e.Prev != prev {
			return &VerifyError{Seq: end, Problem: "bad prev link: the database's entry does not follow the write-ahead log's last entry"}
		}
		return nil
	})
}

// entryAt reads entry seq (ErrNotFound if it is not stored); its value is
// copied.
func entryAt(txn *badger.Txn, seq uint64) (Entry, error) {
	item, err := txn.Get(key(prefixEntry, seq))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Entry{}, fmt.Errorf("entry %d: %w", seq, ErrNotFound)
	} else if err != nil {
		return Entry{}, fmt.Errorf("read entry %d: %w", seq, err)
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		return Entry{}, fmt.Errorf("read entry %d: %w", seq, err)
	}
	return decodeEntry(seq, v)
}

// replayNote stores a checkpoint note from the write-ahead log after
// checking its signature and size.
func (l *Log) replayNote(wb *badger.WriteBatch, size uint64, note []byte) error {
	cp, err := l.parseSigned(note)
	if err != nil {
		return fmt.Errorf("checkpoint note for size %d: %w", size, err)
	}
	if cp.Size != size {
		return fmt.Errorf("checkpoint note filed under size %d is for size %d", size, cp.Size)
	}
	return wb.Set(key(prefixCheckpoint, size), append([]byte(nil), note...))
}

// storeNote stores a signed checkpoint note durably: through the
// committer, in the write-ahead log and in Badger with the next group of
// entries. Once the committer has stopped (the final checkpoint of
// Close), it writes Badger directly and syncs it.
func (l *Log) storeNote(size uint64, note []byte) error {
	select {
	case <-l.seqDone:
		l.storeMu.Lock()
		err := l.db.Update(func(txn *badger.Txn) error { return txn.Set(key(prefixCheckpoint, size), note) })
		l.storeMu.Unlock()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return l.syncStore()
	default:
	}
	select {
	case l.slots <- struct{}{}:
	case <-l.closing:
		return fmt.Errorf("%w: ledger closed", ErrUnavailable)
	}
	r, err := l.enqueueNote(size, note)
	if err != nil {
		<-l.slots
		return err
	}
	select {
	case l.kick <- struct{}{}:
	default:
	}
	<-r.done
	return r.err
}

func (l *Log) enqueueNote(size uint64, note []byte) (*appendReq, error) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	if l.stopped != nil {
		return nil, l.stopped
	}
	r := &appendReq{cpSize: size, value: note, done: make(chan struct{}), last: true}
	l.queue = append(l.queue, r)
	return r, nil
}

// dropWAL syncs Badger and removes the write-ahead log segments before
// the active one: their records are all stored in Badger, and once Badger
// is synced they are no longer needed.
func (l *Log) dropWAL() {
	old := l.wal.inactive()
	if len(old) == 0 {
		return
	}
	err := l.syncStore()
	if err == nil {
		err = l.wal.remove(old)
	}
	if err != nil {
		l.opts.Logger.Warn().Err(err).Msg("ledger write-ahead log cleanup failed; segments kept")
	}
}
