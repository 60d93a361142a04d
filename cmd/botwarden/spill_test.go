package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileSpill_SaveLoadClear(t *testing.T) {
	dir := t.TempDir()
	s := newFileSpill(dir)
	if evs, err := s.Load(); err != nil || evs != nil {
		t.Fatalf("Load without a file: %q %v", evs, err)
	}
	want := [][]byte{[]byte(`{"event_type":"a"}`), []byte(`{"event_type":"b"}`)}
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load()
	if err != nil || len(got) != 2 || string(got[0]) != string(want[0]) || string(got[1]) != string(want[1]) {
		t.Fatalf("Load = %q, %v; want %q", got, err, want)
	}
	if err := s.Save(want[1:]); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load(); len(got) != 1 || string(got[0]) != string(want[1]) {
		t.Fatalf("after a second Save: %q", got)
	}
	if err := s.Save(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, spillFileName)); !os.IsNotExist(err) {
		t.Fatalf("an empty spill leaves its file: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}

// A damaged file stops the start with a message naming it, and is left
// as it is: guessing which effects took place is not the service's call.
func TestFileSpill_DamagedFileRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, spillFileName)
	if err := os.WriteFile(path, []byte("{\"event_type\":\"a\"}\n{\"event_ty"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := newFileSpill(dir).Load()
	if err == nil || !strings.Contains(err.Error(), path+" line 2") {
		t.Fatalf("Load of a damaged file: %v", err)
	}
	if b, _ := os.ReadFile(path); !strings.HasSuffix(string(b), "event_ty") {
		t.Fatal("the damaged file was changed")
	}
}
