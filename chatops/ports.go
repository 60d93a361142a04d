package chatops

import (
	"context"
	"io"

	"github.com/botwarden/botwarden/internal/core"
)

// Core is what the adapter needs of the control core (core.Engine fits
// it). Every operation goes through it; the adapter decides nothing the
// core does not check again.
type Core interface {
	Submit(ctx context.Context, cmd core.Command) (core.Outcome, error)
	Confirm(ctx context.Context, req core.ConfirmRequest) (core.Outcome, error)
	Reject(ctx context.Context, req core.RejectRequest) (core.Outcome, error)
	Allowed(actor, target string) []core.Op
	MayApprove(actor, challengeID string) bool
	// MayAudit reports whether actor may read the ledger (the policy's
	// audit permission in this environment).
	MayAudit(actor string) bool
	Roles(actor string) []string
	Snapshot() core.Snapshot
	RequestedTransition(target string, op core.Op, p core.Params) string
	Challenge(id string) (core.Challenge, bool)
	Subscribe(buf int) (<-chan core.Notice, func())
	Environment() string
	// Started returns the service's controlplane.started event, once
	// recorded.
	Started() (seq uint64, ev core.Event, ok bool)
}

// LedgerHead is the ledger's current size and root, with its signed
// checkpoint note.
type LedgerHead struct {
	Size uint64
	Root string // hex or base64, as the ledger prints it
	Note []byte // signed checkpoint note (sumdb note format)
}

// Ledger is what /warden audit needs of the audit ledger. cmd/botwarden
// adapts the ledger package to it.
type Ledger interface {
	// Head returns the current signed head.
	Head(ctx context.Context) (LedgerHead, error)
	// VerifyAgainst checks the current ledger against a signed checkpoint
	// note posted earlier: the signature, and that the ledger still
	// contains that checkpoint's history (consistency proof). It returns
	// nil only if both hold.
	VerifyAgainst(ctx context.Context, note []byte) error
	// Export writes entries [from, to] (to 0: up to the head) to w and
	// returns the signed checkpoint the export verifies against.
	Export(ctx context.Context, w io.Writer, from, to uint64) (note []byte, err error)
}
