package ledger

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// folderFiles returns the data folder's files (not Badger's) and their
// contents, to check that a refusal changed nothing.
func folderFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range []string{privateKeyFileName, publicKeyFileName, keysFileName, checkpointFileName} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			out[name] = string(b)
		}
	}
	return out
}

func sameFiles(t *testing.T, dir string, before map[string]string) {
	t.Helper()
	after := folderFiles(t, dir)
	if len(after) != len(before) {
		t.Fatalf("files changed: before %d, after %d", len(before), len(after))
	}
	for name, b := range before {
		if after[name] != b {
			t.Fatalf("%s changed", name)
		}
	}
}

// A folder that holds a ledger but not its signing key is refused, and
// nothing is created: a fresh key would sign the same history under a
// name auditors trust, and the old ledger.pub would be overwritten.
func TestOpen_MissingOrForeignKeyRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, dir string)
	}{
		{"key missing", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, privateKeyFileName)); err != nil {
				t.Fatal(err)
			}
		}},
		{"another ledger's key", func(t *testing.T, dir string) {
			other := t.TempDir()
			openTest(t, other, Options{}).Close()
			copyKey(t, other, dir)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openTest(t, dir, Options{})
			appendN(t, l, 1, 5)
			l.Close()
			tc.break_(t, dir)
			before := folderFiles(t, dir)
			_, err := Open(context.Background(), dir, Options{})
			if !errors.Is(err, ErrNoKey) || !strings.Contains(err.Error(), "rotate-key") {
				t.Fatalf("Open = %v, want ErrNoKey naming the way out", err)
			}
			sameFiles(t, dir, before)
		})
	}
}

// A ledger made before key histories gets one, holding its key, at open.
func TestOpen_KeyHistoryCreatedForOlderLedgers(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	key := l.VerifierKey()
	l.Close()
	if err := os.Remove(filepath.Join(dir, keysFileName)); err != nil {
		t.Fatal(err)
	}
	l = openTest(t, dir, Options{})
	if h := l.VerifierKeys(); len(h) != 1 || h[0] != key {
		t.Fatalf("history %v, want [%s]", h, key)
	}
	if h, err := ReadKeyHistory(dir); err != nil || len(h) != 1 || h[0] != key {
		t.Fatalf("ReadKeyHistory = %v, %v", h, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, keysFileName)); err != nil || string(b) != key+"\n" {
		t.Fatalf("%s = %q, %v; want the key (backups copy it)", keysFileName, b, err)
	}
}

func TestRotateKey(t *testing.T) {
	for _, lost := range []bool{false, true} {
		name := "planned"
		if lost {
			name = "key lost"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			l := openTest(t, dir, Options{})
			appendN(t, l, 1, 20)
			oldKey := l.VerifierKey()
			sk, err := os.ReadFile(filepath.Join(dir, privateKeyFileName))
			if err != nil {
				t.Fatal(err)
			}
			oldSigner, err := note.NewSigner(strings.TrimSpace(string(sk)))
			if err != nil {
				t.Fatal(err)
			}
			oldNote, err := l.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			l.Close()
			if lost {
				if err := os.Remove(filepath.Join(dir, privateKeyFileName)); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := RotateKey(ctx, dir, "", Options{})
			if err != nil {
				t.Fatal(err)
			}
			// The old key is retired at the latest checkpoint's size.
			if rep.Replaced == lost || rep.VerifierKey == oldKey || len(rep.History) != 2 ||
				rep.History[0] != oldKey+" 20" || rep.History[1] != rep.VerifierKey || rep.CoSigned != 20 {
				t.Fatalf("report %+v", rep)
			}
			// The latest checkpoint carries both signatures: either key alone
			// verifies it.
			coSigned, err := os.ReadFile(filepath.Join(dir, checkpointFileName))
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{oldKey, rep.VerifierKey} {
				if c, err := OpenCheckpoint(coSigned, k); err != nil || c.Size != 20 {
					t.Fatalf("co-signed checkpoint with %s: %v %v", k, c, err)
				}
			}

			l = openTest(t, dir, Options{})
			if l.VerifierKey() != rep.VerifierKey || len(l.VerifierKeys()) != 2 {
				t.Fatalf("reopened with %s, history %v", l.VerifierKey(), l.VerifierKeys())
			}
			appendN(t, l, 21, 10)
			newNote, err := l.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := OpenCheckpoint(newNote, oldKey); err == nil {
				t.Fatal("a checkpoint after the rotation verifies with the old key")
			}
			if _, err := l.Verify(ctx, 1, 0); err != nil {
				t.Fatal(err)
			}
			// An export after the rotation, checked against a checkpoint an
			// auditor kept from before it: the history of keys verifies both.
			exp, cp := exportAll(t, l, 1, 0)
			history := strings.Join(l.VerifierKeys(), " ")
			if _, err := VerifyExport(ctx, bytes.NewReader(exp), cp, history, oldNote); err != nil {
				t.Fatal(err)
			}
			if _, err := VerifyExport(ctx, bytes.NewReader(exp), cp, rep.VerifierKey, oldNote); err == nil {
				t.Fatal("the old checkpoint verified without the old key")
			}
			if lost {
				return
			}
			// The retired key (it may have leaked) vouches for nothing past
			// size 20, even a checkpoint of the true tree; up to 20 it still
			// does.
			for _, tc := range []struct {
				size uint64
				ok   bool
			}{{20, true}, {12, true}, {30, false}} {
				root, err := l.RootAt(ctx, tc.size)
				if err != nil {
					t.Fatal(err)
				}
				signed, err := note.Sign(&note.Note{Text: Checkpoint{Origin: l.Origin(), Size: tc.size, Root: root}.Body()}, oldSigner)
				if err != nil {
					t.Fatal(err)
				}
				_, err = OpenCheckpoint(signed, history)
				if ok := err == nil; ok != tc.ok || (!ok && !errors.Is(err, ErrTampered)) {
					t.Fatalf("checkpoint at size %d signed by the retired key: %v, want accepted %v", tc.size, err, tc.ok)
				}
			}
		})
	}
}

