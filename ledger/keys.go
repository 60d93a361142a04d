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
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// keysFileName holds every verifier key that ever signed this ledger's
// checkpoints, one per line, oldest first: a retired key followed by the
// largest tree size it may sign, the signing key's last and alone.
const keysFileName = "ledger.keys"

// ErrNoKey is returned by Open for a data folder that holds a ledger but
// not its signing key. Nothing is created: a new key would silently sign
// a history auditors know under another key. Restore ledger.key from a
// backup of the folder, or make a new one with RotateKey.
var ErrNoKey = errors.New("the ledger's signing key is missing")

// keyring is the signing key and every key this ledger's checkpoints may
// be signed by.
type keyring struct {
	signer  note.Signer
	vkey    string       // the signer's verifier key
	history []trustedKey // every key, oldest first; vkey last, not retired
}

// trustedKey is one line of a key history.
type trustedKey struct {
	vkey    string
	v       note.Verifier
	retired bool
	until   uint64 // retired: the largest tree size it may sign
}

func (k trustedKey) String() string {
	if k.retired {
		return fmt.Sprintf("%s %d", k.vkey, k.until)
	}
	return k.vkey
}

// parseKeys parses a key history or a list of keys: verifier keys
// separated by white space, each retired one followed by the largest tree
// size it may sign. All must share one name (the log's origin).
func parseKeys(text string) ([]trustedKey, error) {
	var ks []trustedKey
	for _, tok := range strings.Fields(text) {
		if n, err := strconv.ParseUint(tok, 10, 64); err == nil {
			if len(ks) == 0 || ks[len(ks)-1].retired {
				return nil, fmt.Errorf("verifier keys: size %s follows no key", tok)
			}
			ks[len(ks)-1].retired, ks[len(ks)-1].until = true, n
			continue
		}
		v, err := note.NewVerifier(tok)
		if err != nil {
			return nil, fmt.Errorf("verifier key: %w", err)
		}
		if len(ks) > 0 && v.Name() != ks[0].v.Name() {
			return nil, fmt.Errorf("verifier keys: %q and %q name different logs", ks[0].v.Name(), v.Name())
		}
		ks = append(ks, trustedKey{vkey: tok, v: v})
	}
	if len(ks) == 0 {
		return nil, errors.New("verifier key: none given")
	}
	return ks, nil
}

func verifiersOf(ks []trustedKey) []note.Verifier {
	vs := make([]note.Verifier, len(ks))
	for i, k := range ks {
		vs[i] = k.v
	}
	return vs
}

func keyLines(ks []trustedKey) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.String()
	}
	return out
}

// indexOf returns where vkey is in ks, or -1.
func indexOf(ks []trustedKey, vkey string) int {
	return slices.IndexFunc(ks, func(k trustedKey) bool { return k.vkey == vkey })
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
	if last := history[len(history)-1]; last != vkey {
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

// newKeyring checks history (lines of ledger.keys) and returns the keys:
// vkey must be its last line, not retired.
func newKeyring(signer note.Signer, vkey string, history []string) (keyring, error) {
	ks, err := parseKeys(strings.Join(history, "\n"))
	if err != nil {
		return keyring{}, fmt.Errorf("%s: %w", keysFileName, err)
	}
	if last := ks[len(ks)-1]; last.vkey != vkey || last.retired {
		return keyring{}, fmt.Errorf("%s: the last key must be the signing key's, not retired", keysFileName)
	}
	return keyring{signer: signer, vkey: vkey, history: ks}, nil
}

// readHistory returns the lines of dir's ledger.keys or, for a ledger
// from before key histories, its ledger.pub; nil if neither.
func readHistory(dir string) ([]string, error) {
	for _, name := range []string{keysFileName, publicKeyFileName} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		var lines []string
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.Join(strings.Fields(line), " "); line != "" {
				lines = append(lines, line)
			}
		}
		return lines, nil
	}
	return nil, nil
}

// ReadKeyHistory returns the lines of the key history of the ledger in
// data folder dir (ledger.keys): every verifier key that signed its
// checkpoints, oldest first, a retired one followed by the largest tree
// size it may sign, the current one last. It does not open the database
// (it works while the service runs). Give them all, as ledger.keys or
// joined by spaces, to verify checkpoints from before a RotateKey.
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
	History     []string // the key history (ledger.keys lines), oldest first, the new key last
	Replaced    bool     // a signing key was there, and is replaced
	CoSigned    uint64   // the latest checkpoint's size, now signed by the new key too (0: none yet)
}

