package sim

import (
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// phase is where a simulated process is.
type phase string

const (
	phaseStopped  phase = "stopped"
	phaseStarting phase = "starting"
	phaseRunning  phase = "running"
	phasePaused   phase = "paused"
	phaseStopping phase = "stopping"
	phaseCrashed  phase = "crashed"
)

// bot is one simulated process. All fields are guarded by Driver.mu.
type bot struct {
	id        string
	cfg       Config
	phase     phase
	mode      lifecycle.Mode
	since     time.Time // when phase began
	configRef string
	cause     string // why it crashed
	crashes   int
	failNext  *injection
	calls     map[string]*call
	order     []string // command_ids, oldest first
	history   []Entry
}

// injection is a pending FailNext.
type injection struct {
	op    core.Op
	cause string
}

// call is one command_id's call; done closes when err is final.
type call struct {
	id    string
	op    core.Op
	trace string
	done  chan struct{}
	err   error
}

// set moves the bot to p at now.
func (b *bot) set(now time.Time, p phase, mode lifecycle.Mode) {
	b.phase, b.mode, b.since = p, mode, now
	if p != phaseCrashed {
		b.cause = ""
	}
}

// crash kills the simulated process.
func (b *bot) crash(now time.Time, cause string) {
	b.set(now, phaseCrashed, "")
	b.cause = cause
	b.crashes++
}

// advance applies what the clock made happen since the last look: a stop
// completing after StopDelay, a crash DieAfter into running.
func (b *bot) advance(now time.Time) {
	switch b.phase {
	case phaseStopping:
		if at := b.since.Add(b.cfg.StopDelay); !now.Before(at) {
			b.set(at, phaseStopped, "")
		}
	case phaseRunning:
		if b.cfg.DieAfter > 0 {
			if at := b.since.Add(b.cfg.DieAfter); !now.Before(at) {
				b.crash(at, "died after running "+b.cfg.DieAfter.String())
			}
		}
	}
}

// status maps the phase to what a driver reports. Alive means the process
// is up (also while paused or stopping); a crashed process is not alive and
// counts as stopped, with the cause in Detail.
func (b *bot) status() core.BotStatus {
	s := core.BotStatus{Detail: string(b.phase)}
	switch b.phase {
	case phaseStopped:
		s.Stopped = true
	case phaseRunning, phaseStopping:
		s.Alive, s.Mode = true, b.mode
	case phasePaused:
		s.Alive, s.Paused, s.Mode = true, true, b.mode
	case phaseCrashed:
		s.Stopped = true
		s.Detail = "crashed: " + b.cause
	}
	if b.configRef != "" {
		s.Detail += " (config " + b.configRef + ")"
	}
	return s
}

// remember registers a new call, forgetting the oldest finished ones past
// maxCalls.
func (b *bot) remember(c *call) {
	b.calls[c.id] = c
	b.order = append(b.order, c.id)
	for len(b.order) > maxCalls {
		old := b.calls[b.order[0]]
		select {
		case <-old.done:
		default:
			return // oldest still running: keep it until it ends
		}
		delete(b.calls, b.order[0])
		b.order = b.order[1:]
	}
}

// finish records the result of c and closes it.
func (b *bot) finish(c *call, now time.Time, err error) {
	c.err = err
	close(c.done)
	e := Entry{At: now, Op: c.op, CommandID: c.id, TraceID: c.trace, Phase: string(b.phase)}
	if err != nil {
		e.Error = err.Error()
	}
	b.history = append(b.history, e)
	if len(b.history) > maxHistory {
		b.history = b.history[len(b.history)-maxHistory:]
	}
}
