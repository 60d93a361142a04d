package ledger

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// ExportReport describes a verified export.
type ExportReport struct {
	From, To   uint64
	Entries    uint64
	Bytes      int64
	Duration   time.Duration
	Checkpoint Checkpoint  // the signed checkpoint the export matches
	Since      *Checkpoint // the older checkpoint it is consistent with, if given
}

// VerifyExport checks an export (see Export) offline: every line's chain
// hash and prev link, the Merkle root at the export's last seq against the
// checkpoint signed by vkey, and, if since is not nil, that the older
// checkpoint since (also signed by vkey) is a prefix of the same history;
// its size must lie between from-1 and to. It needs no database and
// streams: memory does not grow with the export. A failure is a
// *VerifyError naming the first bad seq, or an error wrapping ErrTampered.
func VerifyExport(ctx context.Context, r io.Reader, checkpoint []byte, vkey string, since []byte) (ExportReport, error) {
	start := time.Now()
	var rep ExportReport
	cp, err := OpenCheckpoint(checkpoint, vkey)
	if err != nil {
		return rep, fmt.Errorf("checkpoint: %w", err)
	}
	rep.Checkpoint = cp
	v := exportVerifier{cp: cp, h: newChainHasher()}
	if since != nil {
		c, err := OpenCheckpoint(since, vkey)
		if err != nil {
			return rep, fmt.Errorf("since checkpoint: %w", err)
		}
		v.old, rep.Since = &c, &c
	}
	br := bufio.NewReaderSize(r, MaxEventSize+1024)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return rep, &VerifyError{Seq: v.lastSeq + 1, Problem: "line too long"}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return rep, fmt.Errorf("read export: %w", err)
		}
		if len(line) > 0 {
			rep.Bytes += int64(len(line))
			if err := v.line(line); err != nil {
				return rep, err
			}
			if v.entries&1023 == 0 && ctx.Err() != nil {
				return rep, ctx.Err()
			}
		}
		if err != nil { // io.EOF
			break
		}
	}
	if err := v.finish(); err != nil {
		return rep, err
	}
	rep.From, rep.To, rep.Entries, rep.Duration = v.from, v.lastSeq, v.entries, time.Since(start)
	return rep, nil
}

// exportVerifier checks lines in order. The Merkle subtrees of the range
// are built as leaves arrive; the prefix subtrees (entries before from)
// come with the trailer and are joined at the end.
type exportVerifier struct {
	cp       Checkpoint
	old      *Checkpoint
	oldNodes []node // range subtrees when the old checkpoint's size was reached
	entries  uint64
	from     uint64
	lastSeq  uint64
	lastHash [32]byte
	cr       compactRange
	trailer  *exportTrailer
	h        *chainHasher
}

func (v *exportVerifier) line(line []byte) error {
	next := v.lastSeq + 1
	if v.trailer != nil {
		return &VerifyError{Seq: next, Problem: "data after the trailer line"}
	}
	if line[len(line)-1] != '\n' {
		return &VerifyError{Seq: next, Problem: "truncated line (no newline at end of export)"}
	}
	if bytes.HasPrefix(line, []byte(trailerMagic)) {
		t, err := parseTrailer(line)
		if err != nil {
			return &VerifyError{Seq: next, Problem: err.Error()}
		}
		v.trailer = &t
		return nil
	}
	e, err := parseExportLine(line)
	if err != nil {
		return &VerifyError{Seq: next, Problem: err.Error()}
	}
	return v.entry(e)
}

