package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/botwarden/botwarden/ledger"
)

// ErrMalformed is returned (wrapped) for an archive that is not a bundle.
var ErrMalformed = errors.New("malformed bundle")

// ErrMismatch is returned (wrapped) by Inspect when a file does not match
// the manifest or the embedded ledger export does not verify.
var ErrMismatch = errors.New("bundle does not verify")

// maxSmallFile bounds the files Inspect reads into memory (manifest,
// checkpoint, key).
const maxSmallFile = 16 << 20

// InspectOptions configure Inspect.
type InspectOptions struct {
	// VerifierKey is the ledger verifier key the auditor trusts. Empty:
	// use the key inside the bundle, which proves the export is intact and
	// consistent with the checkpoint, but not who signed it.
	VerifierKey string
}

// FileCheck is one file's verification result.
type FileCheck struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	SHA256  string `json:"sha256"`
	OK      bool   `json:"ok"`
	Problem string `json:"problem,omitempty"`
}

// Report is what Inspect found.
type Report struct {
	Manifest  Manifest             `json:"manifest"`
	Files     []FileCheck          `json:"files"`
	Ledger    *ledger.ExportReport `json:"ledger,omitempty"`
	KeySource string               `json:"key_source,omitempty"` // "trusted" or "bundle (integrity only)"
	Problems  []string             `json:"problems,omitempty"`
}

// OK reports whether everything verified.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Inspect reads the bundle at path, re-hashes every file against the
// manifest and verifies the embedded ledger export offline with
// ledger.VerifyExport. It streams the archive (twice); memory does not
// grow with the bundle. Problems are listed in the Report and also make
// the error wrap ErrMismatch.
func Inspect(ctx context.Context, path string, opts InspectOptions) (Report, error) {
	var rep Report
	small := map[string][]byte{}
	seen := map[string]FileCheck{}
	err := walkFile(ctx, path, func(name string, size int64, r io.Reader) error {
		h := sha256.New()
		var n int64
		var err error
		if name == ManifestName || name == ledgerCheckpointName || name == ledgerKeyName {
			var b []byte
			b, err = io.ReadAll(io.LimitReader(r, maxSmallFile+1))
			if len(b) > maxSmallFile {
				return fmt.Errorf("%s: larger than %d bytes: %w", name, maxSmallFile, ErrMalformed)
			}
			h.Write(b)
			n, small[name] = int64(len(b)), b
		} else {
			n, err = io.Copy(h, r)
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		seen[name] = FileCheck{Path: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
		return nil
	})
	if err != nil {
		return rep, err
	}
	mb, ok := small[ManifestName]
	if !ok {
		return rep, fmt.Errorf("%s: no %s: %w", path, ManifestName, ErrMalformed)
	}
	if err := json.Unmarshal(mb, &rep.Manifest); err != nil {
		return rep, fmt.Errorf("%s: %s: %v: %w", path, ManifestName, err, ErrMalformed)
	}
	rep.checkFiles(seen)
	rep.checkLedger(ctx, path, small, opts)
	if !rep.OK() {
		return rep, fmt.Errorf("%s: %d problem(s), first: %s: %w", path, len(rep.Problems), rep.Problems[0], ErrMismatch)
	}
	return rep, nil
}

// checkFiles compares the files found with the manifest's list.
func (rep *Report) checkFiles(seen map[string]FileCheck) {
	listed := map[string]bool{ManifestName: true}
	for _, want := range rep.Manifest.Files {
		listed[want.Path] = true
		got, ok := seen[want.Path]
		fc := FileCheck{Path: want.Path, Size: want.Size, SHA256: want.SHA256, OK: true}
		switch {
		case !ok:
			fc.OK, fc.Problem = false, "missing from the archive"
		case got.SHA256 != want.SHA256 || got.Size != want.Size:
			fc.OK, fc.Problem = false, fmt.Sprintf("content differs: %d bytes sha256 %s", got.Size, got.SHA256)
		}
		if !fc.OK {
			rep.Problems = append(rep.Problems, want.Path+": "+fc.Problem)
		}
		rep.Files = append(rep.Files, fc)
	}
	for name, got := range seen {
		if !listed[name] {
			got.Problem = "not listed in the manifest"
			rep.Files = append(rep.Files, got)
			rep.Problems = append(rep.Problems, name+": "+got.Problem)
		}
	}
	sortChecks(rep.Files)
}

// checkLedger verifies the embedded export against its checkpoint.
func (rep *Report) checkLedger(ctx context.Context, path string, small map[string][]byte, opts InspectOptions) {
	cp, ok := small[ledgerCheckpointName]
	if !ok {
		if rep.Manifest.Ledger.To != 0 {
			rep.Problems = append(rep.Problems, "ledger: checkpoint missing")
		}
		return
	}
	if string(cp) != rep.Manifest.Ledger.Checkpoint {
		rep.Problems = append(rep.Problems, "ledger: checkpoint differs from the manifest's")
	}
	key, src := opts.VerifierKey, "trusted"
	if key == "" {
		key, src = strings.TrimSpace(string(small[ledgerKeyName])), "bundle (integrity only)"
	}
	rep.KeySource = src
	var verr error
	err := walkFile(ctx, path, func(name string, _ int64, r io.Reader) error {
		if name != ledgerExportName {
			return nil
		}
		lr, err := ledger.VerifyExport(ctx, r, cp, key, nil)
		if err != nil {
			verr = err
			return fs.SkipAll
		}
		rep.Ledger = &lr
		return nil
	})
	if verr != nil {
		err = verr
	}
	switch {
	case err != nil:
		rep.Problems = append(rep.Problems, "ledger export: "+err.Error())
	case rep.Ledger == nil:
		rep.Problems = append(rep.Problems, "ledger export: missing")
	case rep.Ledger.From != rep.Manifest.Ledger.From || rep.Ledger.To != rep.Manifest.Ledger.To:
		rep.Problems = append(rep.Problems, fmt.Sprintf("ledger export: covers %d..%d, manifest says %d..%d",
			rep.Ledger.From, rep.Ledger.To, rep.Manifest.Ledger.From, rep.Manifest.Ledger.To))
	}
}

// walkFile streams the bundle at path through walkArchive.
func walkFile(ctx context.Context, path string, fn func(name string, size int64, r io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open bundle: %w", err)
	}
	defer f.Close()
	if err := walkArchive(ctx, f, fn); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func sortChecks(fs []FileCheck) {
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].Path < fs[j-1].Path; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
}
