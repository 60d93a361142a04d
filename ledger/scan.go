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
// Entries appended while Scan runs may or may not be visited.
func (l *Log) Scan(ctx context.Context, from uint64, fn func(seq uint64, event []byte) error) error {
	return l.entries(ctx, from, 0, func(e Entry) error { return fn(e.Seq, e.Event) })
}

// Get returns entry seq (its Event is a copy).
func (l *Log) Get(ctx context.Context, seq uint64) (Entry, error) {
	var out Entry
	err := l.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key(prefixEntry, seq))
		if err == badger.ErrKeyNotFound {
			return fmt.Errorf("entry %d: %w", seq, ErrNotFound)
		} else if err != nil {
			return fmt.Errorf("read entry %d: %w", seq, err)
		}
		v, err := item.ValueCopy(nil)
		if err != nil {
			return fmt.Errorf("read entry %d: %w", seq, err)
		}
		out, err = decodeEntry(seq, v)
		return err
	})
	return out, err
}

// entries walks entries from..to (to = 0: up to the head at the start) in
// one read transaction. e.Event aliases Badger memory valid during fn.
func (l *Log) entries(ctx context.Context, from, to uint64, fn func(Entry) error) error {
	return l.rawEntries(ctx, from, to, func(seq uint64, v []byte) error {
		e, err := decodeEntry(seq, v)
		if err != nil {
			return &VerifyError{Seq: seq, Problem: err.Error()}
		}
		return fn(e)
	})
}

// rawEntries walks stored values from..to in order and reports the first
// missing seq as a *VerifyError. v is valid only during fn.
func (l *Log) rawEntries(ctx context.Context, from, to uint64, fn func(seq uint64, v []byte) error) error {
	if from == 0 {
		from = 1
	}
	if to == 0 {
		to = l.Head().Size
	}
	if from > to {
		return nil
	}
	return l.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixEntry}, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		want := from
		for it.Seek(key(prefixEntry, from)); it.Valid() && want <= to; it.Next() {
			if want&1023 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			seq := keyNum(it.Item().Key())
			if seq != want {
				return &VerifyError{Seq: want, Problem: fmt.Sprintf("entry missing (next stored entry is seq %d)", seq)}
			}
			if err := it.Item().Value(func(v []byte) error { return fn(seq, v) }); err != nil {
				return err
			}
			want++
		}
		if want <= to {
			return &VerifyError{Seq: want, Problem: "entry missing (log ends early)"}
		}
		return nil
	})
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
