package ledger

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrNotEmpty is returned by Restore when the data folder already holds a
// ledger: a restore never writes over one.
var ErrNotEmpty = errors.New("data folder already holds a ledger")

// RestoreReport describes a restored ledger.
type RestoreReport struct {
	Export      ExportReport // the verification of the export it was rebuilt from
	Head        Head         // the restored log's head: the export's last entry
	VerifierKey string       // the restored ledger's verifier key
	NewKey      bool         // the folder had no signing key: a new one signs from now on
}

// restoreWindow is how many batches Restore keeps queued at once.
const restoreWindow = 3

// ExportPart is one export RestoreChain rebuilds a ledger from, with the
// signed checkpoint exported with it.
type ExportPart struct {
	Export     io.ReadSeeker
	Checkpoint []byte
}

// Restore rebuilds the ledger of data folder dir from a whole export (from
// seq 1, as Export writes it) and the signed checkpoint exported with it:
// the way back from a backup taken with Export while the service ran.
//
// It first verifies the export against checkpoint and vkey (VerifyExport),
// then appends every entry with its recorded time and checks that each
// gets the chain hash the export recorded, and that the restored root is
// the checkpoint's: the restored log holds the same entries, chain hashes
// and Merkle tree, and a later export of it is byte for byte the same.
//
// dir must hold no ledger (ErrNotEmpty). If it holds a signing key
// (ledger.key, put back from where it is kept), that must be the key vkey
// names; without one Restore creates a new key with the checkpoint's
// origin as its name (NewKey), whose verifier key auditors then need for
// the checkpoints signed after the restore. Keep the original key only
// when the export is the ledger's latest state: otherwise that key would
// go on to sign a second history at sizes it already signed. On failure
// Restore removes what it created.
func Restore(ctx context.Context, dir string, export io.ReadSeeker, checkpoint []byte, vkey string, opts Options) (RestoreReport, error) {
	return RestoreChain(ctx, dir, []ExportPart{{Export: export, Checkpoint: checkpoint}}, vkey, opts)
}

// RestoreChain is Restore from a chain of exports: a whole one, from seq
// 1, then each starting right after the one before (incremental backups,
// Export from the last backup's size + 1). Every export is verified
// against its own checkpoint, and that checkpoint's history against the
// one before it (VerifyExport's since), before anything is written; the
// report covers the whole chain.
func RestoreChain(ctx context.Context, dir string, parts []ExportPart, vkey string, opts Options) (rep RestoreReport, err error) {
	if err := checkEmpty(dir); err != nil {
		return rep, err
	}
	if rep.Export, err = verifyChain(ctx, parts, vkey); err != nil {
		return rep, err
	}
	_, statErr := os.Stat(filepath.Join(dir, privateKeyFileName))
	rep.NewKey = errors.Is(statErr, os.ErrNotExist)
	_, statErr = os.Stat(filepath.Join(dir, keysFileName))
	newHistory := errors.Is(statErr, os.ErrNotExist)
	if opts.KeyName == "" {
		opts.KeyName = rep.Export.Checkpoint.Origin
	}
	l, err := Open(ctx, dir, opts)
	if err != nil {
		return rep, fmt.Errorf("restore: %w", err)
	}
	defer func() {
		if cerr := l.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("restore: close: %w", cerr)
		}
		if err != nil {
			removeRestored(dir, rep.NewKey, newHistory)
		}
	}()
	rep.VerifierKey = l.VerifierKey()
	given, err := parseKeys(vkey)
	if err != nil {
		return rep, fmt.Errorf("restore: %w", err)
	}
	if i := indexOf(given, rep.VerifierKey); !rep.NewKey && (i < 0 || given[i].retired) {
		return rep, fmt.Errorf("restore: %s in %s is not a key that signed the checkpoints and may sign more (%s, want one of %s)",
			privateKeyFileName, dir, rep.VerifierKey, strings.Join(keyLines(given), " "))
	}
	// The checkpoints made before the backup (posted in Slack, kept by
	// auditors) still verify against the restored ledger.
	if err := l.trustEarlier(vkey); err != nil {
		return rep, fmt.Errorf("restore: %w", err)
	}
	for _, p := range parts {
		if err := l.restoreEntries(ctx, p.Export); err != nil {
			return rep, fmt.Errorf("restore: %w", err)
		}
	}
	rep.Head = l.Head()
	if cp := rep.Export.Checkpoint; rep.Head.Size != cp.Size || rep.Head.Root != cp.Root {
		return rep, fmt.Errorf("restore: %w: restored %d entries with root %s, the checkpoint says %d with %s",
			ErrTampered, rep.Head.Size, rep.Head.Root, cp.Size, cp.Root)
	}
	return rep, nil
}

