package bundle

import (
	"bytes"
	"io"
	"sync"
)

// Ring is a bounded in-memory buffer of the most recent log lines. It is
// an io.Writer for zerolog output (tee the service log into it); it keeps
// whole lines, drops the oldest when either bound is passed, and replaces
// known secret values on write with scrub. Safe for concurrent use.
type Ring struct {
	mu       sync.Mutex
	lines    [][]byte // circular; oldest at head
	head     int
	count    int
	bytes    int
	maxBytes int
	partial  []byte // a line still waiting for its newline
	scrub    func(string) string
}

// NewRing returns a Ring holding at most maxLines lines and maxBytes bytes
// (both at least 1). scrub, if not nil, is applied to every line as it is
// written: pass (*redact.Redactor).KnownOnly so no known value ever sits
// in memory; the bundle applies the full rules again when it is built.
func NewRing(maxLines, maxBytes int, scrub func(string) string) *Ring {
	return &Ring{lines: make([][]byte, max(1, maxLines)), maxBytes: max(1, maxBytes), scrub: scrub}
}

// Write appends p's lines. A trailing incomplete line is held until its
// newline arrives (or until it exceeds the byte bound, when it is cut).
// It never fails.
func (r *Ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	data := p
	if len(r.partial) > 0 {
		data = append(r.partial, p...)
		r.partial = nil
	}
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			if len(data) > r.maxBytes {
				r.push(data[:r.maxBytes])
				data = data[r.maxBytes:]
				continue
			}
			r.partial = append([]byte(nil), data...)
			break
		}
		r.push(data[:i+1])
		data = data[i+1:]
	}
	return len(p), nil
}

// push stores one line, evicting the oldest as needed. Caller holds mu.
func (r *Ring) push(line []byte) {
	if r.scrub != nil {
		line = []byte(r.scrub(string(line)))
	} else {
		line = append([]byte(nil), line...)
	}
	if len(line) > r.maxBytes {
		line = line[:r.maxBytes]
	}
	for r.count > 0 && (r.count == len(r.lines) || r.bytes+len(line) > r.maxBytes) {
		r.bytes -= len(r.lines[r.head])
		r.lines[r.head] = nil
		r.head = (r.head + 1) % len(r.lines)
		r.count--
	}
	r.lines[(r.head+r.count)%len(r.lines)] = line
	r.count++
	r.bytes += len(line)
}

// Snapshot returns a copy of the buffered lines, oldest first.
func (r *Ring) Snapshot() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([][]byte, 0, r.count)
	for i := 0; i < r.count; i++ {
		out = append(out, r.lines[(r.head+i)%len(r.lines)])
	}
	return out
}

// WriteTo writes the buffered lines, oldest first, to w.
func (r *Ring) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for _, l := range r.Snapshot() {
		k, err := w.Write(l)
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
