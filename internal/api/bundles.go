package api

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/botwarden/botwarden/internal/core"
)

// BundleSHA256Header carries, on GET /v1/bundles/{command_id}, the SHA-256
// the ledger recorded for the bundle file.
const BundleSHA256Header = "X-Botwarden-Bundle-SHA256"

// getBundle serves the file an applied support_bundle command built, to an
// actor whose roles allow support_bundle here (the route checks it): what
// Slack uploads to the requester's channel, the API hands to its callers.
// The policy's permissions are per environment, not per target, so the
// bundle's target is not checked again. A bundle holds what people need
// to diagnose a bot, so who fetched which one is recorded
// (support_bundle.downloaded) before a byte of it goes out; if the ledger
// cannot record that, nothing is served.
func (s *Server) getBundle(w http.ResponseWriter, r *http.Request, actor string) {
	id := r.PathValue("command_id")
	o, ok, err := s.deps.Core.Outcome(r.Context(), id)
	if err != nil {
		writeProblem(w, r, newProblem(http.StatusServiceUnavailable, string(core.ReasonLedgerUnavailable), err.Error()))
		return
	}
	if !ok || o.Op != core.OpBundle || o.Status != core.StatusApplied || o.Bundle == nil {
		writeProblem(w, r, newProblem(http.StatusNotFound, ReasonNotFound, fmt.Sprintf("command %q built no support bundle", id)))
		return
	}
	f, err := s.openBundle(o.Bundle.Path)
	if err != nil {
		writeProblem(w, r, newProblem(http.StatusNotFound, ReasonNotFound, err.Error()))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		writeProblem(w, r, newProblem(http.StatusInternalServerError, ReasonInternal, err.Error()))
		return
	}
	if r.Method != http.MethodHead {
		if err := s.recordDownload(r, actor, o); err != nil {
			s.log.Error().Err(err).Str("command_id", id).Msg("bundle download not recorded: refused")
			writeProblem(w, r, newProblem(http.StatusServiceUnavailable, string(core.ReasonLedgerUnavailable),
				"the audit ledger cannot record this download, so the bundle is not served; try again when it is back"))
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/gzip")
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filepath.Base(o.Bundle.Path)))
	h.Set("Cache-Control", "no-store")
	h.Set(BundleSHA256Header, o.Bundle.SHA256)
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// openBundle opens path if it is a regular file inside the bundle folder.
func (s *Server) openBundle(path string) (*os.File, error) {
	if s.deps.BundleDir == "" {
		return nil, errors.New("this server does not serve bundle files")
	}
	rel, err := filepath.Rel(s.deps.BundleDir, path)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
		return nil, fmt.Errorf("bundle %s is not in the bundle folder", filepath.Base(path))
	}
	// O_NOFOLLOW: a symlink planted in the folder is not followed out of it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("bundle %s is no longer on the server (removed from its bundle folder)", filepath.Base(path))
	}
	if err != nil {
		return nil, fmt.Errorf("bundle %s is not a regular file: %w", filepath.Base(path), err)
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("bundle %s is not a regular file", filepath.Base(path))
	}
	return f, nil
}
