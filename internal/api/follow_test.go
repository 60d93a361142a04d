package api_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/api"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
)

// A stream from now names where it starts before any event: an id line
// with no data.
func TestAPI_EventStreamNamesItsStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+mustToken(t, e, coretest.Operator))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	head := e.ledger.Head().Size
	br := bufio.NewReader(resp.Body)
	var lines []string
	for len(lines) < 5 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("after %q: %v", lines, err)
		}
		lines = append(lines, strings.TrimSuffix(line, "\n"))
	}
	want := []string{": botwarden events", "retry: 2000", "", "id: " + strconv.FormatUint(head, 10), ""}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Fatalf("stream opens with %q, want %q", lines, want)
	}
}

// follower runs Follow in the background and collects what it delivers.
type follower struct {
	mu     sync.Mutex
	events []api.Event
	done   chan error
}

func (f *follower) seen(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, ev := range f.events {
		if ev.Type == core.EvApplied && strings.Contains(string(ev.Data), `"command_id":"`+id+`"`) {
			n++
		}
	}
	return n
}

func (f *follower) waitFor(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.seen(id) == 0 {
		select {
		case err := <-f.done:
			t.Fatalf("Follow ended before %s arrived: %v", id, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not delivered within 10 s", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func follow(ctx context.Context, c *api.Client, opt api.Following) *follower {
	f := &follower{done: make(chan error, 1)}
	opt.Retry = 10 * time.Millisecond
	go func() {
		f.done <- c.Follow(ctx, 0, false, func(ev api.Event) error {
			f.mu.Lock()
			f.events = append(f.events, ev)
			f.mu.Unlock()
			return nil
		}, opt)
	}()
	return f
}

// Follow reconnects after a lost stream and resumes after the newest seq
// it saw, the start the server named included: an event recorded while
// it was away arrives once, and nothing arrives twice.
func TestAPI_FollowResumesAcrossLostStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op := e.client(coretest.Operator)
	status := func(id string) {
		if _, err := op.Submit(bg, api.CommandRequest{Target: "alpha", Op: core.OpStatus}, id); err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	var once sync.Once
	var lmu sync.Mutex
	var losses, streams int
	up := make(chan struct{}, 8)
	f := follow(ctx, op, api.Following{
		Connected: func(uint64) {
			lmu.Lock()
			streams++
			lmu.Unlock()
			up <- struct{}{}
		},
		Lost: func(error, time.Duration) {
			lmu.Lock()
			losses++
			lmu.Unlock()
			// Recorded while the follower is away, before it reconnects.
			once.Do(func() { status("while-away-1") })
		},
	})
	// Lost before any event: only the start the server named lets it
	// resume without missing while-away-1.
	select {
	case <-up:
	case <-time.After(10 * time.Second):
		t.Fatal("no stream up within 10 s")
	}
	e.srv.CloseClientConnections()
	f.waitFor(t, "while-away-1")

	status("live-1")
	f.waitFor(t, "live-1")
	e.srv.CloseClientConnections()
	status("after-cut-1")
	f.waitFor(t, "after-cut-1")

	cancel()
	if err := <-f.done; err != nil {
		t.Fatalf("Follow after its context ended: %v, want nil", err)
	}
	for _, id := range []string{"while-away-1", "live-1", "after-cut-1"} {
		if n := f.seen(id); n != 1 {
			t.Errorf("%s delivered %d times, want once", id, n)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 1; i < len(f.events); i++ {
		if f.events[i].Seq <= f.events[i-1].Seq {
			t.Fatalf("seq %d after %d: an event repeated or out of order", f.events[i].Seq, f.events[i-1].Seq)
		}
	}
	lmu.Lock()
	defer lmu.Unlock()
	if losses < 2 || streams < 3 {
		t.Errorf("Lost heard of %d lost streams and Connected of %d, want at least 2 and 3", losses, streams)
	}
}

// A refusal that retrying cannot mend ends Follow with the problem.
func TestAPI_FollowStopsOnARevokedToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, err := e.admin.Create(bg, api.CreateRequest{Actor: coretest.Operator, By: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.Revoke(bg, c.Record.ID, "local:test"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bg, 10*time.Second)
	defer cancel()
	err = e.clientWith(c.Token).Follow(ctx, 0, false, func(api.Event) error { return nil }, api.Following{Retry: 10 * time.Millisecond})
	var pe *api.ProblemError
	if !errors.As(err, &pe) || pe.Problem.Reason != api.ReasonTokenRevoked {
		t.Fatalf("Follow with a revoked token: %v, want the token_revoked problem", err)
	}
}
