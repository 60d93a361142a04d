package ledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"
)

// Receipt proves an event was durably recorded: its sequence number and
// chain hash.
type Receipt struct {
	Seq  uint64
	Hash [32]byte
}

// Head is the state of the log after its last committed entry.
type Head struct {
	Size uint64    // number of entries = seq of the last one
	Root tlog.Hash // RFC 6962 Merkle root over the chain hashes
	Hash [32]byte  // chain hash of the last entry (zero when empty)
	Time time.Time // append time of the last entry (zero when empty)
}

// Log is an open ledger. Its methods are safe for concurrent use.
type Log struct {
	dir     string
	db      *badger.DB
	wal     *wal
	storeMu sync.Mutex // held by every write to Badger (see adviseTables)
	opts    Options
	keys    keyring

	slots   chan struct{} // one per queued append: bounds the queue
	kick    chan struct{} // wakes the committer
	closing chan struct{}
	seqDone chan struct{} // closed when the committer exits
	cpDone  chan struct{} // closed when the checkpointer exits
	cpKick  chan struct{}
	walKick chan struct{} // the write-ahead log rotated: sync Badger, drop old segments
	wbKick  chan struct{} // writebackBytes written to Badger: start their writeback
	wbDone  chan struct{} // closed when the writeback loop exits
	once    sync.Once

	qmu     sync.Mutex // orders appends; guards the fields below
	tail    Head       // after the last queued entry (Root not kept)
	tree    compactRange
	hasher  *chainHasher
	queue   []*appendReq
	stopped error // set when the committer stops: later appends refused

	chunkLeaves uint64 // entries per Verify task: verifyChunkLeaves

	tableDir    string       // Badger's directory as /proc/self/maps names it
	walkedBytes atomic.Int64 // read by walks since the last releaseTablePages
	releaseMu   sync.Mutex
	commits     atomic.Uint64 // synced group commits so far (benchmarks report entries per commit)
	unwritten   atomic.Int64  // bytes written to Badger since the last writeback pass
	writebacks  atomic.Uint64 // writeback passes so far

	mu     sync.RWMutex
	head   Head
	broken error // set after a failed commit; appends refused until reopen

	cpMu     sync.Mutex // serialises signing and storing checkpoints
	latestCP atomic.Pointer[signedCheckpoint]
}

type signedCheckpoint struct {
	Checkpoint
	note []byte
}

// Open opens (creating if needed) the ledger kept in data folder dir: the
// Badger database in dir/ledger, its write-ahead log in dir/ledger.wal,
// the signing key in dir/ledger.key and the latest signed checkpoint in
// dir/ledger.checkpoint. It replays the write-ahead log, recovers to the
// last committed entry and refuses (ErrRollback) a log that is shorter than
// or forked from its latest signed checkpoint; it returns ErrLocked when
// another process holds the database.
func Open(ctx context.Context, dir string, opts Options) (*Log, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%w: create data folder: %w", ErrUnavailable, err)
	}
	if err := checkWritable(dir, 0); err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", dir, err)
	}
	kr, err := loadKeys(dir, opts.KeyName)
	if err != nil {
		return nil, classifyOpenError(dir, err)
	}
	return openWith(ctx, dir, opts, kr)
}

