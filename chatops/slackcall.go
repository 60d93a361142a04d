package chatops

import (
	"context"
	"errors"
	"time"

	"github.com/slack-go/slack"
)

// maxAttempts bounds retries of one Web API call on rate limits and
// transient failures.
const maxAttempts = 5

// maxRetryAfter caps how long one back-off waits, whatever Slack says.
const maxRetryAfter = 30 * time.Second

// call runs one Web API call, waiting out 429s for their Retry-After and
// retrying transient failures with a short back-off. It gives up when ctx
// ends or after maxAttempts.
func (a *Adapter) call(ctx context.Context, method string, fn func(ctx context.Context) error) error {
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		if err = fn(ctx); err == nil {
			a.m.slack.WithLabelValues(method, "ok").Inc()
			return nil
		}
		wait, retry := backoff(err, attempt)
		if !retry {
			break
		}
		a.m.slack.WithLabelValues(method, "ratelimited").Inc()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
	a.m.slack.WithLabelValues(method, "error").Inc()
	return err
}

// backoff says whether err is worth retrying and after how long.
func backoff(err error, attempt int) (time.Duration, bool) {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return min(max(rl.RetryAfter, 100*time.Millisecond), maxRetryAfter), true
	}
	var se slack.StatusCodeError
	if errors.As(err, &se) && se.Code >= 500 {
		return time.Duration(attempt) * 200 * time.Millisecond, true
	}
	return 0, false
}
