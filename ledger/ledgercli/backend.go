package ledgercli

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/botwarden/botwarden/ledger"
)

// AdminURLFile is the file in the data folder where the running service
// writes its loopback admin base URL (and removes it on exit).
const AdminURLFile = "admin.url"

// HeadInfo is what `ledger head` prints and the admin endpoint returns.
type HeadInfo struct {
	Size       uint64    `json:"size"`
	Root       string    `json:"root"`      // hex
	Hash       string    `json:"last_hash"` // hex chain hash of the last entry
	Time       time.Time `json:"last_time"`
	Checkpoint string    `json:"latest_checkpoint,omitempty"`
	Key        string    `json:"verifier_key"`
	// Keys is the key history (ledger.keys lines): every key that signed
	// the ledger's checkpoints, oldest first, a retired one followed by
	// the largest tree size it may sign, Key last.
	Keys []string `json:"verifier_keys,omitempty"`
}

// ProofInfo is an inclusion proof of one entry in a signed checkpoint.
type ProofInfo struct {
	Seq        uint64   `json:"seq"`
	Size       uint64   `json:"size"`
	ChainHash  string   `json:"chain_hash"` // hex; the leaf is SHA-256(0x00||chain_hash)
	Root       string   `json:"root"`
	Proof      []string `json:"proof"` // hex, RFC 6962 audit path
	Checkpoint string   `json:"checkpoint"`
}

// backend is what the commands need, served by an open Log or by the
// running service's admin endpoint.
type backend interface {
	head(ctx context.Context) (HeadInfo, error)
	verify(ctx context.Context, from, to uint64) (ledger.VerifyReport, error)
	export(ctx context.Context, w io.Writer, from, to uint64) ([]byte, error)
	prove(ctx context.Context, seq, size uint64) (ProofInfo, error)
	checkpoint(ctx context.Context) ([]byte, error)
	close() error
}

// connect opens the data folder, or uses the running service when it holds
// the lock, and tells stderr which.
func connect(ctx context.Context, dir string, stderr io.Writer) (backend, error) {
	if _, err := os.Stat(filepath.Join(dir, "ledger")); err != nil {
		return nil, fmt.Errorf("no ledger in data folder %s: %w", dir, err)
	}
	l, err := ledger.Open(ctx, dir, ledger.Options{})
	if err == nil {
		fmt.Fprintf(stderr, "opened data folder %s\n", dir)
		return localBackend{l}, nil
	}
	if !errors.Is(err, ledger.ErrLocked) {
		return nil, err
	}
	base, token, rerr := ReadAdmin(dir)
	if rerr != nil {
		return nil, fmt.Errorf("%w, and %v", err, rerr)
	}
	fmt.Fprintf(stderr, "using the running service at %s\n", base)
	return newHTTPBackend(base, token), nil
}

type localBackend struct{ l *ledger.Log }

func (b localBackend) close() error { return b.l.Close() }

func (b localBackend) head(context.Context) (HeadInfo, error) { return headInfo(b.l), nil }

func headInfo(l *ledger.Log) HeadInfo {
	h := l.Head()
	return HeadInfo{Size: h.Size, Root: hex.EncodeToString(h.Root[:]), Hash: hex.EncodeToString(h.Hash[:]),
		Time: h.Time, Checkpoint: string(l.LatestCheckpoint()), Key: l.VerifierKey(), Keys: l.VerifierKeys()}
}

func (b localBackend) verify(ctx context.Context, from, to uint64) (ledger.VerifyReport, error) {
	return b.l.Verify(ctx, from, to)
}

func (b localBackend) export(ctx context.Context, w io.Writer, from, to uint64) ([]byte, error) {
	return b.l.Export(ctx, w, from, to)
}

func (b localBackend) checkpoint(ctx context.Context) ([]byte, error) { return b.l.Checkpoint(ctx) }

func (b localBackend) prove(ctx context.Context, seq, size uint64) (ProofInfo, error) {
	return proveWith(ctx, b.l, seq, size)
}

func proveWith(ctx context.Context, l *ledger.Log, seq, size uint64) (ProofInfo, error) {
	if size == 0 {
		size = l.Head().Size
	}
	cp, err := l.CheckpointAt(ctx, size)
	if err != nil {
		return ProofInfo{}, err
	}
	e, err := l.Get(ctx, seq)
	if err != nil {
		return ProofInfo{}, err
	}
	p, err := l.ProveInclusion(ctx, seq, size)
	if err != nil {
		return ProofInfo{}, err
	}
	root, err := l.RootAt(ctx, size)
	if err != nil {
		return ProofInfo{}, err
	}
	info := ProofInfo{Seq: seq, Size: size, ChainHash: hex.EncodeToString(e.Hash[:]), Root: hex.EncodeToString(root[:]), Checkpoint: string(cp)}
	for _, h := range p {
		info.Proof = append(info.Proof, hex.EncodeToString(h[:]))
	}
	return info, nil
}
