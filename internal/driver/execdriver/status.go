package execdriver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// StatusReply is the optional JSON object a status command prints on
// stdout when it exits 0. Unknown keys are ignored.
type StatusReply struct {
	Alive   bool           `json:"alive"`
	Stopped bool           `json:"stopped"`
	Paused  bool           `json:"paused"`
	Mode    lifecycle.Mode `json:"mode,omitempty"`
	Detail  string         `json:"detail,omitempty"`
}

// The status command's exit codes, after LSB init scripts.
const (
	StatusRunning    = 0 // alive; stdout may hold a StatusReply
	StatusDead       = 1 // the process died (pid file left behind)
	StatusDeadLocked = 2 // the process died (lock file left behind)
	StatusStopped    = 3 // not running: fully stopped
)

// Status runs the bot's status command within its status timeout and maps
// the answer:
//
//	exit 0, empty stdout   alive (mode unknown)
//	exit 0, JSON stdout    the StatusReply, contradictions refused
//	exit 1 or 2            dead: neither alive nor stopped (reconciliation => ERROR)
//	exit 3                 stopped
//	anything else, timeout an error wrapping ErrBadStatus, ErrTimeout...: unknown
func (d *Driver) Status(ctx context.Context, id string) (core.BotStatus, error) {
	b, err := d.bot(id)
	if err != nil {
		return core.BotStatus{}, fmt.Errorf("status: %w", err)
	}
	j := job{op: core.OpStatus, meta: core.BotMeta{Bot: id}}
	res, stdout, err := d.run(ctx, b.cfg.command(core.OpStatus), core.OpStatus, "", j.vars())
	b.record(res, false)
	switch {
	case err == nil:
		return parseStatus(stdout, d.secretValues(b))
	case errors.Is(err, ErrExit) && (res.ExitCode == StatusDead || res.ExitCode == StatusDeadLocked):
		return core.BotStatus{Detail: fmt.Sprintf("dead (status exit %d)%s", res.ExitCode, outputSuffix(res.Output))}, nil
	case errors.Is(err, ErrExit) && res.ExitCode == StatusStopped:
		return core.BotStatus{Stopped: true, Detail: "stopped"}, nil
	case errors.Is(err, ErrExit):
		return core.BotStatus{}, fmt.Errorf("status %s: %w: exit %d%s", id, ErrBadStatus, res.ExitCode, outputSuffix(res.Output))
	}
	return core.BotStatus{}, fmt.Errorf("status %s: %w%s", id, err, outputSuffix(res.Output))
}

func (d *Driver) secretValues(b *bot) []string {
	s, err := d.resolve(b.cfg.command(core.OpStatus))
	if err != nil {
		return nil
	}
	return values(s)
}

func parseStatus(stdout []byte, secrets []string) (core.BotStatus, error) {
	stdout = bytes.TrimSpace(stdout)
	if len(stdout) == 0 {
		return core.BotStatus{Alive: true, PauseUnknown: true, Detail: "running"}, nil
	}
	var r StatusReply
	if err := json.Unmarshal(stdout, &r); err != nil {
		return core.BotStatus{}, fmt.Errorf("%w: stdout is not a status object: %w", ErrBadStatus, err)
	}
	if !jsontext.Value(stdout).IsValid() { // as httpdriver: one meaning only
		return core.BotStatus{}, fmt.Errorf("%w: a member name is repeated, or stdout is not valid UTF-8", ErrBadStatus)
	}
	switch {
	case r.Alive && r.Stopped:
		return core.BotStatus{}, fmt.Errorf("%w: alive and stopped at once", ErrBadStatus)
	case r.Paused && !r.Alive:
		return core.BotStatus{}, fmt.Errorf("%w: paused but not alive", ErrBadStatus)
	case r.Mode != "":
		if _, err := lifecycle.ParseMode(string(r.Mode)); err != nil {
			return core.BotStatus{}, fmt.Errorf("%w: %w", ErrBadStatus, err)
		}
	}
	return core.BotStatus{Alive: r.Alive, Stopped: r.Stopped, Paused: r.Paused, PauseUnknown: r.Alive && !reportsPause(stdout), Mode: r.Mode,
		Detail: redact([]byte(r.Detail), secrets)}, nil
}

// reportsPause reports whether a status object has a "paused" member at
// all: {"alive":true} says nothing about a pause.
func reportsPause(obj []byte) bool {
	var p struct {
		Paused *bool `json:"paused"`
	}
	return json.Unmarshal(obj, &p) == nil && p.Paused != nil
}
