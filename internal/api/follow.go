package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Following tunes Follow's reconnections: the first waits Retry, each
// failed one doubles the wait up to MaxRetry, and a stream that connects
// starts over. Zero values mean 1 s and 30 s.
type Following struct {
	Retry, MaxRetry time.Duration
	// Lost, if set, is told why the stream ended and how long Follow waits
	// before it reconnects.
	Lost func(err error, wait time.Duration)
	// Connected, if set, is told each time a stream is up, with the seq it
	// follows from (events after it come next).
	Connected func(from uint64)
}

// errStreamClosed is what Lost hears when the server ended the stream.
var errStreamClosed = errors.New("event stream closed by the server")

// Follow is Watch that reconnects: when the stream ends or the connection
// fails it waits and resumes after the newest seq it saw (the server names
// where a stream from now starts, so that holds before the first event
// too): no recorded event is skipped or repeated. It returns nil when ctx
// ends, fn's error, or a refusal that retrying cannot mend (a problem
// other than 429 or 5xx: a revoked token, no permission).
func (c *Client) Follow(ctx context.Context, last uint64, resume bool, fn func(Event) error, opt Following) error {
	retry, maxRetry := opt.Retry, opt.MaxRetry
	if retry <= 0 {
		retry = time.Second
	}
	if maxRetry <= 0 {
		maxRetry = 30 * time.Second
	}
	maxRetry = max(maxRetry, retry)
	wait := retry
	for {
		seen, connected, err := c.followOnce(ctx, last, resume, fn, opt.Connected)
		if ctx.Err() != nil {
			return nil
		}
		var fe fnError
		if errors.As(err, &fe) {
			return fe.err
		}
		if !retryable(err) {
			return err
		}
		if seen > 0 || resume {
			last, resume = max(last, seen), true
		}
		if connected {
			wait = retry
		}
		if opt.Lost != nil {
			opt.Lost(err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if !connected {
			wait = min(2*wait, maxRetry)
		}
	}
}

// fnError marks an error of Follow's callback: returned, never retried.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

// followOnce reads one stream; connected reports whether it was opened.
func (c *Client) followOnce(ctx context.Context, last uint64, resume bool, fn func(Event) error, connected func(uint64)) (uint64, bool, error) {
	hdr := http.Header{"Accept": {"text/event-stream"}}
	if resume {
		hdr.Set("Last-Event-ID", fmt.Sprint(last))
	}
	resp, err := c.send(ctx, http.MethodGet, "/v1/events", hdr, nil)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	named := false
	seen, err := readEvents(resp.Body, func(ev Event) error {
		if err := fn(ev); err != nil {
			return fnError{err}
		}
		return nil
	}, func(seq uint64) {
		if !named && connected != nil {
			connected(seq)
		}
		named = true
	})
	if err == nil {
		err = errStreamClosed
	}
	return seen, true, err
}

// retryable says whether a failed stream is worth opening again: any
// transport error or lost stream, and the problems that say "later".
func retryable(err error) bool {
	var pe *ProblemError
	if !errors.As(err, &pe) {
		return true
	}
	st := pe.Problem.Status
	return st == http.StatusTooManyRequests || st >= 500
}
