package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"golang.org/x/mod/sumdb/tlog"
)

// Domain is the domain-separation prefix of every chain hash. It is
// followed by one 0x00 byte (see ChainHash).
const Domain = "botwarden-ledger-v1"

// MaxEventSize is the largest event Append accepts, in bytes.
const MaxEventSize = 256 << 10

// MaxAppendBytes bounds the events of one Append, AppendAll or Queue
// call together: a call is committed in one group, whose size Badger caps.
const MaxAppendBytes = 512 << 10

// The errors callers branch on.
var (
	// ErrUnavailable means the ledger cannot record anything right now
	// (closed, disk full, read-only, write failure). Callers refuse
	// dangerous operations on it.
	ErrUnavailable = errors.New("ledger unavailable")
	// ErrInvalidEvent means the event is not one compact JSON object of at
	// most MaxEventSize bytes. Nothing was recorded.
	ErrInvalidEvent = errors.New("invalid ledger event")
	// ErrRollback means the stored log is shorter than, or has a different
	// Merkle root from, a checkpoint this ledger already signed.
	ErrRollback = errors.New("ledger rollback or fork detected")
	// ErrLocked means another process (usually the running service) holds
	// the ledger's database lock.
	ErrLocked = errors.New("ledger locked by another process")
	// ErrNotFound means the requested sequence number or checkpoint does not
	// exist.
	ErrNotFound = errors.New("not found")
	// ErrTampered is wrapped by every verification failure (*VerifyError).
	ErrTampered = errors.New("ledger verification failed")
	// ErrFormat means the database was written in a store format this
	// version does not read. Nothing was changed.
	ErrFormat = errors.New("unknown ledger store format")
)

// Entry is one stored ledger entry.
type Entry struct {
	Seq   uint64
	Time  time.Time // append time, UTC, nanosecond precision
	Prev  [32]byte  // chain hash of entry Seq-1; zero for Seq 1
	Hash  [32]byte  // ChainHash of this entry
	Event []byte    // the event bytes exactly as appended
}

// ChainHash returns SHA-256(Domain || 0x00 || seq (8 bytes BE) ||
// unixNano (8 bytes BE) || prev (32 bytes) || event).
func ChainHash(seq uint64, unixNano int64, prev [32]byte, event []byte) [32]byte {
	var hdr [len(Domain) + 1 + 8 + 8 + 32]byte
	n := copy(hdr[:], Domain)
	n++ // 0x00 separator
	binary.BigEndian.PutUint64(hdr[n:], seq)
	binary.BigEndian.PutUint64(hdr[n+8:], uint64(unixNano))
	copy(hdr[n+16:], prev[:])
	h := sha256.New()
	h.Write(hdr[:])
	h.Write(event)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// entryHeaderSize is the fixed stored value prefix: time(8) prev(32)
// hash(32). The Merkle nodes the entry completes follow it (nodeCount).
const entryHeaderSize = 8 + 32 + 32

// nodeCount is how many Merkle tree nodes above the leaves entry seq
// completes: the nodes at levels 1..nodeCount(seq) whose last leaf it is.
// Their hashes are stored in the entry's value, right after its header.
func nodeCount(seq uint64) int { return bits.TrailingZeros64(seq) }

// headerLen is the length of entry seq's stored value before its event.
func headerLen(seq uint64) int { return entryHeaderSize + tlog.HashSize*nodeCount(seq) }

// Badger key prefixes. Sequence numbers are 8-byte big endian so that key
// order is numeric order.
const (
	prefixEntry      = 'e' // e<seq>  -> time prev hash nodes event (encodeEntry)
	prefixCheckpoint = 'c' // c<size> -> signed checkpoint note
	prefixMeta       = 'm' // m<name> -> store metadata (formatKey)
)

// formatKey holds the store format; formatValue names this one. The
// first format (no key) kept each Merkle hash under its own 'h' key.
var (
	formatKey   = []byte("mformat")
	formatValue = []byte("botwarden-ledger-store-2")
)

func key(prefix byte, n uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], n)
	return k
}

