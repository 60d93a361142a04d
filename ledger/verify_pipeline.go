package ledger

import (
	"context"
	"runtime"
	"sync"
)

// checkedEntry is an entry whose own hash was recomputed and matched.
type checkedEntry struct {
	Seq  uint64
	Prev [32]byte
	Hash [32]byte
	size int
}

type verifyBatch struct {
	raw  [][]byte // stored values (copied)
	seqs []uint64
	out  []checkedEntry
	err  error
	done chan struct{}
}

const verifyBatchSize = 2048

// verifyPipeline reads entries from..to in one goroutine, recomputes their
// chain hashes on every core, and hands them to fn in order. A gap, a
// malformed value or a hash mismatch stops it with a *VerifyError.
func verifyPipeline(ctx context.Context, l *Log, from, to uint64, fn func(*checkedEntry) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan *verifyBatch, 4) // in order, to the consumer
	work := make(chan *verifyBatch, 4)    // to the hashers
	var readErr error
	var wg sync.WaitGroup
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				b.check()
			}
		}()
	}
	go func() {
		defer close(batches)
		defer close(work)
		readErr = l.readBatches(ctx, from, to, func(b *verifyBatch) bool {
			select {
			case work <- b:
			case <-ctx.Done():
				return false
			}
			select {
			case batches <- b:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	var err error
	for b := range batches {
		if err != nil {
			continue
		}
		<-b.done
		if b.err != nil {
			err = b.err
			cancel()
			continue
		}
		for i := range b.out {
			if err = fn(&b.out[i]); err != nil {
				cancel()
				break
			}
		}
	}
	wg.Wait()
	if err != nil {
		return err
	}
	if readErr != nil {
		return readErr
	}
	return ctx.Err()
}

// readBatches copies stored values into batches of verifyBatchSize; it
// reports gaps as it meets them (after handing over what came before).
func (l *Log) readBatches(ctx context.Context, from, to uint64, send func(*verifyBatch) bool) error {
	var b *verifyBatch
	flush := func() bool {
		if b == nil || len(b.seqs) == 0 {
			return true
		}
		ok := send(b)
		b = nil
		return ok
	}
	err := l.rawEntries(ctx, from, to, func(seq uint64, v []byte) error {
		if b == nil {
			b = &verifyBatch{done: make(chan struct{})}
		}
		b.seqs = append(b.seqs, seq)
		b.raw = append(b.raw, append([]byte(nil), v...))
		if len(b.seqs) == verifyBatchSize && !flush() {
			return context.Canceled
		}
		return nil
	})
	if !flush() && err == nil {
		err = context.Canceled
	}
	return err
}

func (b *verifyBatch) check() {
	defer close(b.done)
	b.out = make([]checkedEntry, len(b.seqs))
	for i, seq := range b.seqs {
		e, err := decodeEntry(seq, b.raw[i])
		if err != nil {
			b.err = &VerifyError{Seq: seq, Problem: err.Error()}
			return
		}
		if ChainHash(seq, e.Time.UnixNano(), e.Prev, e.Event) != e.Hash {
			b.err = &VerifyError{Seq: seq, Problem: "hash mismatch: the stored entry does not hash to its stored hash"}
			return
		}
		b.out[i] = checkedEntry{Seq: seq, Prev: e.Prev, Hash: e.Hash, size: len(e.Event)}
	}
	b.raw = nil
}
