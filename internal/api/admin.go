package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/token"
)

// TokenAdmin creates, lists and revokes tokens, recording every create and
// revoke in the ledger before it takes effect. The `botwarden token`
// commands use it directly on the data folder, or through AdminHandler
// while the service holds the ledger.
type TokenAdmin struct {
	Store       *token.Store
	Ledger      Appender
	Environment string
	Now         func() time.Time // default time.Now
}

// CreateRequest asks for a token.
type CreateRequest struct {
	Actor   string `json:"actor"`
	Expires string `json:"expires,omitempty"` // "30d", "12h"; "" no expiry
	By      string `json:"by"`                // who asks (recorded)
}

// Created is a new token: Token is shown this once and never again.
type Created struct {
	Token  string       `json:"token"`
	Record token.Record `json:"record"`
}

// RevokeRequest asks to revoke a token by id.
type RevokeRequest struct {
	By string `json:"by"`
}

func (a *TokenAdmin) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

// Create makes a token for req.Actor: the api.token.created event is
// durable before the token is stored or shown.
func (a *TokenAdmin) Create(ctx context.Context, req CreateRequest) (Created, error) {
	ttl, err := token.ParseTTL(req.Expires)
	if err != nil {
		return Created{}, err
	}
	secret, rec, err := a.Store.New(req.Actor, ttl)
	if err != nil {
		return Created{}, err
	}
	if err := a.record(ctx, EvTokenCreated, req.By, rec); err != nil {
		return Created{}, err
	}
	if err := a.Store.Add(rec); err != nil {
		return Created{}, err
	}
	return Created{Token: secret, Record: rec}, nil
}

// Revoke revokes token id: the api.token.revoked event is durable first.
func (a *TokenAdmin) Revoke(ctx context.Context, id, by string) (token.Record, error) {
	rec, err := a.Store.Get(id)
	if err != nil {
		return token.Record{}, err
	}
	if !rec.Revoked.IsZero() {
		return rec, nil
	}
	if err := a.record(ctx, EvTokenRevoked, by, rec); err != nil {
		return token.Record{}, err
	}
	return a.Store.Revoke(id)
}

func (a *TokenAdmin) record(ctx context.Context, typ, by string, rec token.Record) error {
	if by == "" {
		by = "local"
	}
	b, err := NewTokenEvent(a.Environment, typ, by, rec, a.now()).Encode()
	if err != nil {
		return err
	}
	if _, err := a.Ledger.Append(ctx, b); err != nil {
		return fmt.Errorf("record %s (nothing changed): %w", typ, err)
	}
	return nil
}

// AdminHandler serves TokenAdmin on the loopback admin listener (it
// trusts its caller): POST /tokens (CreateRequest -> Created), GET /tokens
// ([]token.Record), POST /tokens/{id}/revoke (RevokeRequest -> token.Record).
// Mount it with http.StripPrefix("/admin", h) at /admin/tokens.
func AdminHandler(a *TokenAdmin) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /tokens", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, a.Store.List())
	})
	mux.HandleFunc("POST /tokens", func(w http.ResponseWriter, r *http.Request) {
		var req CreateRequest
		if err := DecodeStrict(http.MaxBytesReader(w, r.Body, 4096), &req); err != nil {
			badRequest(w, r, err)
			return
		}
		c, err := a.Create(r.Context(), req)
		if err != nil {
			adminProblem(w, r, err)
			return
		}
		writeJSON(w, http.StatusCreated, c)
	})
	mux.HandleFunc("POST /tokens/{id}/revoke", func(w http.ResponseWriter, r *http.Request) {
		var req RevokeRequest
		if err := DecodeStrict(http.MaxBytesReader(w, r.Body, 4096), &req); err != nil {
			badRequest(w, r, err)
			return
		}
		rec, err := a.Revoke(r.Context(), r.PathValue("id"), req.By)
		if err != nil {
			adminProblem(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, rec)
	})
	return mux
}

func adminProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := newProblem(http.StatusServiceUnavailable, string(core.ReasonLedgerUnavailable), err.Error())
	switch {
	case errors.Is(err, token.ErrNoToken):
		p = newProblem(http.StatusNotFound, ReasonNotFound, err.Error())
	case errors.Is(err, token.ErrActor), errors.Is(err, token.ErrTTL), errors.Is(err, errBody):
		p = newProblem(http.StatusBadRequest, ReasonBadRequest, err.Error())
	}
	writeProblem(w, r, p)
}
