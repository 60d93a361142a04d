package ledger

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// parseExportLine parses one entry line exactly as Export writes it. The
// layout is fixed (docs/ledger.md), so the parser is strict and fast; the
// event is the bytes between `"event":` and the final `}` (aliasing line).
func parseExportLine(line []byte) (Entry, error) {
	var e Entry
	rest, ok := bytes.CutPrefix(line, []byte(`{"seq":`))
	if !ok {
		return e, errors.New(`malformed line: want {"seq":`)
	}
	i := 0
	for i < len(rest) && i < 20 && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	seq, err := strconv.ParseUint(string(rest[:i]), 10, 64)
	if err != nil || (i > 1 && rest[0] == '0') {
		return e, fmt.Errorf("malformed seq %q", rest[:i])
	}
	e.Seq = seq
	if rest, ok = bytes.CutPrefix(rest[i:], []byte(`,"time":"`)); !ok || len(rest) < len(TimeLayout) {
		return e, errors.New(`malformed line: want ,"time":"`)
	}
	if e.Time, err = time.Parse(TimeLayout, string(rest[:len(TimeLayout)])); err != nil {
		return e, fmt.Errorf("malformed time: %v", err)
	}
	if rest, ok = bytes.CutPrefix(rest[len(TimeLayout):], []byte(`","prev":"`)); !ok {
		return e, errors.New(`malformed line: want ","prev":"`)
	}
	if rest, err = cutHex(rest, e.Prev[:]); err != nil {
		return e, fmt.Errorf("malformed prev: %v", err)
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`","hash":"`)); !ok {
		return e, errors.New(`malformed line: want ","hash":"`)
	}
	if rest, err = cutHex(rest, e.Hash[:]); err != nil {
		return e, fmt.Errorf("malformed hash: %v", err)
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`","event":`)); !ok {
		return e, errors.New(`malformed line: want ","event":`)
	}
	if ev, ok := bytes.CutSuffix(rest, []byte("}\n")); ok {
		e.Event = ev
		return e, nil
	}
	return e, errors.New("malformed line: want } and a newline at the end")
}

// cutHex decodes len(dst) bytes of lower-case hex from the front of b.
func cutHex(b, dst []byte) ([]byte, error) {
	n := 2 * len(dst)
	if len(b) < n {
		return nil, errors.New("too short")
	}
	for _, c := range b[:n] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return nil, fmt.Errorf("not lower-case hex: %q", c)
		}
	}
	if _, err := hex.Decode(dst, b[:n]); err != nil {
		return nil, err
	}
	return b[n:], nil
}

type exportTrailer struct {
	from, to uint64
	prefix   []tlog.Hash
}

// parseTrailer parses the trailer line; it is small, so encoding/json is
// fine, but unknown fields are refused.
func parseTrailer(line []byte) (exportTrailer, error) {
	var raw struct {
		Export string   `json:"export"`
		From   uint64   `json:"from"`
		To     uint64   `json:"to"`
		Prefix []string `json:"prefix"`
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return exportTrailer{}, fmt.Errorf("malformed trailer: %v", err)
	}
	t := exportTrailer{from: raw.From, to: raw.To}
	for _, s := range raw.Prefix {
		var h tlog.Hash
		if rest, err := cutHex([]byte(s), h[:]); err != nil || len(rest) != 0 {
			return exportTrailer{}, fmt.Errorf("malformed trailer prefix hash %q", s)
		}
		t.prefix = append(t.prefix, h)
	}
	return t, nil
}
