package ledger

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const crashChildEnv = "BOTWARDEN_LEDGER_CRASH_CHILD"

// TestMain lets the test binary act as the crash test's child process.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	if dir := os.Getenv(rssChildEnv); dir != "" {
		rssChild(dir)
		return
	}
	code := m.Run()
	for _, d := range shared.dirs { // benchmark ledgers
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// crashChild appends from 8 goroutines until killed, printing "seq hash"
// for every acknowledged append.
func crashChild(dir string) {
	l, err := Open(context.Background(), dir, Options{CheckpointEvery: 40, CheckpointInterval: 20 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(3)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				r, err := l.Append(context.Background(), fmt.Appendf(nil, `{"w":%d,"i":%d}`, w, i))
				if err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					os.Exit(4)
				}
				mu.Lock()
				fmt.Fprintf(out, "%d %x\n", r.Seq, r.Hash)
				out.Flush()
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
}

func TestLog_CrashLosesNoAcknowledgedEntry(t *testing.T) {
	rounds := 20
	dir := t.TempDir()
	acked := map[uint64]string{}
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill at a random moment once the child has acknowledged something.
		first := <-lines
		time.Sleep(time.Duration(rand.IntN(150)) * time.Millisecond)
		cmd.Process.Kill() // SIGKILL
		for _, line := range append([]string{first}, drain(lines)...) {
			if line == "" {
				continue
			}
			seqS, hash, ok := strings.Cut(line, " ")
			seq, err := strconv.ParseUint(seqS, 10, 64)
			if !ok || err != nil {
				continue // the kill can cut the last line short
			}
			if len(hash) == 64 {
				acked[seq] = hash
			}
		}
		cmd.Wait()
		if strings.Contains(stderr.String(), "child") {
			t.Fatalf("round %d: child failed: %s", round, stderr.String())
		}
		checkAfterCrash(t, dir, round, acked)
	}
}

func drain(c chan string) []string {
	var out []string
	for s := range c {
		out = append(out, s)
	}
	return out
}

func checkAfterCrash(t *testing.T, dir string, round int, acked map[uint64]string) {
	t.Helper()
	ctx := context.Background()
	l, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatalf("round %d: open after SIGKILL: %v", round, err)
	}
	defer l.Close()
	rep, err := l.Verify(ctx, 0, 0)
	if err != nil {
		t.Fatalf("round %d: verify after SIGKILL: %v", round, err)
	}
	for seq, hash := range acked {
		e, err := l.Get(ctx, seq)
		if err != nil || hex.EncodeToString(e.Hash[:]) != hash {
			t.Fatalf("round %d: acknowledged seq %d lost or changed: %v", round, seq, err)
		}
	}
	t.Logf("round %d: %d entries verified, %d acknowledged so far", round, rep.Entries, len(acked))
}
