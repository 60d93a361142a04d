package ledger

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"
)

// appendReq is one prepared entry waiting for its group commit. Everything
// about it (seq, time, prev, chain hash, stored value, Merkle hashes) is
// computed by its caller, in seq order, before it is queued: the committer
// only writes.
type appendReq struct {
	seq     uint64
	cpSize  uint64      // nonzero: not an entry but the signed checkpoint note for this size, in value
	value   []byte      // encodeEntry(...), or the note
	hashes  []tlog.Hash // stored Merkle hashes from index StoredHashIndex(0, seq-1)
	inline  [3]tlog.Hash
	receipt Receipt
	done    chan struct{} // closed by answer once err is set
	err     error         // why the entry was refused (nil: durable)
	last    bool          // the last entry of its Queue call: batches end only after one
}

// lingerMax bounds how long the committer waits, after a commit, for the
// writers it just answered to queue their next entries (see linger); it
// never waits longer than half the last commit took.
const lingerMax = time.Millisecond

// Append durably records event and returns its receipt. It returns only
// after the entry and its predecessors are synced to disk (in the
// write-ahead log) and stored with their Merkle hashes. Concurrent calls
// are group-committed: one synced write and one transaction per group.
//
// event must be one compact JSON object (ErrInvalidEvent otherwise); it is
// stored byte for byte. When the ledger cannot record (closed, disk nearly
// full, read-only, an earlier write failed), Append returns an error
// wrapping ErrUnavailable without writing anything. If ctx ends while the
// commit is in flight, Append returns ctx.Err() and the entry may or may
// not have been recorded: callers must treat it as not acknowledged.
func (l *Log) Append(ctx context.Context, event []byte) (Receipt, error) {
	rs, err := l.AppendAll(ctx, event)
	if err != nil {
		return Receipt{}, err
	}
	return rs[0], nil
}

