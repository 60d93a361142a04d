package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/botwarden/botwarden/bundle/redact"
	"github.com/botwarden/botwarden/internal/core"
)

// ErrConfig is returned (wrapped) by New for unusable options or sources.
var ErrConfig = errors.New("invalid bundle configuration")

// defaultWindow is the ledger window of a bot or group bundle.
const defaultWindow = 24 * time.Hour

// Builder builds support bundles. It implements core.Bundler. Builds may
// run concurrently; each stages its files privately.
type Builder struct {
	opts Options
	src  Sources
}

var _ core.Bundler = (*Builder)(nil)

// New returns a Builder writing to opts.Dir (created if needed).
func New(opts Options, src Sources) (*Builder, error) {
	if opts.Dir == "" || src.Snapshot == nil || src.Ledger == nil {
		return nil, fmt.Errorf("%w: Dir, Snapshot and Ledger are required", ErrConfig)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Window <= 0 {
		opts.Window = defaultWindow
	}
	if src.Runtime == nil {
		src.Runtime = liveRuntime
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("bundle dir: %w", err)
	}
	return &Builder{opts: opts, src: src}, nil
}

// Build collects, packs and proves a bundle for req.Target ("global" for
// the fleet, a bot id or "group:NAME") and applies retention. It returns
// the bundle's path and the SHA-256 of the file and of its manifest.
//
// If the proof scan finds a secret in the finished archive, the bundle is
// deleted and the error wraps a *redact.LeakError naming the file and the
// rule (never the secret): nothing is delivered and the caller audits the
// attempt as denied.
func (b *Builder) Build(ctx context.Context, req core.BundleRequest) (core.BundleResult, error) {
	created := b.opts.Now().UTC().Truncate(time.Second)
	if req.Target == "" {
		req.Target = fleetTarget
	}
	var secrets []string
	if b.src.Secrets != nil {
		secrets = b.src.Secrets()
	}
	red, err := redact.New(secrets, b.opts.ExtraRules)
	if err != nil {
		return core.BundleResult{}, fmt.Errorf("bundle: %w", err)
	}
	m := &Manifest{
		ManifestVersion: ManifestVersion, ID: bundleID(b.opts.Environment, req, created),
		Environment: b.opts.Environment, Target: req.Target, Actor: req.Actor, CommandID: req.CommandID,
		CreatedAt: created, Version: b.opts.Version, Build: readBuildInfo(),
	}
	st, err := newStage(b.opts.Dir)
	if err != nil {
		return core.BundleResult{}, err
	}
	defer st.remove()
	c := &collector{st: st, red: red, counts: redact.Counts{}}
	m.Reason = red.String(req.Reason, c.counts)
	if err := b.collect(ctx, c, m); err != nil {
		return core.BundleResult{}, fmt.Errorf("bundle %s: %w", m.ID, err)
	}
	m.Redaction = Redaction{KnownValues: countNonEmpty(secrets)}
	for _, r := range red.RuleNames() {
		m.Redaction.Rules = append(m.Redaction.Rules, RuleCount{Rule: r, Replacements: c.counts[r]})
	}
	m.Notes = c.notes
	m.Files = append([]FileEntry(nil), st.files...)
	sortEntries(m.Files)
	manifestSum, err := b.addManifest(st, m)
	if err != nil {
		return core.BundleResult{}, err
	}
	res, err := b.release(ctx, st, m, red)
	if err != nil {
		return core.BundleResult{}, err
	}
	res.ManifestSHA256 = manifestSum
	if err := Prune(b.opts.Dir, b.opts.Keep, b.opts.MaxAge, b.opts.Now()); err != nil {
		return res, fmt.Errorf("bundle %s built; %w", m.ID, err)
	}
	return res, nil
}

// collect stages every source's file.
func (b *Builder) collect(ctx context.Context, c *collector, m *Manifest) error {
	snap := b.src.Snapshot()
	if err := c.addState(snap); err != nil {
		return err
	}
	if err := b.addLedger(ctx, c.st, m, snap); err != nil {
		return err
	}
	if b.src.Config != nil {
		if err := c.json("config/effective.json", b.src.Config()); err != nil {
			return err
		}
	} else {
		c.note("config: no configuration source")
	}
	if b.src.Policy != nil {
		// Verbatim, not re-encoded: its SHA-256 is the recorded digest.
		doc, digest := b.src.Policy()
		if err := c.st.addBytes("config/policy.json", doc); err != nil {
			return err
		}
		m.PolicyDigest = digest
	}
	if err := c.addLogs(b.src.Logs); err != nil {
		return err
	}
	if err := c.addMetrics(b.src.Metrics); err != nil {
		return err
	}
	if err := c.json("runtime.json", b.src.Runtime()); err != nil {
		return err
	}
	return c.addDrivers(ctx, b.src.Diagnostics, inScope(snap.Bots, m.Target))
}

// inScope returns the bots a bundle for target asks the drivers about:
// the bot itself, the group's bots, or every bot for the fleet. Other
// bots' drivers are not called: one slow or broken endpoint must not
// slow or clutter every bot's bundle (state/fleet.json still shows them).
func inScope(bots []core.BotView, target string) []core.BotView {
	if target == fleetTarget {
		return bots
	}
	var out []core.BotView
	for _, b := range bots {
		if b.ID == target || (b.Group != "" && "group:"+b.Group == target) {
			out = append(out, b)
		}
	}
	return out
}

// addManifest stages manifest.json and returns its SHA-256.
func (b *Builder) addManifest(st *stage, m *Manifest) (string, error) {
	if err := st.add(ManifestName, jsonFill(m)); err != nil {
		return "", err
	}
	return st.files[len(st.files)-1].SHA256, nil
}

// release packs the staged files into <id>.tar.gz.partial, proves the
// archive secret-free and only then renames it into place.
func (b *Builder) release(ctx context.Context, st *stage, m *Manifest, red *redact.Redactor) (core.BundleResult, error) {
	final := filepath.Join(b.opts.Dir, m.ID+".tar.gz")
	partial := filepath.Join(b.opts.Dir, "."+m.ID+".tar.gz.partial")
	sum, err := writeArchive(ctx, partial, st, m)
	if err == nil {
		err = prove(ctx, partial, red)
	}
	if err == nil {
		err = os.Rename(partial, final)
	}
	if err != nil {
		_ = os.Remove(partial)
		return core.BundleResult{}, fmt.Errorf("bundle %s: %w", m.ID, err)
	}
	return core.BundleResult{Path: final, SHA256: sum}, nil
}

// writeArchive packs the staged files into path and returns its SHA-256.
func writeArchive(ctx context.Context, path string, st *stage, m *Manifest) (string, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("create archive: %w", err)
	}
	h := sha256.New()
	err = packFiles(ctx, io.MultiWriter(f, h), st, m.ID, m.CreatedAt)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// prove re-reads the archive at path and scans every file in it for every
// known secret form and every rule.
func prove(ctx context.Context, path string, red *redact.Redactor) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reopen for proof: %w", err)
	}
	defer f.Close()
	return walkArchive(ctx, f, func(name string, _ int64, r io.Reader) error {
		err := red.Scan(r)
		var leak *redact.LeakError
		if errors.As(err, &leak) {
			leak.File = name
			// The core audits this as a denial naming the rule.
			return fmt.Errorf("%w: %w", core.ErrBundleLeak, err)
		}
		return err
	})
}

var unsafeID = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// bundleID names a bundle after its environment, target, creation time
// and command, so equal requests at equal times get equal names.
func bundleID(env string, req core.BundleRequest, created time.Time) string {
	sum := sha256.Sum256([]byte(req.CommandID))
	target := unsafeID.ReplaceAllString(req.Target, "_")
	if len(target) > 40 {
		target = target[:40]
	}
	return fmt.Sprintf("bundle-%s-%s-%s-%s", unsafeID.ReplaceAllString(env, "_"), target,
		created.Format("20060102T150405Z"), hex.EncodeToString(sum[:4]))
}

func countNonEmpty(ss []string) int {
	n := 0
	for _, s := range ss {
		if s != "" {
			n++
		}
	}
	return n
}
