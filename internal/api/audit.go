package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/token"
	"github.com/botwarden/botwarden/ledger"
)

// The token audit events (docs/contracts/audit_event.schema.json).
const (
	EvTokenCreated = "api.token.created"
	EvTokenRevoked = "api.token.revoked"
	EvTokenDenied  = "api.token.denied"
	// EvBundleDownloaded records who fetched a support bundle's file.
	EvBundleDownloaded = "support_bundle.downloaded"
)

// bundleDownload is a support_bundle.downloaded audit event: the bundle,
// the command that built it and who fetched it.
type bundleDownload struct {
	SchemaVersion string         `json:"schema_version"`
	Type          string         `json:"event_type"`
	Time          string         `json:"time"`
	Environment   string         `json:"environment"`
	Actor         string         `json:"actor"`
	Target        string         `json:"target"`
	Channel       string         `json:"channel"`
	CommandID     string         `json:"command_id"`
	Bundle        core.BundleRef `json:"bundle"`
}

// recordDownload records that actor is fetching the bundle o built.
func (s *Server) recordDownload(r *http.Request, actor string, o core.Outcome) error {
	b, err := json.Marshal(bundleDownload{SchemaVersion: core.SchemaVersion, Type: EvBundleDownloaded,
		Time: s.deps.Now().UTC().Format(time.RFC3339Nano), Environment: s.deps.Core.Environment(), Actor: actor,
		Target: o.Target, Channel: Channel, CommandID: o.CommandID, Bundle: *o.Bundle})
	if err != nil {
		return fmt.Errorf("encode %s: %w", EvBundleDownloaded, err)
	}
	if _, err := s.deps.Ledger.Append(r.Context(), b); err != nil {
		return fmt.Errorf("record %s: %w", EvBundleDownloaded, err)
	}
	return nil
}

// unknownActor is the actor of a refused token that matches no record.
const unknownActor = "unknown"

// Appender is the part of the ledger that records events.
type Appender interface {
	Append(ctx context.Context, event []byte) (ledger.Receipt, error)
}

// TokenEvent is one api.token.* audit event. It names the token by its
// public id, never by the token or its hash.
type TokenEvent struct {
	SchemaVersion string   `json:"schema_version"`
	Type          string   `json:"event_type"`
	Time          string   `json:"time"`
	Environment   string   `json:"environment"`
	Actor         string   `json:"actor"` // who acted: the creator, the revoker, the token's actor when refused
	Target        string   `json:"target"`
	Channel       string   `json:"channel,omitempty"`
	Reason        string   `json:"reason,omitempty"`
	Detail        string   `json:"detail,omitempty"`
	Token         TokenRef `json:"token"`
}

// TokenRef is how an audit event names a token.
type TokenRef struct {
	ID        string `json:"id"`
	Actor     string `json:"actor,omitempty"`
	ExpiresAt string `json:"expires_at,omitempty"`
}

// NewTokenEvent builds the event for typ about rec, acted by by.
func NewTokenEvent(env, typ, by string, rec token.Record, now time.Time) TokenEvent {
	ref := TokenRef{ID: rec.ID, Actor: rec.Actor}
	if ref.ID == "" {
		ref.ID = unknownActor
	}
	if !rec.Expires.IsZero() {
		ref.ExpiresAt = rec.Expires.UTC().Format(time.RFC3339Nano)
	}
	return TokenEvent{SchemaVersion: core.SchemaVersion, Type: typ, Time: now.UTC().Format(time.RFC3339Nano),
		Environment: env, Actor: by, Target: "global", Channel: Channel, Token: ref}
}

// Encode renders the event as the compact JSON the ledger takes.
func (ev TokenEvent) Encode() ([]byte, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ev.Type, err)
	}
	return b, nil
}

// actorName is the command contract's actor pattern.
var actorName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`)

// refuseActor refuses, and records as api.token.denied, a command whose
// actor is not the token's: an attempt to act as someone else is a
// denial like any other, and the ledger names the token that made it.
func (s *Server) refuseActor(w http.ResponseWriter, r *http.Request, actor, claimed string) {
	// The claimed name is the client's text, bound for the ledger: only a
	// well-formed actor name, with any secret in it replaced, is kept.
	if !actorName.MatchString(claimed) {
		claimed = "a malformed actor name"
	}
	err := fmt.Errorf("this token acts as %s, not %s", actor, s.deps.Core.Redact(claimed))
	rec := token.Record{Actor: actor}
	if secret, ok := bearer(r); ok { // authenticated a moment ago: read again for its id (a rare path)
		if got, aerr := s.deps.Tokens.Authenticate(secret); aerr == nil {
			rec = got
		}
	}
	s.recordDenied(r, rec, ReasonActorMismatch, err)
	writeProblem(w, r, newProblem(http.StatusForbidden, ReasonActorMismatch, err.Error()))
}

// recordDenied records a refused token before the 401 goes out. A ledger
// failure is logged; the request is refused either way.
func (s *Server) recordDenied(r *http.Request, rec token.Record, reason string, cause error) {
	by := rec.Actor
	if by == "" {
		by = unknownActor
	}
	ev := NewTokenEvent(s.deps.Core.Environment(), EvTokenDenied, by, rec, s.deps.Now())
	ev.Reason, ev.Detail = reason, fmt.Sprintf("%s %s: %v", r.Method, r.URL.Path, cause)
	if len(ev.Detail) > 500 {
		ev.Detail = ev.Detail[:500]
	}
	b, err := ev.Encode()
	if err == nil {
		_, err = s.deps.Ledger.Append(r.Context(), b)
	}
	if err != nil {
		s.log.Error().Err(err).Str("reason", reason).Msg("token refusal not recorded")
	}
}
