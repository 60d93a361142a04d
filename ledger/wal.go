package ledger

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// The ledger's write-ahead log makes an append durable with one write and
// one fdatasync of a plain file, instead of a synced Badger transaction:
// Badger writes its logs and tables through shared memory maps, and
// syncing those costs a TLB shootdown per dirty page, several times the
// cost of the fdatasync itself on a virtual machine. Badger is written
// without syncing, in parallel with the log; the log keeps every entry
// until Badger's own files have been synced past it (see syncStore), and
// Open replays it, so Badger may lose anything unsynced without the
// ledger losing an acknowledged entry.
//
// A segment is a file named by the seq of its first entry and holds
// frames, one per group commit:
//
//	"BWL1" | payload length (4, BE) | CRC-32C of payload (4, BE) | payload
//	payload = first seq (8, BE) | count (4, BE) | count × record
//	record  = length (4, BE) | checkpoint size (8, BE) | bytes
//
// A record with checkpoint size 0 is an entry (its seq follows from the
// first seq) and its bytes are its Badger value (time, prev, hash, event),
// so replay can check its chain hash and link; any other record is the
// signed checkpoint note for that size.

const (
	walDirName       = "ledger.wal"
	walSuffix        = ".wal"
	walSegmentBytes  = 4 << 20 // rotate the active segment past this size
	walFrameHeader   = 12
	walPayloadHeader = 12
	walRecordHeader  = 12
)

var (
	walMagic    = []byte("BWL1")
	castagnoli  = crc32.MakeTable(crc32.Castagnoli)
	errWALFrame = errors.New("bad write-ahead log frame")
)

// wal is the active write-ahead log. The committer appends and rotates;
// the checkpointer drops segments that Badger has synced past.
type wal struct {
	dir  string
	f    *os.File // active segment (committer only)
	size int64    // bytes in the active segment (committer only)
	buf  []byte   // frame being encoded (committer only)
	max  int64    // rotate once the active segment is this big: walSegmentBytes

	mu   sync.Mutex
	segs []walSegment // oldest first; the last is the active one
}

type walSegment struct {
	first uint64 // seq of its first entry
	path  string
}

// createWAL starts a write-ahead log whose first entry will be next.
// Existing segments must have been replayed and removed.
func createWAL(dir string, next uint64) (*wal, error) {
	w := &wal{dir: dir, max: walSegmentBytes}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// The folder's own entry must survive a power loss with its segments.
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return nil, fmt.Errorf("sync data folder: %w", err)
	}
	if err := w.rotate(next); err != nil {
		return nil, err
	}
	return w, nil
}

func segmentPath(dir string, first uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", first, walSuffix))
}

// rotate makes a new segment for entries from next on the active one.
func (w *wal) rotate(next uint64) error {
	path := segmentPath(w.dir, next)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create write-ahead log segment: %w", err)
	}
	if err := syncDir(w.dir); err != nil {
		f.Close()
		os.Remove(path) // not a segment: replay would find a gap after it
		return fmt.Errorf("sync write-ahead log folder: %w", err)
	}
	if w.f != nil {
		w.f.Close()
	}
	w.f, w.size = f, 0
	w.mu.Lock()
	w.segs = append(w.segs, walSegment{first: next, path: path})
	w.mu.Unlock()
	return nil
}

// append writes batch, whose first entry (if any) is seq first, as one
// frame and syncs it.
func (w *wal) append(first uint64, batch []*appendReq) error {
	b := append(w.buf[:0], walMagic...)
	b = append(b, make([]byte, 8+walPayloadHeader)...)
	binary.BigEndian.PutUint64(b[walFrameHeader:], first)
	binary.BigEndian.PutUint32(b[walFrameHeader+8:], uint32(len(batch)))
	for _, r := range batch {
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.value)))
		b = binary.BigEndian.AppendUint64(b, r.cpSize)
		b = append(b, r.value...)
	}
	payload := b[walFrameHeader:]
	binary.BigEndian.PutUint32(b[4:], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[8:], crc32.Checksum(payload, castagnoli))
	w.buf = b
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("write-ahead log: %w", err)
	}
	w.size += int64(len(b))
	if err := unix.Fdatasync(int(w.f.Fd())); err != nil {
		return fmt.Errorf("write-ahead log sync: %w", err)
	}
	return nil
}

// inactive returns the segments before the active one. Every record in
// them was committed (stored in Badger too) before the rotation that
// ended them.
func (w *wal) inactive() []walSegment {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.segs) < 2 {
		return nil
	}
	return slices.Clone(w.segs[:len(w.segs)-1])
}

// remove deletes segs, which inactive returned and Badger has since been
// synced past.
func (w *wal) remove(segs []walSegment) error {
	w.mu.Lock()
	w.segs = slices.DeleteFunc(w.segs, func(s walSegment) bool { return slices.Contains(segs, s) })
	w.mu.Unlock()
	for _, s := range segs {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return syncDir(w.dir)
}

// close closes the active segment and, if remove, deletes every segment
// (Badger has been synced and closed past all of them).
func (w *wal) close(remove bool) error {
	var err error
	if w.f != nil {
		err = w.f.Close()
		w.f = nil
	}
	if !remove || err != nil {
		return err
	}
	w.mu.Lock()
	segs := w.segs
	w.segs = nil
	w.mu.Unlock()
	for _, s := range segs {
		if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return rerr
		}
	}
	return syncDir(w.dir)
}