// appendKey appends key(prefix, n) to b.
func appendKey(b []byte, prefix byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64(append(b, prefix), n)
}

func keyNum(k []byte) uint64 { return binary.BigEndian.Uint64(k[1:]) }

// encodeEntry lays out entry seq's stored value: unixNano, prev, hash,
// the hashes of the nodeCount(seq) Merkle nodes it completes (levels 1
// up), event.
func encodeEntry(seq uint64, unixNano int64, prev, hash [32]byte, nodes []tlog.Hash, event []byte) []byte {
	if len(nodes) != nodeCount(seq) {
		panic(fmt.Sprintf("ledger: entry %d completes %d Merkle nodes, got %d", seq, nodeCount(seq), len(nodes)))
	}
	n := headerLen(seq)
	v := make([]byte, n+len(event))
	binary.BigEndian.PutUint64(v, uint64(unixNano))
	copy(v[8:], prev[:])
	copy(v[40:], hash[:])
	for i, h := range nodes {
		copy(v[entryHeaderSize+i*tlog.HashSize:], h[:])
	}
	copy(v[n:], event)
	return v
}

// decodeEntry splits a stored value; the event aliases v.
func decodeEntry(seq uint64, v []byte) (Entry, error) {
	n := headerLen(seq)
	if len(v) < n {
		return Entry{}, fmt.Errorf("entry %d: stored value of %d bytes is shorter than its %d-byte header", seq, len(v), n)
	}
	e := Entry{Seq: seq, Time: time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC(), Event: v[n:]}
	copy(e.Prev[:], v[8:40])
	copy(e.Hash[:], v[40:72])
	return e, nil
}

// storedNode returns the hash entry seq's value v stores for the node it
// completes at level (1..nodeCount(seq)); v must be at least headerLen(seq).
func storedNode(v []byte, level int) (h tlog.Hash) {
	copy(h[:], v[entryHeaderSize+(level-1)*tlog.HashSize:])
	return h
}

// ValidateEvent reports whether event is acceptable to Append: one JSON
// object, compact (no insignificant whitespace), at most MaxEventSize bytes,
// valid UTF-8 and without a member name repeated in any object: an audit
// event must read the same to every parser (with a repeated name, some
// take the first value and others the last).
//
// Verification asks less of a recorded event (recordedEvent): only what
// Append required when the format began, so that no rule added since can
// fail a ledger written before it.
func ValidateEvent(event []byte) error {
	return checkEvent(event, func(b []byte) bool { return jsontext.Value(b).IsValid() },
		"not valid JSON (or a member name repeated, or invalid UTF-8)")
}

// recordedEvent reports whether a recorded event is well formed for
// verification: a compact JSON object (encoding/json's grammar) within the
// size limit.
func recordedEvent(event []byte) error {
	return checkEvent(event, json.Valid, "not valid JSON")
}

func checkEvent(event []byte, valid func([]byte) bool, invalid string) error {
	switch {
	case len(event) == 0:
		return fmt.Errorf("%w: empty", ErrInvalidEvent)
	case len(event) > MaxEventSize:
		return fmt.Errorf("%w: %d bytes exceeds the %d-byte limit", ErrInvalidEvent, len(event), MaxEventSize)
	case event[0] != '{':
		return fmt.Errorf("%w: not a JSON object", ErrInvalidEvent)
	case !valid(event):
		return fmt.Errorf("%w: %s", ErrInvalidEvent, invalid)
	}
	if !isCompact(event) {
		return fmt.Errorf("%w: not compact JSON (insignificant whitespace)", ErrInvalidEvent)
	}
	return nil
}

// isCompact reports whether valid JSON b has no whitespace outside
// strings, i.e. whether json.Compact would leave it unchanged.
func isCompact(b []byte) bool {
	inString, escaped := false, false
	for _, c := range b {
		if !escaped && c > '"' && c != '\\' { // most bytes: nothing to track
			continue
		}
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			return false
		}
	}
	return true
}
