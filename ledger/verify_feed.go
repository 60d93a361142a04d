package ledger

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// Verify reads every stored value in one goroutine, the feeder, and
// checks them in the chunk workers. Badger's value log takes two shared
// read locks per value: two cores reading at once bounced those locks'
// cache lines between them (a seventh of Verify's samples), and one
// reader cut Verify's CPU per entry by a quarter.

// feedBatches bounds a chunk's queue: the feeder never runs further ahead
// of a worker than this many batches.
const feedBatches = 2

// chunkCursor is the feeder's position in one chunk.
type chunkCursor struct {
	i        int // chunk index
	it       *badger.Iterator
	want, hi uint64
}

// feedChunks copies the values of chunks, in batches, to feeds[i] (one
// channel per chunk, closed at its end; a read error ends the chunk's
// last batch, in err). It reads up to active chunks at once, always
// filling the one whose worker has least queued, so every worker is fed
// while the chunks before it are still being read. It stops reading
// chunks after failed (a worker found an earlier failure) and when ctx
// ends.
func (l *Log) feedChunks(ctx context.Context, chunks []verifyChunk, feeds []chan *valueBatch, free chan *valueBatch, failed *atomic.Int64, active int) error {
	return l.db.View(func(txn *badger.Txn) error {
		var act []*chunkCursor
		defer func() {
			for _, c := range act {
				c.it.Close()
			}
		}()
		next := 0
		for {
			act = dropFailed(act, feeds, failed.Load())
			for len(act) < active && next < len(chunks) && int64(next) <= failed.Load() {
				c := &chunkCursor{i: next, it: txn.NewIterator(badger.IteratorOptions{Prefix: []byte{prefixEntry}}), want: chunks[next].lo, hi: chunks[next].hi}
				c.it.Seek(key(prefixEntry, c.want))
				act = append(act, c)
				next++
			}
			if len(act) == 0 {
				return nil
			}
			k := 0 // least queued; the earliest chunk on ties (its worker exists or comes first)
			for j, c := range act {
				if len(feeds[c.i]) < len(feeds[act[k].i]) {
					k = j
				}
			}
			c := act[k]
			var b *valueBatch
			select {
			case b = <-free:
			default:
				b = &valueBatch{buf: make([]byte, 0, scanBatchBytes)}
			}
			done := c.fill(b)
			select {
			case feeds[c.i] <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
			if done {
				close(feeds[c.i])
				c.it.Close()
				act = append(act[:k], act[k+1:]...)
			}
		}
	})
}

// dropFailed stops reading the chunks after chunk failed.
func dropFailed(act []*chunkCursor, feeds []chan *valueBatch, failed int64) []*chunkCursor {
	kept := act[:0]
	for _, c := range act {
		if int64(c.i) > failed {
			close(feeds[c.i])
			c.it.Close()
			continue
		}
		kept = append(kept, c)
	}
	return kept
}

// fill copies the chunk's next values into b and reports whether the
// chunk is done (all read, or b.err says which seq is missing or could
// not be read).
func (c *chunkCursor) fill(b *valueBatch) bool {
	b.first, b.ends, b.buf, b.err = c.want, b.ends[:0], b.buf[:0], nil
	for ; c.it.Valid() && c.want <= c.hi; c.it.Next() {
		if len(b.buf) >= scanBatchBytes || len(b.ends) >= scanBatchEntries {
			return false
		}
		item := c.it.Item()
		if seq := keyNum(item.Key()); seq != c.want {
			b.err = &VerifyError{Seq: c.want, Problem: fmt.Sprintf("entry missing (next stored entry is seq %d)", seq)}
			return true
		}
		if err := item.Value(func(v []byte) error {
			b.buf = append(b.buf, v...)
			return nil
		}); err != nil {
			b.err = fmt.Errorf("read entry %d: %w", c.want, err)
			return true
		}
		b.ends = append(b.ends, len(b.buf))
		c.want++
	}
	if c.want <= c.hi {
		b.err = &VerifyError{Seq: c.want, Problem: "entry missing (log ends early)"}
	}
	return true
}