func (v *exportVerifier) entry(e Entry) error {
	if v.entries == 0 {
		if e.Seq == 0 {
			return &VerifyError{Seq: 0, Problem: "seq 0 does not exist"}
		}
		v.from, v.cr.n = e.Seq, int64(e.Seq-1)
	} else if e.Seq != v.lastSeq+1 {
		return &VerifyError{Seq: v.lastSeq + 1, Problem: fmt.Sprintf("entry missing or out of order (found seq %d)", e.Seq)}
	}
	if got := v.h.hash(e.Seq, e.Time.UnixNano(), e.Prev[:], e.Event); got != e.Hash {
		return &VerifyError{Seq: e.Seq, Problem: "hash mismatch: the entry's bytes do not hash to its stated hash"}
	}
	if v.entries > 0 && e.Prev != v.lastHash {
		return &VerifyError{Seq: e.Seq, Problem: "bad prev link: prev is not the hash of the previous entry"}
	}
	if e.Seq == 1 && e.Prev != ([32]byte{}) {
		return &VerifyError{Seq: 1, Problem: "bad prev link: seq 1 must have an all-zero prev"}
	}
	if err := recordedEvent(e.Event); err != nil {
		return &VerifyError{Seq: e.Seq, Problem: err.Error()}
	}
	v.entries++
	v.lastSeq, v.lastHash = e.Seq, e.Hash
	v.cr.push(leafHash(e.Hash), nil)
	if v.old != nil && v.old.Size == e.Seq {
		v.oldNodes = append([]node(nil), v.cr.nodes...)
	}
	return nil
}

func (v *exportVerifier) finish() error {
	next := v.lastSeq + 1
	switch {
	case v.trailer == nil:
		return &VerifyError{Seq: next, Problem: "export truncated: no trailer line after the last entry"}
	case v.entries == 0:
		return &VerifyError{Seq: v.trailer.from, Problem: "export holds no entries"}
	case v.trailer.from != v.from || v.trailer.to != v.lastSeq:
		return &VerifyError{Seq: next, Problem: fmt.Sprintf("trailer says %d..%d but the export holds %d..%d (entries removed?)", v.trailer.from, v.trailer.to, v.from, v.lastSeq)}
	case v.cp.Size != v.lastSeq:
		return &VerifyError{Seq: next, Problem: fmt.Sprintf("the checkpoint is for size %d but the export ends at seq %d", v.cp.Size, v.lastSeq)}
	}
	prefix := prefixNodes(int64(v.from - 1))
	if len(prefix) != len(v.trailer.prefix) {
		return &VerifyError{Seq: v.from, Problem: fmt.Sprintf("trailer has %d prefix hashes, %d expected for %d earlier entries", len(v.trailer.prefix), len(prefix), v.from-1)}
	}
	for i := range prefix {
		prefix[i].hash = v.trailer.prefix[i]
	}
	if root := joinRoot(prefix, v.cr.nodes); root != v.cp.Root {
		return &VerifyError{Seq: v.lastSeq, Problem: fmt.Sprintf("Merkle root mismatch at size %d: computed %s, checkpoint signed %s", v.lastSeq, hex.EncodeToString(root[:]), hex.EncodeToString(v.cp.Root[:]))}
	}
	return v.checkOld(prefix)
}

// checkOld proves the older checkpoint is a prefix of this history: its
// root is recomputed from the same leaves.
func (v *exportVerifier) checkOld(prefix []node) error {
	if v.old == nil {
		return nil
	}
	var root tlog.Hash
	switch {
	case v.old.Size+1 == v.from:
		root = joinRoot(prefix, nil)
	case v.old.Size >= v.from && v.old.Size <= v.lastSeq:
		root = joinRoot(prefix, v.oldNodes)
	default:
		return fmt.Errorf("since checkpoint: size %d is outside what export %d..%d can prove (needs %d..%d)", v.old.Size, v.from, v.lastSeq, v.from-1, v.lastSeq)
	}
	if root != v.old.Root {
		return &VerifyError{Seq: v.old.Size, Problem: fmt.Sprintf("inconsistent with the older checkpoint: root at size %d is %s, it signed %s (history rewritten)", v.old.Size, hex.EncodeToString(root[:]), hex.EncodeToString(v.old.Root[:]))}
	}
	return nil
}