// RotateKey gives the ledger in data folder dir a new signing key, with
// the same name (the checkpoints' origin does not change), for a key that
// may have leaked or that is lost. The service must be stopped (ErrLocked
// otherwise). Every earlier verifier key stays in ledger.keys, retired at
// the size of the latest checkpoint: Open and verification still accept
// the checkpoints it signed up to there, and nothing it signs after (a
// leaked key cannot vouch for a forged history). The latest checkpoint is
// signed by the new key as well, so one note carries the old key's
// signature and the new one's on the same tree head. previous, if not
// empty, adds verifier keys (a key history's text) the folder does not
// name, for a folder whose ledger.keys and ledger.pub are lost too. The
// ledger's entries are not touched.
func RotateKey(ctx context.Context, dir, previous string, opts Options) (RotateReport, error) {
	var rep RotateReport
	opts = opts.withDefaults()
	if ledgerFiles(dir) == "" {
		return rep, fmt.Errorf("rotate key: no ledger in %s", dir)
	}
	history, err := rotationHistory(dir, previous)
	if err != nil {
		return rep, fmt.Errorf("rotate key: %w", err)
	}
	if cur, err := ReadVerifierKey(dir); err == nil {
		if indexOf(history, cur) < 0 {
			return rep, fmt.Errorf("rotate key: %s in %s is none of the ledger's keys", privateKeyFileName, dir)
		}
		rep.Replaced = true
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, history[0].v.Name())
	if err != nil {
		return rep, fmt.Errorf("rotate key: generate: %w", err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return rep, fmt.Errorf("rotate key: %w", err)
	}
	// Open (which checks every stored checkpoint against the known keys
	// and takes the database's lock) before writing anything.
	kr, err := newKeyring(signer, vkey, append(keyLines(history), vkey))
	if err != nil {
		return rep, fmt.Errorf("rotate key: %w", err)
	}
	l, err := openWith(ctx, dir, opts, kr)
	if err != nil {
		return rep, fmt.Errorf("rotate key: %w", err)
	}
	// The earlier keys sign nothing past the latest checkpoint.
	var size uint64
	if cp := l.latestCP.Load(); cp != nil {
		size = cp.Size
	}
	for i := range history {
		if !history[i].retired {
			history[i].retired, history[i].until = true, size
		}
	}
	if l.keys, err = newKeyring(signer, vkey, append(keyLines(history), vkey)); err == nil {
		err = writeKeys(dir, skey, vkey, keyLines(l.keys.history))
	}
	if err != nil {
		l.Close()
		return rep, fmt.Errorf("rotate key: %w", err)
	}
	rep.VerifierKey, rep.History = vkey, keyLines(l.keys.history)
	if rep.CoSigned, err = l.coSignLatest(); err != nil {
		l.Close()
		return rep, fmt.Errorf("rotate key: %w", err)
	}
	return rep, l.Close()
}

// rotationHistory returns the keys a rotation starts from: the folder's
// history, the keys given as previous, or the signing key alone when the
// public files are lost and it is not.
func rotationHistory(dir, previous string) ([]trustedKey, error) {
	lines, err := readHistory(dir)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(previous) != "" {
		lines = append(lines, previous)
	}
	if len(lines) == 0 {
		if cur, err := ReadVerifierKey(dir); err == nil {
			lines = []string{cur}
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("no verifier key is known for the checkpoints in %s (%s and %s are missing): give the key auditors hold as the previous key",
			dir, keysFileName, publicKeyFileName)
	}
	ks, err := parseKeys(strings.Join(lines, "\n"))
	if err != nil {
		return nil, err
	}
	var out []trustedKey
	for _, k := range ks {
		if indexOf(out, k.vkey) < 0 {
			out = append(out, k)
		}
	}
	return out, nil
}

// coSignLatest adds the signing key's signature to the latest checkpoint
// and returns its size (0 when there is none yet).
func (l *Log) coSignLatest() (uint64, error) {
	cp := l.latestCP.Load()
	if cp == nil {
		return 0, nil
	}
	n, err := note.Open(cp.note, note.VerifierList(verifiersOf(l.keys.history)...))
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

// trustEarlier adds the keys that signed this ledger's earlier
// checkpoints (given to a restore, as key history text) to its history,
// before the current key, and saves the history. When the restore made a
// new key, the earlier keys that were not retired yet are retired at the
// restored size: the restored ledger goes on under the new key.
func (l *Log) trustEarlier(given string) error {
	ks, err := parseKeys(given)
	if err != nil {
		return err
	}
	newKey := indexOf(ks, l.keys.vkey) < 0
	size := l.Head().Size
	var h []trustedKey
	for _, k := range append(ks, l.keys.history...) {
		if k.vkey == l.keys.vkey || indexOf(h, k.vkey) >= 0 {
			continue
		}
		if newKey && !k.retired {
			k.retired, k.until = true, size
		}
		h = append(h, k)
	}
	lines := append(keyLines(h), l.keys.vkey)
	if slices.Equal(lines, keyLines(l.keys.history)) {
		return nil
	}
	kr, err := newKeyring(l.keys.signer, l.keys.vkey, lines)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(l.dir, keysFileName), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("save key history: %w", err)
	}
	l.keys = kr
	return nil
}
