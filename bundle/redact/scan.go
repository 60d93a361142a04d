package redact

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrLeak is returned (wrapped in a *LeakError) when a scan finds a secret.
var ErrLeak = errors.New("secret found")

// LeakError says where a scan found a secret and which rule fired. It never
// carries the secret.
type LeakError struct {
	File    string // set by callers that scan many files
	Rule    string
	Variant string // for known_secret: which encoding ("raw", "base64", …)
	Secret  int    // for known_secret: index of the value in New's list
	Offset  int64  // approximate byte offset of the hit in the stream
}

// Error names the file, rule and offset.
func (e *LeakError) Error() string {
	s := fmt.Sprintf("secret found by rule %s", e.Rule)
	if e.Rule == RuleKnownSecret {
		s += fmt.Sprintf(" (value #%d, %s form)", e.Secret, e.Variant)
	}
	if e.File != "" {
		s += " in " + e.File
	}
	return s + fmt.Sprintf(" near byte %d", e.Offset)
}

// Unwrap makes errors.Is(err, ErrLeak) true.
func (e *LeakError) Unwrap() error { return ErrLeak }

// scanChunk is how much a scan reads at a time; scanOverlap is how much of
// the previous chunk it keeps so a match across the boundary is still
// seen whole. Detection patterns must match within scanOverlap bytes.
const (
	scanChunk   = 64 << 10
	scanOverlap = 4 << 10
)

// Scan reads r to the end and returns a *LeakError for the first known
// secret form or rule match it finds, nil if there is none, or the read
// error. Memory stays bounded whatever the stream's size.
func (r *Redactor) Scan(rd io.Reader) error {
	overlap := scanOverlap
	for _, n := range r.needles {
		if len(n.text) > overlap {
			overlap = len(n.text)
		}
	}
	buf := make([]byte, 0, scanChunk+overlap)
	var base int64 // stream offset of buf[0]
	for {
		n, err := io.ReadFull(rd, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if leak := r.find(buf); leak != nil {
			leak.Offset += base
			return leak
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		keep := min(overlap, len(buf))
		base += int64(len(buf) - keep)
		copy(buf, buf[len(buf)-keep:])
		buf = buf[:keep]
	}
}

// find returns the first leak in b, if any.
func (r *Redactor) find(b []byte) *LeakError {
	for _, n := range r.needles {
		if i := bytes.Index(b, []byte(n.text)); i >= 0 {
			return &LeakError{Rule: RuleKnownSecret, Variant: n.variant, Secret: n.secret, Offset: int64(i)}
		}
	}
	lower := lowerASCII(b)
	for _, rule := range r.rules {
		if rule.Detect != nil {
			if loc := rule.Detect.FindIndex(b); loc != nil {
				return &LeakError{Rule: rule.Name, Offset: int64(loc[0])}
			}
			continue
		}
		for _, idx := range rule.matches(b, lower) {
			if start, _ := rule.span(idx); start >= 0 && !rule.skip(b, idx, start) {
				return &LeakError{Rule: rule.Name, Offset: int64(idx[0])}
			}
		}
	}
	return nil
}
