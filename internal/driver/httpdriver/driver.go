package httpdriver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/botwarden/botwarden/internal/secret"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// Errors callers can branch on with errors.Is.
var (
	ErrUnknownBot  = errors.New("unknown bot")
	ErrRejected    = errors.New("bot rejected the request") // a final 4xx
	ErrUnavailable = errors.New("bot unavailable")          // retries exhausted
	ErrBadReply    = errors.New("malformed reply from bot")
)

var _ core.Driver = (*Driver)(nil)

// maxReply bounds what is read of a bot's reply; maxDetail what of it is
// kept in an error.
const (
	maxReply  = 64 << 10
	maxDetail = 256
)

// Request is the JSON body POSTed to a bot's control URL. Every key is
// always present; mode and config_ref are "" where the op has none.
type Request struct {
	Op        core.Op        `json:"op"`
	Mode      lifecycle.Mode `json:"mode"`
	Bot       string         `json:"bot"`
	CommandID string         `json:"command_id"`
	TraceID   string         `json:"trace_id"`
	RunID     string         `json:"run_id"`
	ConfigRef string         `json:"config_ref"`
}

// Driver is the HTTP bot driver. It is safe for concurrent use.
type Driver struct {
	opts   Options
	mu     sync.RWMutex
	bots   map[string]Bot
	lastTS map[string]int64 // bot -> last control timestamp signed
}

// New returns a driver without bots.
func New(opts Options) *Driver {
	return &Driver{opts: opts.withDefaults(), bots: make(map[string]Bot), lastTS: make(map[string]int64)}
}

// Add registers a bot's endpoint and secret.
func (d *Driver) Add(id string, b Bot) error {
	if err := b.validate(); err != nil {
		return fmt.Errorf("add bot %s: %w", id, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.bots[id]; ok {
		return fmt.Errorf("add bot %s: already added", id)
	}
	d.bots[id] = b
	return nil
}

// Start asks the bot to run in mode.
func (d *Driver) Start(ctx context.Context, m core.BotMeta, mode lifecycle.Mode) error {
	return d.call(ctx, m, core.OpStart, mode, "")
}

// Stop asks the bot to stop gracefully; the bot may answer before it has.
func (d *Driver) Stop(ctx context.Context, m core.BotMeta) error {
	return d.call(ctx, m, core.OpStop, "", "")
}

// Pause asks the bot to pause.
func (d *Driver) Pause(ctx context.Context, m core.BotMeta) error {
	return d.call(ctx, m, core.OpPause, "", "")
}

// Resume asks a paused bot to run again in mode.
func (d *Driver) Resume(ctx context.Context, m core.BotMeta, mode lifecycle.Mode) error {
	return d.call(ctx, m, core.OpResume, mode, "")
}

// Apply asks the bot to load the configuration configRef.
func (d *Driver) Apply(ctx context.Context, m core.BotMeta, configRef string) error {
	return d.call(ctx, m, core.OpApply, "", configRef)
}

func (d *Driver) bot(id string) (Bot, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	b, ok := d.bots[id]
	if !ok {
		return Bot{}, fmt.Errorf("%w: %s", ErrUnknownBot, id)
	}
	return b, nil
}

// call POSTs one operation with bounded retries. Every attempt sends the
// same body and Idempotency-Key, signed with a strictly later timestamp.
func (d *Driver) call(ctx context.Context, m core.BotMeta, op core.Op, mode lifecycle.Mode, configRef string) error {
	if m.CommandID == "" {
		return fmt.Errorf("%s %s: command_id is required", op, m.Bot)
	}
	b, err := d.bot(m.Bot)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	body, err := json.Marshal(Request{Op: op, Mode: mode, Bot: m.Bot, CommandID: m.CommandID,
		TraceID: m.TraceID, RunID: m.RunID, ConfigRef: configRef})
	if err != nil {
		return fmt.Errorf("%s %s: encode: %w", op, m.Bot, err)
	}
	return wrapOp(op, m.Bot, d.send(ctx, m.Bot, b, m.CommandID, body))
}

// Post sends body to target's control URL with the same signing, headers
// and bounded retries as a bot operation (used by the actions for non-bot
// operations). name keys the timestamp sequence (one per receiver);
// idempotencyKey goes in the Idempotency-Key header.
func (d *Driver) Post(ctx context.Context, name string, target Bot, idempotencyKey string, body []byte) error {
	if err := target.validate(); err != nil {
		return err
	}
	if idempotencyKey == "" {
		return errors.New("post: idempotency key is required")
	}
	return d.send(ctx, name, target, idempotencyKey, body)
}

// send POSTs body with bounded retries.
func (d *Driver) send(ctx context.Context, name string, b Bot, key string, body []byte) error {
	r := d.opts.Retry
	ctx, cancel := context.WithTimeout(ctx, r.MaxTotal)
	defer cancel()
	var last error
	for n := 1; ; n++ {
		wait, err := d.post(ctx, b, key, d.nextTS(name), body)
		if err == nil || wait < 0 {
			return err
		}
		last = err
		if n >= r.Attempts {
			break
		}
		if wait == 0 {
			wait = r.backoff(n, d.opts.Jitter)
		}
		if err := d.opts.Sleep(ctx, min(wait, r.MaxDelay)); err != nil {
			last = fmt.Errorf("%w (gave up waiting: %w)", last, err)
			break
		}
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, last)
}

// nextTS returns the timestamp for the next control request to bot: now,
// or one second past the last one if that is later. No two control
// requests to a bot share a timestamp, hence a signature, so a receiver can
// refuse any repeated signature as a replay; a retried command (same body)
// still gets through. The lead over the clock is at most the number of
// requests sent within the same second, far inside the 5 minute window.
func (d *Driver) nextTS(bot string) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	ts := max(d.opts.Now().Unix(), d.lastTS[bot]+1)
	d.lastTS[bot] = ts
	return ts
}

func wrapOp(op core.Op, bot string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %s: %w", op, bot, err)
}

// post sends one attempt. It returns a nil error on 2xx; otherwise wait
// says what to do: < 0 final, 0 retry after the backoff, > 0 retry after
// that long (the bot's Retry-After).
func (d *Driver) post(ctx context.Context, b Bot, key string, ts int64, body []byte) (time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, d.opts.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, b.ControlURL, bytes.NewReader(body))
	if err != nil {
		return -1, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderIdempotencyKey, key)
	sign(req, b.Secret, ts, body)
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return 0, nil
	case code == http.StatusTooManyRequests || code >= 500:
		return retryAfter(resp.Header.Get("Retry-After")), fmt.Errorf("HTTP %d: %s", code, detail(reply, b.Secret))
	default:
		return -1, fmt.Errorf("%w: HTTP %d: %s", ErrRejected, code, detail(reply, b.Secret))
	}
}

func sign(req *http.Request, secret Secret, ts int64, body []byte) {
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(secret, ts, body))
}

// retryAfter parses a Retry-After in seconds; 0 when absent or a date.
func retryAfter(v string) time.Duration {
	s, err := strconv.Atoi(v)
	if err != nil || s <= 0 {
		return 0
	}
	return time.Duration(s) * time.Second
}

// detail makes a bot's reply safe to keep in an error: bounded, one line,
// and without the bot's secret should the bot echo it.
func detail(reply []byte, key Secret) string {
	s := strings.Join(strings.Fields(string(reply)), " ")
	if key != "" {
		s = strings.ReplaceAll(s, key.Reveal(), secret.Redacted)
	}
	if len(s) > maxDetail {
		s = s[:maxDetail] + "…"
	}
	if s == "" {
		s = "(empty reply)"
	}
	return s
}
