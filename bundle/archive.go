package bundle

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"time"

	"github.com/mholt/archives"
)

// format is the bundle's archive format: tar in gzip. The gzip header
// carries no name and no time, so equal contents give equal bytes.
var format = archives.CompressedArchive{
	Compression: archives.Gz{},
	Archival:    archives.Tar{},
	Extraction:  archives.Tar{},
}

// fileMode is every bundle file's mode.
const fileMode fs.FileMode = 0o644

// packFiles writes the staged files (and nothing else) to w as a
// deterministic .tar.gz: sorted paths under root/, mode 0644, owner 0:0
// without names, modification time mtime. Files are streamed from disk.
func packFiles(ctx context.Context, w io.Writer, st *stage, root string, mtime time.Time) error {
	entries := append([]FileEntry(nil), st.files...)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	files := make([]archives.FileInfo, 0, len(entries))
	for _, e := range entries {
		name := e.Path
		files = append(files, archives.FileInfo{
			FileInfo:      fixedInfo{name: path.Base(name), size: e.Size, mtime: mtime},
			NameInArchive: path.Join(root, name),
			Open:          func() (fs.File, error) { return st.open(name) },
		})
	}
	if err := format.Archive(ctx, w, files); err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	return nil
}

// fixedInfo is a regular file's metadata with everything that varies
// between hosts and runs fixed. Sys is nil, so tar records uid/gid 0 and
// no user or group names.
type fixedInfo struct {
	name  string
	size  int64
	mtime time.Time
}

func (f fixedInfo) Name() string       { return f.name }
func (f fixedInfo) Size() int64        { return f.size }
func (f fixedInfo) Mode() fs.FileMode  { return fileMode }
func (f fixedInfo) ModTime() time.Time { return f.mtime }
func (f fixedInfo) IsDir() bool        { return false }
func (f fixedInfo) Sys() any           { return nil }

// walkArchive streams every regular file of the bundle read from r to fn,
// with its path relative to the bundle root.
func walkArchive(ctx context.Context, r io.Reader, fn func(name string, size int64, rd io.Reader) error) error {
	return format.Extract(ctx, r, func(ctx context.Context, f archives.FileInfo) error {
		if !f.Mode().IsRegular() {
			return fmt.Errorf("%s: %w", f.NameInArchive, ErrMalformed)
		}
		name, ok := stripRoot(f.NameInArchive)
		if !ok {
			return fmt.Errorf("%s: outside the bundle root: %w", f.NameInArchive, ErrMalformed)
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("open %s: %w", name, err)
		}
		defer rc.Close()
		return fn(name, f.Size(), rc)
	})
}

// stripRoot removes the bundle's top folder from an archive path.
func stripRoot(p string) (string, bool) {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			rest := p[i+1:]
			return rest, validName(rest)
		}
	}
	return "", false
}
