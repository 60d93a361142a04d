package ledger

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/tlog"
)

// TimeLayout is how export lines write append times: RFC 3339, UTC, always
// nine fractional digits.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// CheckpointHeader is the HTTP header that carries, base64-encoded, the
// signed checkpoint an export served over HTTP verifies against (the
// admin endpoint and the operator API both use it; the body is the export).
const CheckpointHeader = "X-Botwarden-Checkpoint"

// Export writes entries from..to (from 0 means 1, to 0 means the head) to
// w as JSON Lines, one object per entry
//
//	{"seq":N,"time":"<TimeLayout>","prev":"<hex>","hash":"<hex>","event":<event bytes verbatim>}
//
// followed by one trailer line
//
//	{"export":"botwarden-ledger-v1","from":F,"to":T,"prefix":["<hex>",...]}
//
// where prefix holds the Merkle hashes of the complete subtrees covering
// entries 1..F-1 (largest first; empty when F is 1), so that the range
// verifies on its own. It returns the signed checkpoint for size T, which
// the caller stores beside the export. Memory use does not depend on the
// range's size.
func (l *Log) Export(ctx context.Context, w io.Writer, from, to uint64) ([]byte, error) {
	if from == 0 {
		from = 1
	}
	head := l.Head().Size
	if to == 0 {
		to = head
	}
	if to > head || from > to {
		return nil, fmt.Errorf("export %d..%d: %w (the log holds 1..%d)", from, to, ErrNotFound, head)
	}
	cp, err := l.CheckpointAt(ctx, to)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	prefix, err := l.prefixHashes(from - 1)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var line []byte
	err = l.entries(ctx, from, to, func(e Entry) error {
		line = appendExportLine(line[:0], e)
		_, err := bw.Write(line)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("export %d..%d: %w", from, to, err)
	}
	bw.Write(appendTrailer(line[:0], from, to, prefix))
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("export %d..%d: %w", from, to, err)
	}
	return cp, nil
}

// appendExportLine writes one entry line by hand: json.Marshal would
// re-escape <, > and & inside the event and change the hashed bytes.
func appendExportLine(b []byte, e Entry) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, `,"time":"`...)
	b = e.Time.UTC().AppendFormat(b, TimeLayout)
	b = append(b, `","prev":"`...)
	b = hex.AppendEncode(b, e.Prev[:])
	b = append(b, `","hash":"`...)
	b = hex.AppendEncode(b, e.Hash[:])
	b = append(b, `","event":`...)
	b = append(b, e.Event...)
	return append(b, "}\n"...)
}

const trailerMagic = `{"export":"botwarden-ledger-v1"`

func appendTrailer(b []byte, from, to uint64, prefix []tlog.Hash) []byte {
	b = append(b, trailerMagic...)
	b = append(b, `,"from":`...)
	b = strconv.AppendUint(b, from, 10)
	b = append(b, `,"to":`...)
	b = strconv.AppendUint(b, to, 10)
	b = append(b, `,"prefix":[`...)
	for i, h := range prefix {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = hex.AppendEncode(b, h[:])
		b = append(b, '"')
	}
	return append(b, "]}\n"...)
}

// prefixHashes returns the stored hashes of the complete subtrees covering
// the first n entries, largest first.
func (l *Log) prefixHashes(n uint64) ([]tlog.Hash, error) {
	nodes := prefixNodes(int64(n))
	if len(nodes) == 0 {
		return nil, nil
	}
	idx := make([]int64, len(nodes))
	for i, nd := range nodes {
		idx[i] = tlog.StoredHashIndex(nd.level, nd.index)
	}
	var out []tlog.Hash
	err := l.db.View(func(txn *badger.Txn) error {
		var err error
		out, err = txnHashReader{txn: txn}.ReadHashes(idx)
		return err
	})
	return out, err
}
