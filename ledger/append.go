package ledger

import (
	"context"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"
)

type appendReq struct {
	event []byte
	done  chan appendResult // buffered: the sequencer never blocks on it
}

type appendResult struct {
	r   Receipt
	err error
}

// Append durably records event and returns its receipt. It returns only
// after the entry, its Merkle hashes and its predecessors are synced to
// disk. Concurrent calls are group-committed into one synced transaction.
//
// event must be one compact JSON object (ErrInvalidEvent otherwise); it is
// stored byte for byte. When the ledger cannot record (closed, disk nearly
// full, read-only, an earlier write failed), Append returns an error
// wrapping ErrUnavailable without writing anything. If ctx ends while the
// commit is in flight, Append returns ctx.Err() and the entry may or may
// not have been recorded: callers must treat it as not acknowledged.
func (l *Log) Append(ctx context.Context, event []byte) (Receipt, error) {
	if err := ValidateEvent(event); err != nil {
		return Receipt{}, err
	}
	if err := l.unavailable(); err != nil {
		return Receipt{}, err
	}
	req := &appendReq{event: append([]byte(nil), event...), done: make(chan appendResult, 1)}
	select {
	case l.reqs <- req:
	case <-l.closing:
		return Receipt{}, fmt.Errorf("append: %w: ledger closed", ErrUnavailable)
	case <-ctx.Done():
		return Receipt{}, ctx.Err()
	}
	select {
	case res := <-req.done:
		return res.r, res.err
	case <-l.seqDone:
		select {
		case res := <-req.done:
			return res.r, res.err
		default:
			return Receipt{}, fmt.Errorf("append: %w: ledger closed", ErrUnavailable)
		}
	case <-ctx.Done():
		return Receipt{}, ctx.Err()
	}
}

func (l *Log) unavailable() error {
	select {
	case <-l.closing:
		return fmt.Errorf("append: %w: ledger closed", ErrUnavailable)
	default:
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.broken
}

// sequence is the only goroutine that writes entries: it owns the head,
// drains every waiting append into one batch and commits it.
func (l *Log) sequence() {
	defer close(l.seqDone)
	batch := make([]*appendReq, 0, l.opts.MaxBatch)
	for {
		var first *appendReq
		select {
		case first = <-l.reqs:
		case <-l.closing:
			l.failPending()
			return
		}
		batch = append(batch[:0], first)
		size := len(first.event)
	drain:
		for len(batch) < l.opts.MaxBatch && size < maxBatchBytes {
			select {
			case r := <-l.reqs:
				batch = append(batch, r)
				size += len(r.event)
			default:
				break drain
			}
		}
		l.commit(batch)
	}
}

func (l *Log) failPending() {
	for {
		select {
		case r := <-l.reqs:
			r.done <- appendResult{err: fmt.Errorf("append: %w: ledger closed", ErrUnavailable)}
		default:
			return
		}
	}
}

// commit writes batch in one synced transaction and answers every waiter.
// A failed commit marks the log broken: what reached the disk is unknown
// until the database is reopened and recovered, so nothing more is
// appended on top of a head that may be wrong.
func (l *Log) commit(batch []*appendReq) {
	err := l.unavailable()
	if err == nil {
		err = checkWritable(l.dir, l.opts.MinFreeBytes)
	}
	if err != nil {
		for _, r := range batch {
			r.done <- appendResult{err: err}
		}
		return
	}
	head := l.Head()
	next, receipts, err := l.write(head, batch)
	if err != nil {
		err = fmt.Errorf("append seq %d..%d: %w: %w", head.Size+1, head.Size+uint64(len(batch)), ErrUnavailable, err)
		l.mu.Lock()
		l.broken = err
		l.mu.Unlock()
		l.opts.Logger.Error().Err(err).Msg("ledger write failed; appends refused until reopened")
		for _, r := range batch {
			r.done <- appendResult{err: err}
		}
		return
	}
	l.mu.Lock()
	l.head = next
	l.mu.Unlock()
	for i, r := range batch {
		r.done <- appendResult{r: receipts[i]}
	}
	if next.Size-l.latestSize() >= l.opts.CheckpointEvery {
		select {
		case l.cpKick <- struct{}{}:
		default:
		}
	}
}

// write stores the entries and their Merkle hashes in one synced
// transaction and returns the new head.
func (l *Log) write(head Head, batch []*appendReq) (Head, []Receipt, error) {
	receipts := make([]Receipt, len(batch))
	err := l.db.Update(func(txn *badger.Txn) error {
		hr := txnHashReader{txn: txn, pending: make(map[int64]tlog.Hash, 3*len(batch))}
		for i, r := range batch {
			seq := head.Size + 1
			t := l.opts.Now().UTC()
			if t.Before(head.Time) { // append times never go backwards
				t = head.Time
			}
			h := ChainHash(seq, t.UnixNano(), head.Hash, r.event)
			if err := txn.Set(key(prefixEntry, seq), encodeEntry(t.UnixNano(), head.Hash, h, r.event)); err != nil {
				return err
			}
			if err := storeHashes(txn, hr, seq, h); err != nil {
				return err
			}
			head.Size, head.Hash, head.Time = seq, h, t
			receipts[i] = Receipt{Seq: seq, Hash: h}
		}
		root, err := tlog.TreeHash(int64(head.Size), hr)
		head.Root = root
		return err
	})
	return head, receipts, err
}

// storeHashes adds the Merkle hashes that leaf seq completes.
func storeHashes(txn *badger.Txn, hr txnHashReader, seq uint64, chain [32]byte) error {
	n := int64(seq - 1)
	hashes, err := tlog.StoredHashesForRecordHash(n, tlog.RecordHash(chain[:]), hr)
	if err != nil {
		return fmt.Errorf("merkle hashes for seq %d: %w", seq, err)
	}
	base := tlog.StoredHashIndex(0, n)
	for j, h := range hashes {
		idx := base + int64(j)
		hr.pending[idx] = h
		if err := txn.Set(key(prefixHash, uint64(idx)), append([]byte(nil), h[:]...)); err != nil {
			return err
		}
	}
	return nil
}
