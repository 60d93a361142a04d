package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// FileEntry is one file of a bundle as the manifest lists it.
type FileEntry struct {
	Path   string `json:"path"` // slash-separated, relative to the bundle root
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// stage is a private folder where a bundle's files are written before
// they are packed, so their sizes and hashes are known for the manifest
// without holding any of them in memory.
type stage struct {
	dir   string
	files []FileEntry
}

// newStage creates a staging folder under dir.
func newStage(dir string) (*stage, error) {
	d, err := os.MkdirTemp(dir, ".staging-")
	if err != nil {
		return nil, fmt.Errorf("create staging folder: %w", err)
	}
	return &stage{dir: d}, nil
}

// remove deletes the staging folder.
func (s *stage) remove() { _ = os.RemoveAll(s.dir) }

// add writes one file with fill and records its size and hash.
func (s *stage) add(name string, fill func(w io.Writer) error) error {
	if !validName(name) {
		return fmt.Errorf("stage %q: invalid file name", name)
	}
	p := filepath.Join(s.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("stage %s: %w", name, err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("stage %s: %w", name, err)
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	err = fill(cw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("stage %s: %w", name, err)
	}
	s.files = append(s.files, FileEntry{Path: name, Size: cw.n, SHA256: hex.EncodeToString(h.Sum(nil))})
	return nil
}

// addBytes writes a file holding b.
func (s *stage) addBytes(name string, b []byte) error {
	return s.add(name, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// open opens a staged file for packing.
func (s *stage) open(name string) (*os.File, error) {
	return os.Open(filepath.Join(s.dir, filepath.FromSlash(name)))
}

// validName accepts clean, relative, slash-separated names without dot
// segments, so a bot id can never write outside the staging folder.
func validName(name string) bool {
	if name == "" || path.IsAbs(name) || path.Clean(name) != name || strings.Contains(name, `\`) {
		return false
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.HasPrefix(seg, ".") {
			return false
		}
	}
	return true
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
