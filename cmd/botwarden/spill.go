package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// spillFileName holds, next to the ledger, the events of effects applied
// while the ledger refused them (core.Spill): one JSON event per line.
const spillFileName = "unaudited.jsonl"

// fileSpill is the service's core.Spill: a file in the data folder,
// replaced atomically and synced on every Save, removed when empty.
type fileSpill struct{ path string }

func newFileSpill(dataDir string) *fileSpill {
	return &fileSpill{path: filepath.Join(dataDir, spillFileName)}
}

// Save replaces the file with events, or removes it when there are none.
func (s *fileSpill) Save(events [][]byte) error {
	dir := filepath.Dir(s.path)
	if len(events) == 0 {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", s.path, err)
		}
		return syncDir(dir)
	}
	tmp, err := os.CreateTemp(dir, spillFileName+".tmp-*")
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	defer os.Remove(tmp.Name())
	var b bytes.Buffer
	for _, ev := range events {
		b.Write(ev)
		b.WriteByte('\n')
	}
	_, err = tmp.Write(b.Bytes())
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path)
	}
	if err != nil {
		return fmt.Errorf("spill %d events to %s: %w", len(events), s.path, err)
	}
	return syncDir(dir)
}

// Load returns the events in the file (none if there is no file). A line
// that is not JSON is an error naming it: the file is left as it is, for
// a person to look at, and the service does not start on a guess.
func (s *fileSpill) Load() ([][]byte, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.path, err)
	}
	b = bytes.TrimRight(b, "\n")
	if len(b) == 0 {
		return nil, nil
	}
	var out [][]byte
	for i, line := range bytes.Split(b, []byte("\n")) {
		if !json.Valid(line) {
			return nil, fmt.Errorf("%s line %d: not a JSON event (a torn write? the file is replaced whole, so look at it by hand)", s.path, i+1)
		}
		out = append(out, line)
	}
	return out, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
