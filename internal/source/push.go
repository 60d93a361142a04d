package source

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/rs/zerolog"
)

// Push serves PUT /v1/safety and PUT /v1/gates for safety systems that
// push their state. Every request needs the bearer token.
type Push struct {
	token Secret
	sink  Sink
	dec   decoder
	log   zerolog.Logger
}

// NewPush returns the push endpoint. token must not be empty: an
// unauthenticated push endpoint is refused at construction.
func NewPush(token Secret, sink Sink, v Validator, log zerolog.Logger) (*Push, error) {
	if token == "" {
		return nil, errors.New("push: bearer token is empty")
	}
	if sink == nil || v == nil {
		return nil, errors.New("push: sink and validator are required")
	}
	return &Push{token: token, sink: sink, dec: decoder{v: v}, log: log}, nil
}

// Register mounts PUT /v1/safety and PUT /v1/gates on mux (other methods
// on those paths get 405 from the mux).
func (p *Push) Register(mux *http.ServeMux) {
	mux.Handle("PUT /v1/safety", p.Handler(KindSafety))
	mux.Handle("PUT /v1/gates", p.Handler(KindGates))
}

// Handler returns the handler for one document kind.
func (p *Push) Handler(kind Kind) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.serve(w, r, kind)
	})
}

// Reply is the JSON body of every push response.
type Reply struct {
	Status string `json:"status"`           // accepted, or the error code
	Detail string `json:"detail,omitempty"` // human sentence for a rejection
	Source string `json:"source,omitempty"` // the accepted document's source
}

func (p *Push) serve(w http.ResponseWriter, r *http.Request, kind Kind) {
	if !bearerOK(r, p.token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="botwarden"`)
		p.log.Warn().Str("kind", string(kind)).Str("remote", r.RemoteAddr).Msg("push rejected: bad or missing token")
		writeReply(w, http.StatusUnauthorized, Reply{Status: "unauthorized", Detail: "a valid bearer token is required"})
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxDocBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeReply(w, http.StatusRequestEntityTooLarge, Reply{Status: "too_large",
				Detail: fmt.Sprintf("the body exceeds %d bytes; the last good state is kept", MaxDocBytes)})
			return
		}
		writeReply(w, http.StatusBadRequest, Reply{Status: "unreadable", Detail: "reading the body: " + err.Error()})
		return
	}
	src, err := p.dec.apply(r.Context(), p.sink, kind, raw)
	code, rep := replyFor(kind, src, err)
	ev := p.log.Info()
	if err != nil {
		ev = p.log.Warn().Err(err)
	}
	ev.Str("kind", string(kind)).Str("source", src).Int("status", code).Msg("push")
	writeReply(w, code, rep)
}

// replyFor maps the outcome of a push to a status code and reply.
func replyFor(kind Kind, src string, err error) (int, Reply) {
	switch {
	case err == nil:
		return http.StatusOK, Reply{Status: "accepted", Source: src}
	case errors.Is(err, ErrInvalid):
		return http.StatusBadRequest, Reply{Status: "invalid_document",
			Detail: fmt.Sprintf("%s document rejected, the last good state is kept: %v", kind, err)}
	case errors.Is(err, core.ErrAuditUnavailable):
		return http.StatusServiceUnavailable, Reply{Status: "ledger_unavailable",
			Detail: "the audit ledger is unavailable; nothing was applied, retry later"}
	}
	return http.StatusUnprocessableEntity, Reply{Status: "refused", Detail: err.Error()}
}

func writeReply(w http.ResponseWriter, code int, rep Reply) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(rep)
}
