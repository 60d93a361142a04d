package ledger

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// keysFileName holds every verifier key that ever signed this ledger's
// checkpoints, one per line, oldest first; the last is the signing key's.
const keysFileName = "ledger.keys"

// ErrNoKey is returned by Open for a data folder that holds a ledger but
// not its signing key. Nothing is created: a new key would silently sign
// a history auditors know under another key. Restore ledger.key from a
// backup of the folder, or make a new one with RotateKey.
var ErrNoKey = errors.New("the ledger's signing key is missing")

// keyring is the signing key and every key this ledger's checkpoints may
// be signed by.
type keyring struct {
	signer    note.Signer
	vkey      string          // the signer's verifier key
	history   []string        // every verifier key, oldest first; vkey last
	verifiers []note.Verifier // history, parsed
}

// loadKeys reads the ledger's keys from dir, creating a signing key (and
// its history) only in a folder that holds no ledger yet.
func loadKeys(dir, name string) (keyring, error) {
	skPath := filepath.Join(dir, privateKeyFileName)
	sk, err := os.ReadFile(skPath)
	if errors.Is(err, os.ErrNotExist) {
		if what := ledgerFiles(dir); what != "" {
			return keyring{}, fmt.Errorf("%w: %s is not in %s, which holds a ledger (%s): restore it from a backup of the folder, or make a new one with `botwarden ledger rotate-key` (docs/ledger.md#signing-keys)",
				ErrNoKey, privateKeyFileName, dir, what)
		}
		skey, vkey, gerr := note.GenerateKey(rand.Reader, name)
		if gerr != nil {
			return keyring{}, fmt.Errorf("generate signing key: %w", gerr)
		}
		if err := writeKeys(dir, skey, vkey, []string{vkey}); err != nil {
			return keyring{}, err
		}
		sk = []byte(skey)
	} else if err != nil {
		return keyring{}, fmt.Errorf("read signing key: %w", err)
	}
	signer, err := note.NewSigner(string(bytes.TrimSpace(sk)))
	if err != nil {
		return keyring{}, fmt.Errorf("parse signing key %s: %w", skPath, err)
	}
	vkey, err := verifierKeyFromSigner(string(bytes.TrimSpace(sk)))
	if err != nil {
		return keyring{}, err
	}
	history, err := readHistory(dir)
	if err != nil {
		return keyring{}, err
	}
	if len(history) == 0 {
		history = []string{vkey}
	}
	if history[len(history)-1] != vkey {
		return keyring{}, fmt.Errorf("%w: %s in %s is not the ledger's current key (the last in %s, also in %s): restore the right key, or make a new one with `botwarden ledger rotate-key`",
			ErrNoKey, privateKeyFileName, dir, keysFileName, publicKeyFileName)
	}
	if _, err := os.Stat(filepath.Join(dir, keysFileName)); errors.Is(err, os.ErrNotExist) {
		// A ledger from before key histories: its history is its one key.
		if err := writeFileAtomic(filepath.Join(dir, keysFileName), []byte(strings.Join(history, "\n")+"\n"), 0o644); err != nil {
			return keyring{}, fmt.Errorf("save key history: %w", err)
		}
	}
	return newKeyring(signer, vkey, history)
}

func newKeyring(signer note.Signer, vkey string, history []string) (keyring, error) {
	vs, err := parseVerifiers(strings.Join(history, " "))
	if err != nil {
		return keyring{}, fmt.Errorf("%s: %w", keysFileName, err)
	}
	return keyring{signer: signer, vkey: vkey, history: history, verifiers: vs}, nil
}

// readHistory returns the verifier keys in dir's ledger.keys or, for a
// ledger from before key histories, its ledger.pub; nil if neither.
func readHistory(dir string) ([]string, error) {
	for _, name := range []string{keysFileName, publicKeyFileName} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return strings.Fields(string(b)), nil
	}
	return nil, nil
}

// ReadKeyHistory returns every verifier key that signed checkpoints of
// the ledger in data folder dir, oldest first, the current one last,
// without opening the database (it works while the service runs). Give
// them all (separated by white space) to verify checkpoints and exports
// from before a RotateKey.
func ReadKeyHistory(dir string) ([]string, error) {
	h, err := readHistory(dir)
	if err == nil && len(h) == 0 {
		err = fmt.Errorf("no %s or %s in %s", keysFileName, publicKeyFileName, dir)
	}
	return h, err
}