// walSegments lists the segments in dir, oldest first.
func walSegments(dir string) ([]walSegment, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var segs []walSegment
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), walSuffix)
		if !ok || e.IsDir() {
			continue
		}
		first, err := strconv.ParseUint(name, 10, 64)
		if err != nil || first == 0 {
			return nil, fmt.Errorf("unexpected file %s in %s", e.Name(), dir)
		}
		segs = append(segs, walSegment{first: first, path: filepath.Join(dir, e.Name())})
	}
	slices.SortFunc(segs, func(a, b walSegment) int { return cmp.Compare(a.first, b.first) })
	return segs, nil
}

// readWAL calls fn with every record in segs, in order (seq is 0 for a
// checkpoint note, cpSize 0 for an entry), and returns the seq after the
// last entry. Entries must be dense across frames and
// segments. Only the last segment may end in a torn frame (a commit cut
// short by a crash, never acknowledged): replay stops there. A bad frame
// followed by a good one is damage, not a torn write, and is an error.
func readWAL(segs []walSegment, fn func(seq, cpSize uint64, value []byte) error) (uint64, error) {
	next := uint64(0)
	for i, s := range segs {
		if next != 0 && s.first != next {
			return 0, fmt.Errorf("write-ahead log segment %s starts at seq %d, want %d", filepath.Base(s.path), s.first, next)
		}
		next = s.first
		data, err := os.ReadFile(s.path)
		if err != nil {
			return 0, err
		}
		for off := 0; off < len(data); {
			payload, n, ferr := parseFrame(data[off:])
			if ferr != nil {
				if i == len(segs)-1 && !goodFrameAfter(data[off+1:]) {
					break // torn tail: never acknowledged
				}
				return 0, fmt.Errorf("write-ahead log segment %s at offset %d (after seq %d): %w", filepath.Base(s.path), off, next-1, ferr)
			}
			if next, err = readFrame(payload, next, fn); err != nil {
				return 0, fmt.Errorf("write-ahead log segment %s at offset %d: %w", filepath.Base(s.path), off, err)
			}
			off += n
		}
	}
	return next, nil
}

// parseFrame checks the frame at the start of b and returns its payload
// and length.
func parseFrame(b []byte) ([]byte, int, error) {
	if len(b) < walFrameHeader {
		return nil, 0, fmt.Errorf("%w: %d bytes left, short header", errWALFrame, len(b))
	}
	if !bytes.Equal(b[:4], walMagic) {
		return nil, 0, fmt.Errorf("%w: no frame magic", errWALFrame)
	}
	n := int(binary.BigEndian.Uint32(b[4:]))
	if n < walPayloadHeader || len(b)-walFrameHeader < n {
		return nil, 0, fmt.Errorf("%w: payload of %d bytes, %d left: %w", errWALFrame, n, len(b)-walFrameHeader, io.ErrUnexpectedEOF)
	}
	payload := b[walFrameHeader : walFrameHeader+n]
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(b[8:]) {
		return nil, 0, fmt.Errorf("%w: checksum mismatch", errWALFrame)
	}
	return payload, walFrameHeader + n, nil
}

// goodFrameAfter says whether a valid frame starts anywhere in b.
func goodFrameAfter(b []byte) bool {
	for {
		i := bytes.Index(b, walMagic)
		if i < 0 {
			return false
		}
		if _, _, err := parseFrame(b[i:]); err == nil {
			return true
		}
		b = b[i+1:]
	}
}

// readFrame calls fn with each record of a checked payload, whose first
// entry must be seq next, and returns the seq after its last entry.
func readFrame(p []byte, next uint64, fn func(seq, cpSize uint64, value []byte) error) (uint64, error) {
	first, count := binary.BigEndian.Uint64(p), binary.BigEndian.Uint32(p[8:])
	if first != next {
		return 0, fmt.Errorf("frame starts at seq %d, want %d", first, next)
	}
	p = p[walPayloadHeader:]
	for i := uint32(0); i < count; i++ {
		if len(p) < walRecordHeader || uint64(len(p)-walRecordHeader) < uint64(binary.BigEndian.Uint32(p)) {
			return 0, fmt.Errorf("frame at seq %d: record %d overruns the frame", first, i)
		}
		n, cpSize := binary.BigEndian.Uint32(p), binary.BigEndian.Uint64(p[4:])
		value := p[walRecordHeader : walRecordHeader+n]
		p = p[walRecordHeader+n:]
		if cpSize != 0 {
			if err := fn(0, cpSize, value); err != nil {
				return 0, err
			}
			continue
		}
		if err := fn(next, 0, value); err != nil {
			return 0, err
		}
		next++
	}
	if len(p) != 0 {
		return 0, fmt.Errorf("frame at seq %d: %d bytes after its %d records", first, len(p), count)
	}
	return next, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
