package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/botwarden/botwarden/internal/core"
)

// Client calls the operator API. Token is sent as a bearer token and never
// printed.
type Client struct {
	BaseURL string
	Token   string
	HTTP    *http.Client // default http.DefaultClient
}

// ProblemError is a non-2xx answer: its problem details.
type ProblemError struct{ Problem Problem }

func (e *ProblemError) Error() string {
	s := fmt.Sprintf("%d %s: %s", e.Problem.Status, e.Problem.Reason, e.Problem.Detail)
	if e.Problem.Runbook != "" {
		s += " (runbook: " + e.Problem.Runbook + ")"
	}
	return s
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP == nil {
		return http.DefaultClient
	}
	return c.HTTP
}

// Do sends one request; a 2xx JSON answer is decoded into out (if not
// nil), anything else is returned as a *ProblemError.
func (c *Client) Do(ctx context.Context, method, path string, hdr http.Header, in, out any) error {
	resp, err := c.send(ctx, method, path, hdr, in)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// send returns a 2xx response (caller closes the body) or an error.
func (c *Client) send(ctx context.Context, method, path string, hdr http.Header, in any) (*http.Response, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var p Problem
	if json.Unmarshal(b, &p) != nil || p.Status == 0 {
		p = Problem{Status: resp.StatusCode, Reason: "http_" + strconv.Itoa(resp.StatusCode), Detail: strings.TrimSpace(string(b))}
	}
	return nil, &ProblemError{Problem: p}
}

// Submit posts a command with its idempotency key and returns the
// recorded outcome, whether it was applied, challenged or refused. err is
// set only when there is no outcome (transport, authentication, bad
// request).
func (c *Client) Submit(ctx context.Context, req CommandRequest, key string) (core.Outcome, error) {
	hdr := http.Header{}
	if key != "" {
		hdr.Set("Idempotency-Key", key)
	}
	var o core.Outcome
	return outcomeOf(o, c.Do(ctx, http.MethodPost, "/v1/commands", hdr, req, &o))
}

// Confirm confirms a challenge.
func (c *Client) Confirm(ctx context.Context, id string, b ConfirmBody) (core.Outcome, error) {
	var o core.Outcome
	return outcomeOf(o, c.Do(ctx, http.MethodPost, "/v1/challenges/"+url.PathEscape(id)+"/confirm", nil, b, &o))
}

// Reject rejects a challenge.
func (c *Client) Reject(ctx context.Context, id string, b RejectBody) (core.Outcome, error) {
	var o core.Outcome
	return outcomeOf(o, c.Do(ctx, http.MethodPost, "/v1/challenges/"+url.PathEscape(id)+"/reject", nil, b, &o))
}

// outcomeOf turns a problem carrying a recorded outcome into that outcome.
func outcomeOf(o core.Outcome, err error) (core.Outcome, error) {
	var pe *ProblemError
	if errors.As(err, &pe) && pe.Problem.Outcome != nil {
		return *pe.Problem.Outcome, nil
	}
	return o, err
}

// Export streams the ledger export [from, to] (to 0: head) to w and
// returns the signed checkpoint it verifies against.
func (c *Client) Export(ctx context.Context, w io.Writer, from, to uint64) ([]byte, error) {
	q := url.Values{"from": {strconv.FormatUint(max(from, 1), 10)}}
	if to > 0 {
		q.Set("to", strconv.FormatUint(to, 10))
	}
	resp, err := c.send(ctx, http.MethodGet, "/v1/ledger/export?"+q.Encode(), nil, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	cp, err := base64.StdEncoding.DecodeString(resp.Header.Get(CheckpointHeader))
	if err != nil || len(cp) == 0 {
		return nil, errors.New("export answered without a checkpoint")
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return cp, nil
}

// Event is one Server-Sent Event of /v1/events.
type Event struct {
	Seq  uint64
	Type string
	Data json.RawMessage
}

// Watch follows one /v1/events stream from after seq last (resume=false:
// from now) and calls fn for each event until ctx ends, fn returns an
// error or the stream closes. It returns the newest ledger seq the stream
// named, to resume after (Follow does).
func (c *Client) Watch(ctx context.Context, last uint64, resume bool, fn func(Event) error) (uint64, error) {
	seen, _, err := c.followOnce(ctx, last, resume, fn, nil)
	var fe fnError
	if errors.As(err, &fe) {
		err = fe.err
	}
	if errors.Is(err, errStreamClosed) {
		err = nil
	}
	return max(last, seen), err
}

// ReadEvents parses an SSE stream (id, event, data lines; a blank line
// ends an event; comments and other fields ignored) and returns the
// newest id it named: an id without data too, which dispatches nothing
// but says where the stream stands.
func ReadEvents(r io.Reader, fn func(Event) error) (uint64, error) {
	return readEvents(r, fn, nil)
}

// readEvents is ReadEvents that also calls named (if set) with the id of
// every event without data.
func readEvents(r io.Reader, fn func(Event) error, named func(uint64)) (uint64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var last uint64
	var ev Event
	var data []byte
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != nil {
				ev.Data = json.RawMessage(data)
				if err := fn(ev); err != nil {
					return max(last, ev.Seq), err
				}
			} else if ev.Seq != 0 && named != nil {
				named(ev.Seq)
			}
			last = max(last, ev.Seq)
			ev, data = Event{}, nil
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			ev.Seq, _ = strconv.ParseUint(line[4:], 10, 64)
		case strings.HasPrefix(line, "event: "):
			ev.Type = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = append(data, line[6:]...)
		}
	}
	return last, sc.Err()
}

// ErrBundleMismatch: a downloaded bundle's SHA-256 is not the one the
// ledger recorded.
var ErrBundleMismatch = errors.New("support bundle does not match its recorded hash")

// FetchBundle downloads the support bundle that command commandID built
// into w and checks it against the SHA-256 the ledger recorded for it; it
// returns that hash. On ErrBundleMismatch, w holds bytes not to be
// trusted.
func (c *Client) FetchBundle(ctx context.Context, commandID string, w io.Writer) (string, error) {
	resp, err := c.send(ctx, http.MethodGet, "/v1/bundles/"+url.PathEscape(commandID), nil, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	want := resp.Header.Get(BundleSHA256Header)
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(w, h), resp.Body); err != nil {
		return "", fmt.Errorf("bundle of %s: %w", commandID, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); want == "" || got != want {
		return "", fmt.Errorf("%w: bundle of %s has sha256 %s, the ledger recorded %q", ErrBundleMismatch, commandID, got, want)
	}
	return want, nil
}
