package source

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// File is one watched JSON document.
type File struct {
	Path string
	Kind Kind
}

// Watcher polls JSON files and hands every changed, valid document to the
// Sink. A file is read and hashed on each poll (small files; mtime alone
// misses same-size rewrites within its granularity). Content already
// handled, good or bad, is not handled again, so a bad file is logged once
// and the last good state stays until the file changes.
type Watcher struct {
	files []File
	sink  Sink
	dec   decoder
	log   zerolog.Logger
	mu    sync.Mutex                   // serialises polls
	seen  map[string][sha256.Size]byte // path -> hash of content handled
	gone  map[string]bool              // path -> missing was already logged
}

// NewWatcher returns a watcher of files. It does nothing until Poll or Run.
func NewWatcher(files []File, sink Sink, v Validator, log zerolog.Logger) (*Watcher, error) {
	if sink == nil || v == nil {
		return nil, errors.New("watcher: sink and validator are required")
	}
	for _, f := range files {
		if f.Path == "" || (f.Kind != KindSafety && f.Kind != KindGates) {
			return nil, fmt.Errorf("watcher: bad file %+v", f)
		}
	}
	return &Watcher{files: files, sink: sink, dec: decoder{v: v}, log: log,
		seen: make(map[string][sha256.Size]byte), gone: make(map[string]bool)}, nil
}

// Run polls once at once and then on every tick until ctx ends. Callers
// pass a ticker's channel (time.NewTicker(2*time.Second).C), tests their own.
func (w *Watcher) Run(ctx context.Context, ticks <-chan time.Time) {
	for {
		if err := w.Poll(ctx); err != nil {
			w.log.Warn().Err(err).Msg("watched document rejected; last good state kept")
		}
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
	}
}

// Poll checks every file once. It returns the rejections of this poll
// (errors wrapping ErrInvalid or ErrRefused, joined); unchanged files and
// content already handled return nothing. A missing file is logged once and
// changes nothing.
func (w *Watcher) Poll(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	for _, f := range w.files {
		if err := w.check(ctx, f); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", f.Kind, f.Path, err))
		}
	}
	return errors.Join(errs...)
}

func (w *Watcher) check(ctx context.Context, f File) error {
	raw, err := readBounded(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		if !w.gone[f.Path] {
			w.gone[f.Path] = true
			w.log.Warn().Str("path", f.Path).Str("kind", string(f.Kind)).Msg("watched document missing; last good state kept")
		}
		return nil
	}
	w.gone[f.Path] = false
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	if prev, ok := w.seen[f.Path]; ok && prev == sum {
		return nil
	}
	src, err := w.dec.apply(ctx, w.sink, f.Kind, raw)
	if errors.Is(err, ErrRefused) {
		return err // not marked seen: the same content is offered again next poll
	}
	w.seen[f.Path] = sum
	if err != nil {
		return err
	}
	w.log.Info().Str("path", f.Path).Str("kind", string(f.Kind)).Str("source", src).Msg("watched document applied")
	return nil
}

// readBounded reads a file of at most MaxDocBytes; a larger one is invalid.
func readBounded(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	raw, err := io.ReadAll(io.LimitReader(fh, MaxDocBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(raw) > MaxDocBytes {
		return nil, fmt.Errorf("%w: file exceeds %d bytes", ErrInvalid, MaxDocBytes)
	}
	return raw, nil
}