// writeKeys saves a signing key, its verifier key and the key history:
// the history first, so that a crash part way leaves a history naming the
// new key beside the old signing key, which Open refuses and a second
// RotateKey repairs, never a key the history does not name.
func writeKeys(dir, skey, vkey string, history []string) error {
	if err := writeFileAtomic(filepath.Join(dir, keysFileName), []byte(strings.Join(history, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("save key history: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, privateKeyFileName), []byte(skey+"\n"), 0o600); err != nil {
		return fmt.Errorf("save signing key: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, publicKeyFileName), []byte(vkey+"\n"), 0o644); err != nil {
		return fmt.Errorf("save verifier key: %w", err)
	}
	return nil
}

// ledgerFiles names the ledger files dir holds besides the signing key
// ("" for none: a new ledger).
func ledgerFiles(dir string) string {
	var found []string
	for _, name := range []string{badgerDirName, walDirName, checkpointFileName, publicKeyFileName, keysFileName} {
		path := filepath.Join(dir, name)
		if fi, err := os.Stat(path); err == nil {
			if fi.IsDir() {
				if names, err := os.ReadDir(path); err == nil && len(names) == 0 {
					continue
				}
			}
			found = append(found, name)
		}
	}
	return strings.Join(found, ", ")
}

// RotateReport describes a RotateKey.
type RotateReport struct {
	VerifierKey string   // the new signing key's verifier key
	History     []string // every verifier key of the ledger, oldest first, the new one last
	Replaced    bool     // a signing key was there, and is replaced
	CoSigned    uint64   // the latest checkpoint's size, now signed by the new key too (0: none yet)
}

// RotateKey gives the ledger in data folder dir a new signing key, with
// the same name (the checkpoints' origin does not change), for a key that
// may have leaked or that is lost. The service must be stopped (ErrLocked
// otherwise). Every earlier verifier key stays in ledger.keys, so that
// Open and verification still accept the checkpoints they signed; the
// latest checkpoint is signed by the new key as well, so that one note
// carries the old key's signature and the new one's on the same tree head.
// previous, if not empty, adds verifier keys (separated by white space)
// the folder does not name, for a folder whose ledger.keys and ledger.pub
// are lost too. The ledger's entries are not touched.
func RotateKey(ctx context.Context, dir, previous string, opts Options) (RotateReport, error) {
	var rep RotateReport
	opts = opts.withDefaults()
	if ledgerFiles(dir) == "" {
		return rep, fmt.Errorf("rotate key: no ledger in %s", dir)
	}
	history, err := readHistory(dir)
	if err != nil {
		return rep, fmt.Errorf("rotate key: %w", err)
	}
	for _, k := range strings.Fields(previous) {
		if !slices.Contains(history, k) {
			history = append(history, k)
		}
	}
	cur, curErr := ReadVerifierKey(dir)
	if len(history) == 0 && curErr == nil {
		history = []string{cur} // the public files are lost, the key is not
	}
	if len(history) == 0 {
		return rep, fmt.Errorf("rotate key: no verifier key is known for the checkpoints in %s (%s and %s are missing): give the key auditors hold as the previous key",
			dir, keysFileName, publicKeyFileName)
	}
	old, err := parseVerifiers(strings.Join(history, " "))
	if err != nil {
		return rep, fmt.Errorf("rotate key: %w", err)
	}
	if curErr == nil {
		if !slices.Contains(history, cur) {
			return rep, fmt.Errorf("rotate key: %s in %s is none of the ledger's keys", privateKeyFileName, dir)
		}
		rep.Replaced = true
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, old[0].Name())
	if err != nil {
		return rep, fmt.Errorf("rotate key: generate: %w", err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return rep, fmt.Errorf("rotate key: %w", err)
	}
	kr, err := newKeyring(signer, vkey, append(slices.Clone(history), vkey))
	if err != nil {
		return rep, fmt.Errorf("rotate key: %w", err)
	}
	// Open (which checks every stored checkpoint against the history and
	// takes the database's lock) before writing anything.
	l, err := openWith(ctx, dir, opts, kr)
	if err != nil {
		return rep, fmt.Errorf("rotate key: %w", err)
	}
	if err := writeKeys(dir, skey, vkey, kr.history); err != nil {
		l.Close()
		return rep, fmt.Errorf("rotate key: %w", err)
	}
	rep.VerifierKey, rep.History = vkey, kr.history
	if rep.CoSigned, err = l.coSignLatest(); err != nil {
		l.Close()
		return rep, fmt.Errorf("rotate key: %w", err)
	}
	return rep, l.Close()
}

// coSignLatest adds the signing key's signature to the latest checkpoint
// and returns its size (0 when there is none yet).
func (l *Log) coSignLatest() (uint64, error) {
	cp := l.latestCP.Load()
	if cp == nil {
		return 0, nil
	}
	n, err := note.Open(cp.note, note.VerifierList(l.keys.verifiers...))
	if err != nil {
		return 0, fmt.Errorf("%w: checkpoint %d: %v", ErrTampered, cp.Size, err)
	}
	signed, err := note.Sign(n, l.keys.signer)
	if err != nil {
		return 0, fmt.Errorf("co-sign checkpoint %d: %w", cp.Size, err)
	}
	if err := l.storeNote(cp.Size, signed); err != nil {
		return 0, fmt.Errorf("store co-signed checkpoint %d: %w", cp.Size, err)
	}
	if err := writeFileAtomic(filepath.Join(l.dir, checkpointFileName), signed, 0o644); err != nil {
		return 0, fmt.Errorf("write co-signed checkpoint %d: %w", cp.Size, err)
	}
	l.latestCP.Store(&signedCheckpoint{Checkpoint: cp.Checkpoint, note: signed})
	return cp.Size, nil
}

// trustEarlier adds verifier keys that signed this ledger's earlier
// checkpoints (a restore's) to its history, before the current key, and
// saves the history.
func (l *Log) trustEarlier(vkeys []string) error {
	var h []string
	for _, k := range append(vkeys, l.keys.history...) {
		if !slices.Contains(h, k) && k != l.keys.vkey {
			h = append(h, k)
		}
	}
	h = append(h, l.keys.vkey)
	if slices.Equal(h, l.keys.history) {
		return nil
	}
	kr, err := newKeyring(l.keys.signer, l.keys.vkey, h)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(l.dir, keysFileName), []byte(strings.Join(h, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("save key history: %w", err)
	}
	l.keys = kr
	return nil
}