// verifyChain verifies every part and that they follow each other from
// seq 1, rewinds each for the restore, and returns one report for all:
// From 1, To and Checkpoint the last part's, counts summed.
func verifyChain(ctx context.Context, parts []ExportPart, vkey string) (ExportReport, error) {
	var all ExportReport
	if len(parts) == 0 {
		return all, errors.New("restore: no export given")
	}
	var since []byte
	for i, p := range parts {
		r, err := VerifyExport(ctx, p.Export, p.Checkpoint, vkey, since)
		if err != nil {
			return all, fmt.Errorf("restore: export %d of %d does not verify: %w", i+1, len(parts), err)
		}
		switch want := all.To + 1; {
		case i == 0 && r.From != 1:
			return all, fmt.Errorf("restore: the export starts at seq %d: a restore needs the whole log, from seq 1", r.From)
		case r.From != want:
			return all, fmt.Errorf("restore: export %d of %d starts at seq %d, want %d (right after the one before)", i+1, len(parts), r.From, want)
		}
		if _, err := p.Export.Seek(0, io.SeekStart); err != nil {
			return all, fmt.Errorf("restore: rewind export %d: %w", i+1, err)
		}
		all.From, all.To, all.Checkpoint = 1, r.To, r.Checkpoint
		all.Entries, all.Bytes, all.Duration = all.Entries+r.Entries, all.Bytes+r.Bytes, all.Duration+r.Duration
		since = p.Checkpoint
	}
	return all, nil
}

// checkEmpty refuses a data folder that holds a ledger, or any part of one.
func checkEmpty(dir string) error {
	for _, name := range []string{badgerDirName, walDirName, checkpointFileName} {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if fi.IsDir() {
			if names, err := os.ReadDir(path); err == nil && len(names) == 0 {
				continue
			}
		}
		return fmt.Errorf("restore into %s: %w (%s)", dir, ErrNotEmpty, name)
	}
	return nil
}

// removeRestored removes what a failed Restore created in dir.
func removeRestored(dir string, newKey, newHistory bool) {
	names := []string{badgerDirName, walDirName, checkpointFileName}
	if newKey {
		names = append(names, privateKeyFileName, publicKeyFileName)
	}
	if newHistory {
		names = append(names, keysFileName)
	}
	for _, name := range names {
		_ = os.RemoveAll(filepath.Join(dir, name))
	}
}

// restoreEntries appends the export's entries to the empty log l in
// batches, each entry with its recorded time, and checks every receipt
// against the chain hash the export recorded.
func (l *Log) restoreEntries(ctx context.Context, export io.Reader) error {
	r := &restorer{l: l}
	br := bufio.NewReaderSize(export, MaxEventSize+1024)
	var last time.Time
	for {
		line, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read export: %w", err)
		}
		if bytes.HasPrefix(line, []byte(`{"export":`)) {
			break
		}
		e, err := parseExportLine(line)
		if err != nil {
			return fmt.Errorf("%w: export line after seq %d: %v", ErrTampered, l.tailSize(), err)
		}
		if e.Time.Before(last) {
			return fmt.Errorf("%w: entry %d's time goes backwards", ErrTampered, e.Seq)
		}
		last = e.Time
		if err := r.add(ctx, e); err != nil {
			return err
		}
	}
	return r.finish(ctx)
}

// restorer batches restored entries into appends and keeps up to
// restoreWindow of them in flight.
type restorer struct {
	l      *Log
	events [][]byte
	times  []time.Time
	hashes [][32]byte
	size   int
	window []restoreBatch
}

// restoreBatch is one queued append and the chain hashes it must get.
type restoreBatch struct {
	p      *Pending
	hashes [][32]byte
}

// add puts e in the current batch, queuing the batch first if e would not
// fit.
func (r *restorer) add(ctx context.Context, e Entry) error {
	if len(r.events) == r.l.opts.MaxBatch || r.size+len(e.Event) > MaxAppendBytes {
		if err := r.flush(ctx); err != nil {
			return err
		}
	}
	r.events, r.times, r.hashes = append(r.events, e.Event), append(r.times, e.Time), append(r.hashes, e.Hash)
	r.size += len(e.Event)
	return nil
}

// flush queues the current batch, settling the oldest once the window is
// full.
func (r *restorer) flush(ctx context.Context) error {
	if len(r.events) == 0 {
		return nil
	}
	p, err := r.l.queueAt(ctx, r.events, r.times)
	if err != nil {
		return err
	}
	r.window = append(r.window, restoreBatch{p, r.hashes})
	r.events, r.times, r.hashes, r.size = nil, nil, nil, 0
	if len(r.window) < restoreWindow {
		return nil
	}
	b := r.window[0]
	r.window = r.window[1:]
	return b.settle(ctx)
}

// finish queues the last batch and settles every one still in flight.
func (r *restorer) finish(ctx context.Context) error {
	if err := r.flush(ctx); err != nil {
		return err
	}
	for _, b := range r.window {
		if err := b.settle(ctx); err != nil {
			return err
		}
	}
	return nil
}

// settle waits for b and checks each entry got the chain hash the export
// recorded.
func (b restoreBatch) settle(ctx context.Context) error {
	rs, err := b.p.Wait(ctx)
	if err != nil {
		return err
	}
	for i, r := range rs {
		if r.Hash != b.hashes[i] {
			return fmt.Errorf("%w: entry %d restored with chain hash %x, the export says %x", ErrTampered, r.Seq, r.Hash, b.hashes[i])
		}
	}
	return nil
}

// tailSize is the seq of the last queued entry.
func (l *Log) tailSize() uint64 {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	return l.tail.Size
}
