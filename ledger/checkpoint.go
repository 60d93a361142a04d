package ledger

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Files kept in the data folder beside the Badger directory.
const (
	badgerDirName      = "ledger"
	privateKeyFileName = "ledger.key"        // note signer key, mode 0600
	publicKeyFileName  = "ledger.pub"        // note verifier key
	checkpointFileName = "ledger.checkpoint" // latest signed checkpoint
)

// Checkpoint is a parsed C2SP tlog-checkpoint body.
type Checkpoint struct {
	Origin string    // first line: the log's name (= signing key name)
	Size   uint64    // tree size
	Root   tlog.Hash // RFC 6962 Merkle root at Size
}

// Body returns the checkpoint's signed text: origin, size and base64 root,
// each followed by a newline.
func (c Checkpoint) Body() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// ParseCheckpoint parses a checkpoint body (the note text, without
// signatures). Extension lines after the root are allowed and ignored.
func ParseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) < 4 || !strings.HasSuffix(text, "\n") {
		return Checkpoint{}, errors.New("checkpoint: want origin, size and root lines")
	}
	var c Checkpoint
	c.Origin = strings.TrimSuffix(lines[0], "\n")
	size, err := strconv.ParseUint(strings.TrimSuffix(lines[1], "\n"), 10, 64)
	if err != nil || c.Origin == "" || strconv.FormatUint(size, 10) != strings.TrimSuffix(lines[1], "\n") {
		return Checkpoint{}, fmt.Errorf("checkpoint: bad origin or size line %q", lines[1])
	}
	c.Size = size
	root, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(lines[2], "\n"))
	if err != nil || len(root) != tlog.HashSize {
		return Checkpoint{}, fmt.Errorf("checkpoint: bad root hash line %q", lines[2])
	}
	copy(c.Root[:], root)
	return c, nil
}

// OpenCheckpoint verifies a signed checkpoint note with the verifier key
// vkey (as printed by `botwarden ledger key`) and returns its body. vkey
// may also be a key history as in the data folder's ledger.keys (see
// RotateKey): keys separated by white space, a retired key followed by
// the largest tree size it may sign. A note is accepted when one of its
// signatures is by a key that may sign its size; a key retired at size N
// vouches for nothing after N, so a leaked key cannot sign a forged
// history that verifies. The origin must equal the keys' name.
func OpenCheckpoint(signed []byte, vkey string) (Checkpoint, error) {
	ks, err := parseKeys(vkey)
	if err != nil {
		return Checkpoint{}, err
	}
	return openCheckpoint(signed, ks)
}

func openCheckpoint(signed []byte, ks []trustedKey) (Checkpoint, error) {
	n, err := note.Open(signed, note.VerifierList(verifiersOf(ks)...))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint signature invalid: %v", ErrTampered, err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if name := ks[0].v.Name(); c.Origin != name {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint origin %q is not the key's name %q", ErrTampered, c.Origin, name)
	}
	var retired []string
	for _, sig := range n.Sigs {
		for _, k := range ks {
			if k.v.Name() != sig.Name || k.v.KeyHash() != sig.Hash {
				continue
			}
			if !k.retired || c.Size <= k.until {
				return c, nil
			}
			retired = append(retired, fmt.Sprintf("%s (retired at size %d)", k.vkey, k.until))
		}
	}
	return Checkpoint{}, fmt.Errorf("%w: the checkpoint at size %d is signed only by keys retired before it: %s",
		ErrTampered, c.Size, strings.Join(retired, ", "))
}

// ReadVerifierKey returns the verifier key of the ledger in data folder
// dir without opening the database (it works while the service runs).
func ReadVerifierKey(dir string) (string, error) {
	sk, err := os.ReadFile(filepath.Join(dir, privateKeyFileName))
	if err != nil {
		return "", fmt.Errorf("read signing key: %w", err)
	}
	return verifierKeyFromSigner(string(bytes.TrimSpace(sk)))
}

// verifierKeyFromSigner derives "name+hash+base64(0x01||pub)" from a
// "PRIVATE+KEY+name+hash+base64(0x01||seed)" signer key.
func verifierKeyFromSigner(skey string) (string, error) {
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("signing key: malformed")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+32 || raw[0] != 1 {
		return "", errors.New("signing key: not an ed25519 note key")
	}
	pub := ed25519Public(raw[1:])
	vkey, err := note.NewEd25519VerifierKey(parts[2], pub)
	if err != nil {
		return "", fmt.Errorf("derive verifier key: %w", err)
	}
	return vkey, nil
}

// writeFileAtomic writes data to path via a synced temporary file and a
// rename, then syncs the directory, so a crash leaves the old or the new
// content, never a mix.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}
