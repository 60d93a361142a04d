package source

import (
	"context"
	"errors"
	"fmt"

	"github.com/botwarden/botwarden/internal/core"
)

// Sink takes validated documents; the core engine fits. It keeps the last
// good state: a document the sources reject never reaches it.
type Sink interface {
	SetSafety(ctx context.Context, doc core.SafetyDoc) error
	SetGates(ctx context.Context, doc core.GatesDoc) error
}

// ErrRefused wraps an error the Sink returned for a valid document (for
// example the ledger being unavailable).
var ErrRefused = errors.New("control plane refused the document")

// wrapSink marks a Sink error as ErrRefused, keeping the cause.
func wrapSink(kind Kind, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w (%s): %w", ErrRefused, kind, err)
}
