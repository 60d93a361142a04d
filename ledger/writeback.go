package ledger

import (
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// writebackBytes is how much the log grows between two passes of the
// writeback loop. Each pass costs kernel time for every page it writes
// back; at 128 KiB that was 17% of the ledger's throughput at 64
// writers, at 512 KiB 7%, for the same API tail latency.
const writebackBytes = 512 << 10

// writebackLoop starts the kernel's writeback of Badger's newest value log
// and memtable log files while entries arrive, without waiting for it and
// without a device cache flush (sync_file_range with
// SYNC_FILE_RANGE_WRITE only).
//
// Why: Badger writes those files unsynced, through memory maps (the
// write-ahead log makes appends durable). Left alone, their dirty pages
// pile up until a rotation's syncStore writes them all at once, some
// 4 MiB per write-ahead segment, and the write-ahead log's fdatasync of
// every append waiting meanwhile queues behind that burst: tens of
// milliseconds of stall, twice a second under load. Started early, the
// same bytes reach the disk in small pieces between the log's syncs, and
// syncStore finds little left to write. Durability does not depend on
// this loop: it still comes from the write-ahead log and syncStore.
func (l *Log) writebackLoop() {
	defer close(l.wbDone)
	for {
		select {
		case <-l.closing:
			return
		case <-l.wbKick:
		}
		l.unwritten.Store(0)
		if err := startWriteback(filepath.Join(l.dir, badgerDirName)); err != nil {
			l.opts.Logger.Debug().Err(err).Msg("ledger writeback not started")
		}
		l.writebacks.Add(1)
	}
}

// grew accounts n bytes the last commit wrote to Badger and wakes the
// writeback loop once writebackBytes have accumulated.
func (l *Log) grew(n int64) {
	if l.unwritten.Add(n) < writebackBytes {
		return
	}
	select {
	case l.wbKick <- struct{}{}:
	default:
	}
}

// startWriteback starts writeback of the newest value log and memtable
// log files in Badger's folder dir. A file rotated away meanwhile is
// skipped: syncStore covers it.
func startWriteback(dir string) error {
	files, err := newestStoreFiles(dir)
	if err != nil {
		return err
	}
	for _, name := range files {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		err = unix.SyncFileRange(int(f.Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// newestStoreFiles names the newest .vlog and the newest .mem file in
// dir, the ones Badger is writing. Badger numbers them with leading
// zeros, so the newest sorts last.
func newestStoreFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var vlog, mem string
	for _, e := range ents { // ReadDir sorts by name
		switch name := e.Name(); {
		case strings.HasSuffix(name, ".vlog"):
			vlog = name
		case strings.HasSuffix(name, ".mem"):
			mem = name
		}
	}
	var out []string
	for _, n := range []string{vlog, mem} {
		if n != "" {
			out = append(out, n)
		}
	}
	return out, nil
}