// AppendAll is Append for several events: it records them as consecutive
// entries, in order (no other writer's entry comes between them), and
// returns their receipts once every one is durable, in a single group
// commit: the events of one call are never split across commits, so
// they are recorded or refused together. So a caller that must record
// two events before acting waits for one sync, not two. At most MaxBatch
// events and MaxAppendBytes of them in one call. On error none of them
// may be assumed recorded: a commit that fails part way breaks the log,
// like any failed commit. AppendAll is Queue then Wait.
func (l *Log) AppendAll(ctx context.Context, events ...[]byte) ([]Receipt, error) {
	p, err := l.Queue(ctx, events...)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// Pending is an append that Queue placed in the ledger's order and that
// is not known durable yet.
type Pending struct {
	reqs []*appendReq
}

// Queue checks events and places them, as consecutive entries, after
// every entry queued before, then returns without waiting for the sync:
// entries queued by calls that return in some order get seqs in that
// order, and Wait reports when they are durable. A caller that must apply
// what it records in the ledger's order can so queue under its own lock
// and wait outside it. Queue blocks only while the ledger's bounded queue
// is full (until ctx ends). Errors are AppendAll's.
func (l *Log) Queue(ctx context.Context, events ...[]byte) (*Pending, error) {
	return l.queueAt(ctx, events, nil)
}

// queueAt is Queue; times, if not nil, are the entries' append times
// (Restore's), which the caller has checked never go backwards. Restored
// events are not checked by ValidateEvent: they were accepted when first
// recorded, their chain hashes prove them, and a rule added since must
// not make an older ledger impossible to restore.
func (l *Log) queueAt(ctx context.Context, events [][]byte, times []time.Time) (*Pending, error) {
	if len(events) == 0 || len(events) > l.opts.MaxBatch {
		return nil, fmt.Errorf("%w: %d events in one append (1 to %d)", ErrInvalidEvent, len(events), l.opts.MaxBatch)
	}
	size := 0
	for _, ev := range events {
		if times == nil {
			if err := ValidateEvent(ev); err != nil {
				return nil, err
			}
		}
		size += len(ev)
	}
	if size > MaxAppendBytes {
		return nil, fmt.Errorf("%w: %d bytes of events in one append (at most %d: one append is one group commit)", ErrInvalidEvent, size, MaxAppendBytes)
	}
	if err := l.unavailable(); err != nil {
		return nil, err
	}
	if err := l.takeSlots(ctx, len(events)); err != nil {
		return nil, err
	}
	reqs, err := l.enqueue(events, times)
	if err != nil {
		return nil, l.dropSlots(len(events), err)
	}
	select {
	case l.kick <- struct{}{}:
	default:
	}
	return &Pending{reqs: reqs}, nil
}

// Wait returns the receipts of p's entries once every one is durable, or
// the error that refused them: then none may be assumed recorded. If ctx
// ends first, Wait returns ctx.Err() and the entries may or may not be
// recorded; a later Wait still learns which. Any number of goroutines
// may wait on p.
func (p *Pending) Wait(ctx context.Context) ([]Receipt, error) {
	rs := make([]Receipt, len(p.reqs))
	var refused error
	for i, req := range p.reqs {
		// Every entry, even after a refusal: the entries of one call are
		// answered together (one batch, or the queue's rewind), but one
		// at a time, and Wait returns only once Done is true.
		select {
		case <-req.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if req.err != nil && refused == nil {
			refused = req.err
		}
		rs[i] = req.receipt
	}
	if refused != nil {
		return nil, refused
	}
	return rs, nil
}

// Done reports whether every entry of p is answered: Wait then returns at
// once.
func (p *Pending) Done() bool {
	for _, req := range p.reqs {
		select {
		case <-req.done:
		default:
			return false
		}
	}
	return true
}

// takeSlots reserves n places in the bounded queue (answer frees them).
func (l *Log) takeSlots(ctx context.Context, n int) error {
	for i := range n {
		select {
		case l.slots <- struct{}{}:
		case <-l.closing:
			return l.dropSlots(i, fmt.Errorf("append: %w: ledger closed", ErrUnavailable))
		case <-ctx.Done():
			return l.dropSlots(i, ctx.Err())
		}
	}
	return nil
}

func (l *Log) dropSlots(n int, err error) error {
	for range n {
		<-l.slots
	}
	return err
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

// enqueue prepares events as the entries after the last queued one and
// queues them together. The hashing happens here, in the caller, so that
// it overlaps the committer's sync of the previous batch.
func (l *Log) enqueue(events [][]byte, times []time.Time) ([]*appendReq, error) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	if l.stopped != nil {
		return nil, l.stopped
	}
	reqs := make([]*appendReq, len(events))
	for i, event := range events {
		seq := l.tail.Size + 1
		var t time.Time
		if times != nil {
			t = times[i]
		} else if t = l.opts.Now().UTC(); t.Before(l.tail.Time) { // append times never go backwards
			t = l.tail.Time
		}
		ns := t.UnixNano()
		h := l.hasher.hash(seq, ns, l.tail.Hash[:], event)
		r := &appendReq{seq: seq, done: make(chan struct{})}
		r.hashes = l.tree.pushStored(r.inline[:0], leafHash(h))
		r.value = encodeEntry(seq, ns, l.tail.Hash, h, r.hashes[1:], event)
		r.receipt = Receipt{Seq: seq, Hash: h}
		l.tail = Head{Size: seq, Hash: h, Time: t}
		l.queue = append(l.queue, r)
		reqs[i] = r
	}
	reqs[len(reqs)-1].last = true
	return reqs, nil
}

// commitLoop is the only goroutine that writes entries: it takes the
// queued entries in order and commits them in groups.
func (l *Log) commitLoop() {
	defer close(l.seqDone)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	want, took := 1, time.Duration(0)
	for {
		select {
		case <-l.closing:
			l.stop(fmt.Errorf("append: %w: ledger closed", ErrUnavailable))
			return
		default:
		}
		if l.queued() == 0 {
			select {
			case <-l.kick:
			case <-l.closing:
				continue
			}
		}
		l.linger(timer, want, min(lingerMax, took/2))
		batch, left := l.take()
		if len(batch) == 0 {
			continue
		}
		// The writers answered now, plus those still queued, are what the
		// next batch can hold.
		want = min(len(batch)+left, l.opts.MaxBatch)
		start := time.Now()
		l.commit(batch)
		took = time.Since(start)
	}
}

// linger waits (at most max) until want entries are queued. With n
// writers appending in a loop, the n just answered come back within
// microseconds; committing the first one alone would split them into a
// small and a large batch and halve throughput. A single writer
// (want = 1) never waits.
func (l *Log) linger(timer *time.Timer, want int, max time.Duration) {
	if want <= 1 || max <= 0 || l.queued() >= want {
		return
	}
	timer.Reset(max)
	defer timer.Stop()
	for l.queued() < want {
		select {
		case <-l.kick:
		case <-timer.C:
			return
		case <-l.closing:
			return
		}
	}
}

func (l *Log) queued() int {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return len(l.queue)
}

// take removes the next batch from the queue and says how many entries
// stay queued. A batch holds whole Queue calls only, so a call is
// committed or refused as a whole: as many as fit in MaxBatch entries and
// about maxBatchBytes (Badger caps a transaction's size), and at least
// the first (Queue keeps one call within both bounds).
func (l *Log) take() ([]*appendReq, int) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	n, size, whole := 0, 0, 0
	for n < len(l.queue) && n < l.opts.MaxBatch && size < maxBatchBytes {
		size += len(l.queue[n].value)
		n++
		if l.queue[n-1].last {
			whole = n
		}
	}
	if whole == 0 { // the first call alone reaches a bound: take it whole
		for whole < len(l.queue) {
			whole++
			if l.queue[whole-1].last {
				break
			}
		}
	}
	batch := append([]*appendReq(nil), l.queue[:whole]...)
	l.queue = append(l.queue[:0], l.queue[whole:]...)
	return batch, len(l.queue)
}

// stop refuses every later append with err and fails the queued ones.
func (l *Log) stop(err error) {
	l.qmu.Lock()
	l.stopped = err
	q := l.queue
	l.queue = nil
	l.qmu.Unlock()
	l.answer(q, err)
}

// answer wakes the waiters of reqs and frees their slots.
func (l *Log) answer(reqs []*appendReq, err error) {
	for _, r := range reqs {
		r.err = err
		close(r.done)
		<-l.slots
	}
}

// commit makes batch durable (see write) and answers every waiter.
// A refusal before writing (disk nearly full, read-only) fails the batch
// and everything queued after it, whose prev links point into it, and
// rewinds the tail to the committed head. A failed commit marks the log
// broken: what reached the disk is unknown until the database is reopened
// and recovered, so nothing more is appended on top of a head that may be
// wrong.
func (l *Log) commit(batch []*appendReq) {
	err := l.unavailable()
	if err == nil {
		err = checkWritable(l.dir, l.opts.MinFreeBytes)
	}
	if err != nil {
		// Rewind before answering: a writer woken by its refusal may append
		// again at once, and that entry must follow the committed head, not
		// the refused batch (rewind would fail it too, with this error,
		// although the next commit might succeed).
		l.rewind(err)
		l.answer(batch, err)
		return
	}
	head := l.Head()
	next, err := l.write(head, batch)
	if err != nil {
		err = fmt.Errorf("append seq %d..%d: %w: %w", head.Size+1, head.Size+uint64(len(batch)), ErrUnavailable, err)
		l.mu.Lock()
		l.broken = err
		l.mu.Unlock()
		l.opts.Logger.Error().Err(err).Msg("ledger write failed; appends refused until reopened")
		l.answer(batch, err)
		l.stop(err)
		return
	}
	l.mu.Lock()
	l.head = next
	l.mu.Unlock()
	l.commits.Add(1)
	l.answer(batch, nil)
	if l.wal.size >= l.wal.max {
		// The entries are durable in the current segment either way; a
		// failed rotation is retried after the next commit.
		if err := l.wal.rotate(next.Size + 1); err != nil {
			l.opts.Logger.Warn().Err(err).Msg("ledger write-ahead log rotation failed")
		}
		select { // the checkpointer syncs Badger and drops the old segment
		case l.walKick <- struct{}{}:
		default:
		}
	}
	// Badger writes its new tables, and compactions read old ones, through
	// mmap: account what the log grew by, so that a sustained burst drops
	// those file pages from RSS as a long walk does, and so that the
	// writeback loop starts writing Badger's files early.
	var grew int64
	for _, r := range batch {
		grew += int64(len(r.value))
	}
	l.walked(grew)
	l.grew(grew)
	if next.Size-l.latestSize() >= l.opts.CheckpointEvery {
		select {
		case l.cpKick <- struct{}{}:
		default:
		}
	}
}

// rewind fails the queued entries with err and resets the tail (seq,
// prev, Merkle edge) to the committed head.
func (l *Log) rewind(err error) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	l.answer(l.queue, err)
	l.queue = nil
	head := l.Head()
	tree, terr := l.loadTree(head.Size)
	if terr != nil {
		terr = fmt.Errorf("append: %w: reload Merkle edge at %d: %w", ErrUnavailable, head.Size, terr)
		l.mu.Lock()
		l.broken = terr
		l.mu.Unlock()
		l.stopped = terr
		return
	}
	l.tail, l.tree = head, tree
}

