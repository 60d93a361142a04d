package httpdriver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// StatusReply is the JSON a bot's status URL answers with (HTTP 200).
// Unknown keys are ignored, so bots may add their own.
type StatusReply struct {
	Alive   bool           `json:"alive"`   // process up (also while paused or stopping)
	Stopped bool           `json:"stopped"` // fully stopped
	Paused  bool           `json:"paused"`
	Mode    lifecycle.Mode `json:"mode,omitempty"` // when alive
	Detail  string         `json:"detail,omitempty"`
}

// Status GETs the bot's status URL once, within the attempt timeout: a
// reconciliation loop wants a prompt answer, not retries. The GET is signed
// over an empty body so the bot can refuse strangers.
func (d *Driver) Status(ctx context.Context, id string) (core.BotStatus, error) {
	b, err := d.bot(id)
	if err != nil {
		return core.BotStatus{}, fmt.Errorf("status: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, d.opts.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.StatusURL, nil)
	if err != nil {
		return core.BotStatus{}, fmt.Errorf("status %s: %w", id, err)
	}
	sign(req, b.Secret, d.opts.Now().Unix(), nil)
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		return core.BotStatus{}, fmt.Errorf("status %s: %w: %w", id, ErrUnavailable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return core.BotStatus{}, fmt.Errorf("status %s: read: %w: %w", id, ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return core.BotStatus{}, fmt.Errorf("status %s: %w: HTTP %d: %s", id, ErrUnavailable, resp.StatusCode, detail(raw, b.Secret))
	}
	return parseStatus(raw, b.Secret)
}

// parseStatus maps a StatusReply to a BotStatus, refusing contradictions.
func parseStatus(raw []byte, secret Secret) (core.BotStatus, error) {
	var r StatusReply
	if err := json.Unmarshal(raw, &r); err != nil {
		return core.BotStatus{}, fmt.Errorf("%w: %w", ErrBadReply, err)
	}
	// {"alive":false,"alive":true} reads differently to different
	// parsers; reconciliation acts on a reply, so it must mean one thing.
	if !jsontext.Value(bytes.TrimSpace(raw)).IsValid() {
		return core.BotStatus{}, fmt.Errorf("%w: a member name is repeated, or the reply is not valid UTF-8", ErrBadReply)
	}
	switch {
	case r.Alive && r.Stopped:
		return core.BotStatus{}, fmt.Errorf("%w: alive and stopped at once", ErrBadReply)
	case r.Paused && !r.Alive:
		return core.BotStatus{}, fmt.Errorf("%w: paused but not alive", ErrBadReply)
	case r.Mode != "":
		if _, err := lifecycle.ParseMode(string(r.Mode)); err != nil {
			return core.BotStatus{}, fmt.Errorf("%w: %w", ErrBadReply, err)
		}
	}
	var pause struct {
		Paused *bool `json:"paused"`
	}
	_ = json.Unmarshal(raw, &pause) // decoded above: it parses
	s := core.BotStatus{Alive: r.Alive, Stopped: r.Stopped, Paused: r.Paused, PauseUnknown: r.Alive && pause.Paused == nil, Mode: r.Mode}
	if r.Detail != "" {
		s.Detail = detail([]byte(r.Detail), secret)
	}
	return s, nil
}