// openWith is Open with the keys given (RotateKey's, not yet saved).
func openWith(ctx context.Context, dir string, opts Options, kr keyring) (*Log, error) {
	db, err := badger.Open(badgerOptions(filepath.Join(dir, badgerDirName), opts))
	if err != nil {
		return nil, classifyOpenError(dir, err)
	}
	l := &Log{
		dir: dir, db: db, opts: opts, keys: kr,
		slots: make(chan struct{}, 4*opts.MaxBatch), kick: make(chan struct{}, 1), closing: make(chan struct{}),
		seqDone: make(chan struct{}), cpDone: make(chan struct{}), cpKick: make(chan struct{}, 1),
		walKick: make(chan struct{}, 1), wbKick: make(chan struct{}, 1), wbDone: make(chan struct{}),
		hasher: newChainHasher(), chunkLeaves: verifyChunkLeaves,
		tableDir: tableDirOf(dir),
	}
	if err := l.checkFormat(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open ledger %s: %w", dir, err)
	}
	if err := l.replayWAL(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open ledger %s: %w", dir, err)
	}
	if err := l.recover(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open ledger %s: %w", dir, err)
	}
	if l.wal, err = createWAL(filepath.Join(dir, walDirName), l.head.Size+1); err != nil {
		db.Close()
		return nil, classifyOpenError(dir, fmt.Errorf("write-ahead log: %w", err))
	}
	l.releaseTablePages() // Badger read the newest value log file on open
	go l.commitLoop()
	go l.checkpointLoop()
	go l.writebackLoop()
	return l, nil
}

func classifyOpenError(dir string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Cannot acquire directory lock"):
		return fmt.Errorf("open ledger %s: %w (is `botwarden serve` running?)", dir, ErrLocked)
	case errors.Is(err, syscall.EROFS), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.ENOSPC),
		strings.Contains(msg, "read-only"), strings.Contains(msg, "permission denied"),
		strings.Contains(msg, "no space left"):
		return fmt.Errorf("open ledger %s: %w: %v", dir, ErrUnavailable, err)
	}
	return fmt.Errorf("open ledger %s: %w", dir, err)
}

// Close cuts a final checkpoint if the log grew since the last one, stops
// the ledger's goroutines and closes the database. Appends waiting or
// arriving during Close fail with ErrUnavailable.
func (l *Log) Close() error {
	var err error
	l.once.Do(func() {
		close(l.closing)
		<-l.seqDone
		<-l.cpDone
		<-l.wbDone
		if h := l.Head(); h.Size > l.latestSize() {
			if _, cerr := l.cutCheckpoint(h.Size); cerr != nil {
				err = fmt.Errorf("final checkpoint: %w", cerr)
			}
		}
		if serr := l.syncStore(); serr != nil && err == nil {
			err = serr
		}
		if cerr := l.db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close ledger database: %w", cerr)
		}
		// Badger is synced and closed past every entry: the write-ahead
		// log is no longer needed (kept, for the next Open, if not).
		if werr := l.wal.close(err == nil); werr != nil && err == nil {
			err = fmt.Errorf("close write-ahead log: %w", werr)
		}
	})
	return err
}

// Head returns the state after the last committed entry.
func (l *Log) Head() Head {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.head
}

// Dir returns the data folder the log was opened on.
func (l *Log) Dir() string { return l.dir }

// VerifierKey returns the note verifier key of the ledger's signing key,
// "name+hash+base64": what an auditor passes to VerifyExport.
func (l *Log) VerifierKey() string { return l.keys.vkey }

// VerifierKeys returns the ledger's key history, the lines of its
// ledger.keys: every verifier key that signed its checkpoints, oldest
// first, a retired one followed by the largest tree size it may sign,
// VerifierKey last (more than one after a RotateKey). Joined by spaces it
// is what OpenCheckpoint and VerifyExport take.
func (l *Log) VerifierKeys() []string { return keyLines(l.keys.history) }

// Origin returns the checkpoint origin line (the signing key's name).
func (l *Log) Origin() string { return l.keys.signer.Name() }

// checkWritable refuses a read-only file system and, when need > 0, one
// with less than need bytes free.
func checkWritable(dir string, need uint64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("%w: statfs: %w", ErrUnavailable, err)
	}
	const stRdonly = 0x1 // ST_RDONLY
	if st.Flags&stRdonly != 0 {
		return fmt.Errorf("%w: %s is on a read-only file system", ErrUnavailable, dir)
	}
	if free := st.Bavail * uint64(st.Bsize); need > 0 && free < need {
		return fmt.Errorf("%w: disk nearly full: %d bytes free, the ledger keeps %d in reserve", ErrUnavailable, free, need)
	}
	return nil
}