// loadTree returns the Merkle edge (complete subtrees) of the first size
// entries, read from the store.
func (l *Log) loadTree(size uint64) (compactRange, error) {
	var c compactRange
	err := l.db.View(func(txn *badger.Txn) error {
		var err error
		c, err = treeAt(txn, size)
		return err
	})
	return c, err
}

func treeAt(txn *badger.Txn, size uint64) (compactRange, error) {
	nodes := prefixNodes(int64(size))
	idx := make([]int64, len(nodes))
	for i, nd := range nodes {
		idx[i] = tlog.StoredHashIndex(nd.level, nd.index)
	}
	hashes, err := txnHashReader{txn: txn}.ReadHashes(idx)
	if err != nil {
		return compactRange{}, err
	}
	for i := range nodes {
		nodes[i].hash = hashes[i]
	}
	return compactRange{nodes: nodes, n: int64(size)}, nil
}

// write makes the prepared entries durable in the write-ahead log and, at
// the same time, stores them and their Merkle hashes in Badger (unsynced),
// and returns the new head. Both must succeed.
func (l *Log) write(head Head, batch []*appendReq) (Head, error) {
	logged := make(chan error, 1)
	go func() { logged <- l.wal.append(head.Size+1, batch) }()
	l.storeMu.Lock()
	next, err := l.store(head, batch)
	l.storeMu.Unlock()
	if werr := <-logged; werr != nil {
		err = errors.Join(werr, err)
	}
	return next, err
}

