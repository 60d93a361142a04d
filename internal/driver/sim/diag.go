package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// maxHistory bounds the calls Diagnostics lists per bot.
const maxHistory = 50

// Diagnostics is a snapshot of one simulated process for support bundles.
// It holds no secrets: the simulator has none.
type Diagnostics struct {
	Bot        string         `json:"bot"`
	Phase      string         `json:"phase"`
	Mode       lifecycle.Mode `json:"mode,omitempty"`
	Since      time.Time      `json:"since"`
	ConfigRef  string         `json:"config_ref,omitempty"`
	CrashCause string         `json:"crash_cause,omitempty"`
	Crashes    int            `json:"crashes"`
	Config     Config         `json:"config"`
	History    []Entry        `json:"history"` // last calls, oldest first
}

// Entry is one call the simulated bot received.
type Entry struct {
	At        time.Time `json:"at"`
	Op        core.Op   `json:"op"`
	CommandID string    `json:"command_id"`
	TraceID   string    `json:"trace_id,omitempty"`
	Phase     string    `json:"phase"` // after the call
	Error     string    `json:"error,omitempty"`
}

// Diagnostics returns the bot's simulated process as of the clock's now.
func (d *Driver) Diagnostics(id string) (Diagnostics, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.bots[id]
	if !ok {
		return Diagnostics{}, fmt.Errorf("diagnostics %s: %w", id, ErrUnknownBot)
	}
	b.advance(d.clock.Now())
	return Diagnostics{
		Bot: b.id, Phase: string(b.phase), Mode: b.mode, Since: b.since,
		ConfigRef: b.configRef, CrashCause: b.cause, Crashes: b.crashes,
		Config: b.cfg, History: slices.Clone(b.history),
	}, nil
}

// Bots lists the added bot ids, sorted.
func (d *Driver) Bots() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := make([]string, 0, len(d.bots))
	for id := range d.bots {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
