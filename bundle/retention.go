package bundle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// leftoverAge is how old a staging folder or partial archive must be
// before Prune treats it as left behind by a crash.
const leftoverAge = time.Hour

// Prune applies retention to the bundles in dir: it deletes bundles older
// than maxAge and then the oldest beyond the newest keep (0 disables either
// limit), plus staging leftovers older than an hour. Only files this
// package writes (bundle-*.tar.gz, .staging-*, .bundle-*.partial) are
// touched. Age is the file's modification time.
func Prune(dir string, keep int, maxAge time.Duration, now time.Time) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("prune %s: %w", dir, err)
	}
	type bundleFile struct {
		name string
		mod  time.Time
	}
	var bundles []bundleFile
	var errs []error
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		name := e.Name()
		switch {
		case strings.HasPrefix(name, ".staging-") || (strings.HasPrefix(name, ".bundle-") && strings.HasSuffix(name, ".partial")):
			if now.Sub(info.ModTime()) > leftoverAge {
				errs = append(errs, os.RemoveAll(filepath.Join(dir, name)))
			}
		case strings.HasPrefix(name, "bundle-") && strings.HasSuffix(name, ".tar.gz") && info.Mode().IsRegular():
			bundles = append(bundles, bundleFile{name, info.ModTime()})
		}
	}
	sort.Slice(bundles, func(i, j int) bool {
		if !bundles[i].mod.Equal(bundles[j].mod) {
			return bundles[i].mod.After(bundles[j].mod)
		}
		return bundles[i].name > bundles[j].name
	})
	for i, bf := range bundles {
		if (keep > 0 && i >= keep) || (maxAge > 0 && now.Sub(bf.mod) > maxAge) {
			errs = append(errs, os.Remove(filepath.Join(dir, bf.name)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("prune %s: %w", dir, err)
	}
	return nil
}

// sortEntries sorts file entries by path.
func sortEntries(es []FileEntry) {
	sort.Slice(es, func(i, j int) bool { return es[i].Path < es[j].Path })
}