func TestRotateKey_Refused(t *testing.T) {
	ctx := context.Background()
	t.Run("service running", func(t *testing.T) {
		dir := t.TempDir()
		l := openTest(t, dir, Options{})
		appendN(t, l, 1, 3)
		before := folderFiles(t, dir)
		if _, err := RotateKey(ctx, dir, "", Options{}); !errors.Is(err, ErrLocked) {
			t.Fatalf("RotateKey while open = %v, want ErrLocked", err)
		}
		sameFiles(t, dir, before)
	})
	t.Run("public keys lost, signing key kept", func(t *testing.T) {
		dir := t.TempDir()
		l := openTest(t, dir, Options{})
		appendN(t, l, 1, 3)
		key := l.VerifierKey()
		l.Close()
		for _, name := range []string{publicKeyFileName, keysFileName} {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		rep, err := RotateKey(ctx, dir, "", Options{})
		if err != nil || !rep.Replaced || len(rep.History) != 2 || rep.History[0] != key+" 3" {
			t.Fatalf("RotateKey = %+v, %v; want the kept key first in the history", rep, err)
		}
	})
	t.Run("no ledger", func(t *testing.T) {
		if _, err := RotateKey(ctx, t.TempDir(), "", Options{}); err == nil || !strings.Contains(err.Error(), "no ledger") {
			t.Fatalf("RotateKey of an empty folder = %v", err)
		}
	})
	t.Run("every key lost", func(t *testing.T) {
		dir := t.TempDir()
		l := openTest(t, dir, Options{})
		appendN(t, l, 1, 3)
		key := l.VerifierKey()
		l.Close()
		for _, name := range []string{privateKeyFileName, publicKeyFileName, keysFileName} {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := RotateKey(ctx, dir, "", Options{}); err == nil || !strings.Contains(err.Error(), "previous key") {
			t.Fatalf("RotateKey without any known key = %v", err)
		}
		// A wrong previous key: the stored checkpoints do not verify.
		other := t.TempDir()
		ol := openTest(t, other, Options{})
		wrong := ol.VerifierKey()
		ol.Close()
		if _, err := RotateKey(ctx, dir, wrong, Options{}); !errors.Is(err, ErrTampered) {
			t.Fatalf("RotateKey with another ledger's key = %v, want ErrTampered", err)
		}
		if _, err := os.Stat(filepath.Join(dir, privateKeyFileName)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a refused rotation wrote a key: %v", err)
		}
		// The key auditors hold: it works.
		rep, err := RotateKey(ctx, dir, key, Options{})
		if err != nil || len(rep.History) != 2 || rep.History[0] != key+" 3" {
			t.Fatalf("RotateKey with the previous key = %+v, %v", rep, err)
		}
		openTest(t, dir, Options{})
	})
}
