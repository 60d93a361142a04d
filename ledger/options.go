package ledger

import (
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/rs/zerolog"
)

// Options configure a Log. The zero value is usable: every field has a
// default suited to a small service (low memory, durable writes).
type Options struct {
	// Logger receives the ledger's few log lines. Zero value: disabled.
	Logger zerolog.Logger
	// Environment (dev, stage, prod) is appended to the signing key's name
	// when the key is first created: "botwarden-ledger-prod".
	Environment string
	// KeyName overrides the signing key's name (and checkpoint origin) when
	// the key is first created. An existing key keeps its name.
	KeyName string
	// CheckpointEvery cuts a checkpoint once the log has grown this many
	// entries past the latest one. Default 1000.
	CheckpointEvery uint64
	// CheckpointInterval cuts a checkpoint this often if the log grew at
	// all. Default 10s.
	CheckpointInterval time.Duration
	// OnCheckpoint is called (from a ledger goroutine, never while a lock is
	// held) with every newly signed checkpoint that advances the latest one.
	OnCheckpoint func(note []byte)
	// MinFreeBytes: Append refuses with ErrUnavailable when the file system
	// holding the ledger has less free space than this, so that a full disk
	// is a fast, clean error rather than a failed write. Default 64 MiB.
	MinFreeBytes uint64
	// MaxBatch caps how many appends one group commit carries. Default 1024.
	MaxBatch int
	// Now is the clock for append times. Default time.Now.
	Now func() time.Time
	// Tune, if set, may adjust the Badger options after the defaults.
	Tune func(badger.Options) badger.Options
}

const (
	defaultCheckpointEvery    = 1000
	defaultCheckpointInterval = 10 * time.Second
	defaultMinFreeBytes       = 64 << 20
	defaultMaxBatch           = 1024
	maxBatchBytes             = 512 << 10
	// valueThreshold sends entries (header, Merkle hashes and event)
	// and checkpoints to Badger's value log: the tree then holds little
	// more than keys, so memtable flushes and compactions, which rewrite
	// the tree through memory maps, cost a fifth of what they would.
	valueThreshold = 64
)

func (o Options) withDefaults() Options {
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = defaultCheckpointEvery
	}
	if o.CheckpointInterval <= 0 {
		o.CheckpointInterval = defaultCheckpointInterval
	}
	if o.MinFreeBytes == 0 {
		o.MinFreeBytes = defaultMinFreeBytes
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = defaultMaxBatch
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.KeyName == "" {
		o.KeyName = "botwarden-ledger"
		if o.Environment != "" {
			o.KeyName += "-" + o.Environment
		}
	}
	return o
}

// badgerOptions are Badger's options sized for an audit log of a few
// million small entries in a service that must stay under 64 MiB resident:
// Badger's defaults (64 MiB memtables x5, 256 MiB block cache, 1 GiB value
// log files) are sized for big databases.
func badgerOptions(path string, o Options) badger.Options {
	bo := badger.DefaultOptions(path).
		WithSyncWrites(false). // the write-ahead log makes appends durable (wal.go)
		WithLogger(badgerLogger{o.Logger.With().Str("component", "badger").Logger()}).
		WithMetricsEnabled(false).
		WithDetectConflicts(false). // one writer: the sequencer
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(4).
		WithNumLevelZeroTablesStall(12).
		WithBaseTableSize(4 << 20).
		WithBaseLevelSize(32 << 20).
		WithNumCompactors(2).
		WithBlockCacheSize(0). // no compression: blocks are read in place from the mmap
		WithIndexCacheSize(4 << 20).
		WithCompression(options.None).
		WithValueThreshold(valueThreshold).
		WithValueLogFileSize(16 << 20).
		WithNumGoroutines(2)
	if o.Tune != nil {
		bo = o.Tune(bo)
	}
	return bo
}

// badgerLogger passes Badger's warnings and errors to zerolog; Badger's
// info and debug chatter is dropped.
type badgerLogger struct{ l zerolog.Logger }

func (b badgerLogger) Errorf(f string, v ...interface{})   { b.l.Error().Msgf(f, v...) }
func (b badgerLogger) Warningf(f string, v ...interface{}) { b.l.Warn().Msgf(f, v...) }
func (b badgerLogger) Infof(string, ...interface{})        {}
func (b badgerLogger) Debugf(string, ...interface{})       {}