// store writes the prepared entries (each value holds the Merkle hashes
// its leaf completes) in one Badger transaction and returns the new head.
func (l *Log) store(head Head, batch []*appendReq) (Head, error) {
	err := l.db.Update(func(txn *badger.Txn) error {
		hr := txnHashReader{txn: txn, pending: make(map[int64]tlog.Hash, 3*len(batch))}
		keys := make([]byte, 0, 9*len(batch)) // one allocation for the batch's keys
		var last *appendReq
		for _, r := range batch {
			if r.cpSize != 0 {
				if err := txn.Set(key(prefixCheckpoint, r.cpSize), r.value); err != nil {
					return err
				}
				continue
			}
			last = r
			keys = appendKey(keys, prefixEntry, r.seq)
			if err := txn.Set(keys[len(keys)-9:], r.value); err != nil {
				return err
			}
			base := tlog.StoredHashIndex(0, int64(r.seq-1))
			for j, h := range r.hashes {
				hr.pending[base+int64(j)] = h
			}
		}
		if last == nil {
			return nil // only checkpoint notes: the head stays
		}
		root, err := tlog.TreeHash(int64(last.seq), hr)
		if err != nil {
			return fmt.Errorf("merkle root at size %d: %w", last.seq, err)
		}
		head = Head{Size: last.seq, Root: root, Hash: last.receipt.Hash, Time: time.Unix(0, int64(binary.BigEndian.Uint64(last.value))).UTC()}
		return nil
	})
	return head, err
}
