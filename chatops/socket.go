package chatops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// maxEnvelopes bounds the memory of envelope ids already handled.
const maxEnvelopes = 10000

// RunSocketMode serves Socket Mode until ctx ends: it opens a connection
// with the app-level token (apps.connections.open on Config.APIURL, then
// the WebSocket URL it returns), reconnects when Slack asks, and answers
// slash commands, interactivity and Events API envelopes with the same
// handlers as HTTP mode. Every envelope is acknowledged within AckBudget;
// a redelivered envelope is acknowledged and not handled twice. It
// returns nil when ctx ends and an error when Slack refuses the token.
// Run (notifications) is separate and runs alongside.
func (a *Adapter) RunSocketMode(ctx context.Context) error {
	if a.cfg.AppToken == "" {
		return fmt.Errorf("%w: socket mode needs an app-level token", ErrConfig)
	}
	client := socketmode.New(a.api, socketmode.OptionLog(logOutput{a.log}))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- client.RunContext(ctx) }()
	var wg sync.WaitGroup
	defer wg.Wait()
	seen := &envelopes{ids: map[string]bool{}}
	for {
		select {
		case <-ctx.Done():
			<-errc
			return nil
		case err := <-errc:
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("socket mode: %w", err)
		case ev := <-client.Events:
			if ev.Request != nil && ev.Request.EnvelopeID != "" && !seen.first(ev.Request.EnvelopeID) {
				a.ack(ctx, client, ev.Request, nil) // a redelivery: answered already
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				a.onSocketEvent(ctx, client, ev)
			}()
		}
	}
}

// onSocketEvent answers one Socket Mode event with the transport-neutral
// handlers and acknowledges its envelope with their answer.
func (a *Adapter) onSocketEvent(ctx context.Context, client *socketmode.Client, ev socketmode.Event) {
	switch ev.Type {
	case socketmode.EventTypeSlashCommand:
		sc, ok := ev.Data.(slack.SlashCommand)
		if !ok {
			a.ack(ctx, client, ev.Request, nil)
			return
		}
		a.m.requests.WithLabelValues("socket_commands", "ok").Inc()
		a.ack(ctx, client, ev.Request, a.onCommand(sc))
	case socketmode.EventTypeInteractive:
		ic, ok := ev.Data.(slack.InteractionCallback)
		if !ok {
			a.ack(ctx, client, ev.Request, nil)
			return
		}
		a.m.requests.WithLabelValues("socket_interactivity", "ok").Inc()
		a.ack(ctx, client, ev.Request, a.onInteraction(ic))
	case socketmode.EventTypeEventsAPI:
		a.m.requests.WithLabelValues("socket_events", "ok").Inc()
		a.ack(ctx, client, ev.Request, nil) // events take no answer
		if ev.Request != nil {
			if _, err := a.onEvent(json.RawMessage(ev.Request.Payload)); err != nil {
				a.log.Warn().Err(err).Msg("socket mode event not understood")
			}
		}
	case socketmode.EventTypeConnected:
		a.log.Info().Msg("slack socket mode connected")
	case socketmode.EventTypeConnectionError, socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed:
		a.log.Warn().Str("event", string(ev.Type)).Msg("slack socket mode trouble; the client reconnects")
	case socketmode.EventTypeInvalidAuth:
		a.log.Error().Msg("slack refused the app-level token")
	case socketmode.EventTypeErrorBadMessage:
		a.log.Warn().Msg("slack socket mode sent a message the client could not parse")
	}
}

// ack acknowledges an envelope; payload nil sends an empty ack.
func (a *Adapter) ack(ctx context.Context, client *socketmode.Client, req *socketmode.Request, payload any) {
	if req == nil || req.EnvelopeID == "" {
		return
	}
	if err := client.AckCtx(ctx, req.EnvelopeID, payload); err != nil {
		a.log.Warn().Err(err).Str("envelope", req.EnvelopeID).Msg("socket mode ack failed")
	}
}

// envelopes remembers the envelope ids handled, oldest forgotten first.
type envelopes struct {
	mu    sync.Mutex
	ids   map[string]bool
	order []string
}

// first reports whether id is seen for the first time (and remembers it).
func (e *envelopes) first(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ids[id] {
		return false
	}
	if len(e.order) >= maxEnvelopes {
		delete(e.ids, e.order[0])
		e.order = e.order[1:]
	}
	e.ids[id] = true
	e.order = append(e.order, id)
	return true
}

// logOutput routes slack-go's Socket Mode log lines to zerolog at debug
// level (it logs only with OptionDebug, and redacts URLs itself).
type logOutput struct{ log zerolog.Logger }

func (l logOutput) Output(_ int, s string) error {
	l.log.Debug().Str("component", "socketmode").Msg(strings.TrimSpace(s))
	return nil
}

// SocketMode reports whether the adapter was configured for Socket Mode
// (an app-level token is set): then RunSocketMode is its transport.
func (a *Adapter) SocketMode() bool { return a.cfg.SocketMode() }
