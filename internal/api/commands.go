package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/botwarden/botwarden/internal/core"
)

// CommandRequest is the body of POST /v1/commands: the contract's command
// (docs/contracts/command.schema.json) of which only target and op are
// required. What is left out is filled in: actor from the token,
// environment from the service, schema_version, trace_id, run_id and the
// requested_transition from the bot's recorded state. What is given must
// agree: an actor other than the token's is refused, the channel is always
// "api", and a wrong environment is denied by the core (and recorded).
type CommandRequest struct {
	SchemaVersion       string      `json:"schema_version,omitempty"`
	CommandID           string      `json:"command_id,omitempty"`
	Actor               string      `json:"actor,omitempty"`
	Target              string      `json:"target"`
	Op                  core.Op     `json:"op"`
	RequestedTransition string      `json:"requested_transition,omitempty"`
	Environment         string      `json:"environment,omitempty"`
	TraceID             string      `json:"trace_id,omitempty"`
	RunID               string      `json:"run_id,omitempty"`
	Reason              string      `json:"reason,omitempty"`
	Channel             string      `json:"channel,omitempty"`
	Params              core.Params `json:"params"`
}

// ConfirmBody is the body of POST /v1/challenges/{id}/confirm: as in
// Slack's modal, a reason and the target typed out.
type ConfirmBody struct {
	Reason      string `json:"reason"`
	TypedTarget string `json:"typed_target"`
}

// RejectBody is the body of POST /v1/challenges/{id}/reject.
type RejectBody struct {
	Reason string `json:"reason"`
}

// errBody marks a body the API cannot take, errRequest a query parameter
// or header it cannot take.
var (
	errBody    = errors.New("bad request body")
	errRequest = errors.New("bad request")
)

// DecodeStrict decodes exactly one JSON value into v, refusing unknown
// fields, trailing data, a member name repeated in any object and invalid
// UTF-8: a body must read the same to every parser on its way (with
// {"mode":"paper","mode":"live"} some take the first value, Go the last).
func DecodeStrict(r io.Reader, v any) error {
	b, err := io.ReadAll(r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("%w: larger than %d bytes (%w)", errBody, mbe.Limit, mbe)
		}
		return fmt.Errorf("%w: %v", errBody, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", errBody, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON object", errBody)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: trailing data after the JSON object", errBody)
	}
	if !jsontext.Value(bytes.TrimSpace(b)).IsValid() {
		return fmt.Errorf("%w: a member name is repeated, or the text is not valid UTF-8", errBody)
	}
	return nil
}

func badRequest(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusBadRequest
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		status = http.StatusRequestEntityTooLarge
	}
	writeProblem(w, r, newProblem(status, ReasonBadRequest, err.Error()))
}

// BuildCommand completes req into the command the core receives, for
// actor. key is the Idempotency-Key header ("" if absent).
func (s *Server) BuildCommand(req CommandRequest, key, actor string) (core.Command, error) {
	id := req.CommandID
	switch {
	case key != "" && id != "" && key != id:
		return core.Command{}, fmt.Errorf("%w: Idempotency-Key %q and command_id %q differ", errRequest, key, id)
	case id == "":
		id = key
	}
	if id == "" {
		return core.Command{}, fmt.Errorf("%w: an idempotency key is required (Idempotency-Key header or command_id)", errRequest)
	}
	if req.Channel != "" && req.Channel != Channel {
		return core.Command{}, fmt.Errorf("%w: channel must be %q through the API", errBody, Channel)
	}
	cmd := core.Command{SchemaVersion: req.SchemaVersion, CommandID: id, Actor: actor, Target: req.Target,
		Op: req.Op, RequestedTransition: req.RequestedTransition, Environment: req.Environment,
		TraceID: req.TraceID, RunID: req.RunID, Reason: req.Reason, Channel: Channel, Params: req.Params}
	if cmd.SchemaVersion == "" {
		cmd.SchemaVersion = core.SchemaVersion
	}
	if cmd.Environment == "" {
		cmd.Environment = s.deps.Core.Environment()
	}
	if cmd.TraceID == "" {
		cmd.TraceID = s.deps.NewID()
	}
	if cmd.RunID == "" {
		cmd.RunID = cmd.TraceID
	}
	if cmd.RequestedTransition == "" {
		cmd.RequestedTransition = s.deps.Core.RequestedTransition(cmd.Target, cmd.Op, cmd.Params)
	}
	return cmd, nil
}

// acting is the context for a call into the core that may act: not
// cancelled when the client goes away (a timeout, Ctrl-C in ctl), so an
// operation the core accepted is carried out and recorded whole, as
// Slack's are. A fleet stop cut off after its first bot would leave the
// others trading, and a retry with the same key would only get the
// recorded outcome back.
func acting(r *http.Request) context.Context { return context.WithoutCancel(r.Context()) }

func (s *Server) postCommand(w http.ResponseWriter, r *http.Request, actor string) {
	var req CommandRequest
	if err := DecodeStrict(r.Body, &req); err != nil {
		badRequest(w, r, err)
		return
	}
	if req.Actor != "" && req.Actor != actor {
		s.refuseActor(w, r, actor, req.Actor)
		return
	}
	cmd, err := s.BuildCommand(req, r.Header.Get("Idempotency-Key"), actor)
	if err != nil {
		badRequest(w, r, err)
		return
	}
	out, err := s.deps.Core.Submit(acting(r), cmd)
	if err != nil {
		writeProblem(w, r, newProblem(http.StatusUnprocessableEntity, string(core.ReasonInvalid), err.Error()))
		return
	}
	writeOutcome(w, r, out)
}

func (s *Server) getCommand(w http.ResponseWriter, r *http.Request, _ string) {
	id := r.PathValue("command_id")
	o, ok, err := s.deps.Core.Outcome(r.Context(), id)
	if err != nil {
		// Recorded, but too old to be in memory, and the ledger cannot be read now.
		writeProblem(w, r, newProblem(http.StatusServiceUnavailable, string(core.ReasonLedgerUnavailable), err.Error()))
		return
	}
	if !ok {
		writeProblem(w, r, newProblem(http.StatusNotFound, ReasonNotFound, fmt.Sprintf("no command %q has been recorded", id)))
		return
	}
	writeJSON(w, http.StatusOK, o)
}
