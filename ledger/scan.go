package ledger

import (
	"context"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Scan calls fn for every entry from seq from (1 if 0) to the head, in
// order, with the event bytes exactly as appended. The event slice is only
// valid during the call: copy it to keep it. It returns ErrTampered if a
// seq is missing, and stops at the first error fn returns (returned as is).
// Entries appended while Scan runs may or may not be visited. Entries are
// read from the store in another goroutine while fn runs.
func (l *Log) Scan(ctx context.Context, from uint64, fn func(seq uint64, event []byte) error) error {
	return l.pipedValues(ctx, from, 0, func(seq uint64, v []byte) error {
		n := headerLen(seq)
		if len(v) < n {
			return &VerifyError{Seq: seq, Problem: fmt.Sprintf("entry %d: stored value of %d bytes is shorter than its %d-byte header", seq, len(v), n)}
		}
		return fn(seq, v[n:])
	})
}

// Get returns entry seq (its Event is a copy).
func (l *Log) Get(ctx context.Context, seq uint64) (Entry, error) {
	var out Entry
	err := l.db.View(func(txn *badger.Txn) error {
		var err error
		out, err = entryAt(txn, seq)
		return err
	})
	return out, err
}

// entries walks entries from..to (to = 0: up to the head at the start).
// e.Event is valid only during fn.
func (l *Log) entries(ctx context.Context, from, to uint64, fn func(Entry) error) error {
	return l.pipedValues(ctx, from, to, func(seq uint64, v []byte) error {
		e, err := decodeEntry(seq, v)
		if err != nil {
			return &VerifyError{Seq: seq, Problem: err.Error()}
		}
		return fn(e)
	})
}

// Scan batches: how much the reader copies ahead of the caller.
const (
	scanBatchBytes   = 256 << 10
	scanBatchEntries = 1024
	scanBatches      = 3
)

// valueBatch holds consecutive stored values copied out of Badger.
type valueBatch struct {
	first uint64 // seq of the first value
	ends  []int  // end offset of each value in buf
	buf   []byte
	err   error // Verify's feeder: why the chunk ends after these values
}

// pipedValues calls fn with the stored values of entries from..to (from
// 0 means 1, to 0 means the head at the start) in order, in the calling
// goroutine, while another goroutine reads ahead from Badger into a few
// reused batches. A missing seq is reported, as a *VerifyError, after fn
// has seen every entry before it. v is valid only during fn.
func (l *Log) pipedValues(ctx context.Context, from, to uint64, fn func(seq uint64, v []byte) error) error {
	if from == 0 {
		from = 1
	}
	if to == 0 {
		to = l.Head().Size
	}
	if from > to {
		return ctx.Err()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan *valueBatch, scanBatches-1)
	free := make(chan *valueBatch, scanBatches)
	for range scanBatches {
		free <- &valueBatch{buf: make([]byte, 0, scanBatchBytes)}
	}
	var readErr error
	go func() {
		defer close(full)
		readErr = l.readBatches(ctx, from, to, free, full)
	}()
	var err error
	for b := range full {
		start := 0
		for i, end := range b.ends {
			if err != nil {
				break
			}
			if err = fn(b.first+uint64(i), b.buf[start:end]); err != nil {
				cancel()
			}
			start = end
		}
		free <- b
	}
	if err != nil {
		return err
	}
	return readErr
}

// readBatches copies values from..to into batches taken from free and
// sends them, in order, on full.
func (l *Log) readBatches(ctx context.Context, from, to uint64, free <-chan *valueBatch, full chan<- *valueBatch) error {
	var b *valueBatch
	send := func() error {
		select {
		case full <- b:
			b = nil
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := l.db.View(func(txn *badger.Txn) error {
		return l.scanValues(ctx, txn, from, to, func(seq uint64, v []byte) error {
			if b == nil {
				select {
				case b = <-free:
				case <-ctx.Done():
					return ctx.Err()
				}
				b.first, b.ends, b.buf = seq, b.ends[:0], b.buf[:0]
			}
			b.buf = append(b.buf, v...)
			b.ends = append(b.ends, len(b.buf))
			if len(b.buf) >= scanBatchBytes || len(b.ends) >= scanBatchEntries {
				return send()
			}
			return nil
		})
	})
	if b != nil && len(b.ends) > 0 {
		if serr := send(); err == nil {
			err = serr
		}
	}
	return err
}

// scanValues walks the stored values of entries from..to of txn in order
// and reports the first missing seq as a *VerifyError. It releases the
// table pages it walked every releaseEvery bytes and at the end of a walk
// of at least releaseAtEnd bytes. Values are not prefetched (Badger's
// prefetch copies each value in a goroutine of its own). v is valid only
// during fn.
func (l *Log) scanValues(ctx context.Context, txn *badger.Txn, from, to uint64, fn func(seq uint64, v []byte) error) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixEntry}})
	defer it.Close()
	var read, total int64
	defer func() {
		if total += read; total >= releaseAtEnd {
			l.releaseTablePages()
		} else {
			l.walked(read)
		}
	}()
	want := from
	for it.Seek(key(prefixEntry, from)); it.Valid() && want <= to; it.Next() {
		if want&1023 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			l.walked(read)
			total += read
			read = 0
		}
		read += int64(it.Item().ValueSize())
		item := it.Item()
		seq := keyNum(item.Key())
		if seq != want {
			return &VerifyError{Seq: want, Problem: fmt.Sprintf("entry missing (next stored entry is seq %d)", seq)}
		}
		if err := item.Value(func(v []byte) error { return fn(seq, v) }); err != nil {
			return err
		}
		want++
	}
	if want <= to {
		return &VerifyError{Seq: want, Problem: "entry missing (log ends early)"}
	}
	return nil
}

// VerifyError names the first sequence number at which verification failed
// and what is wrong there. It wraps ErrTampered.
type VerifyError struct {
	Seq     uint64
	Problem string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("ledger verification failed at seq %d: %s", e.Seq, e.Problem)
}

// Unwrap makes errors.Is(err, ErrTampered) true.
func (e *VerifyError) Unwrap() error { return ErrTampered }
