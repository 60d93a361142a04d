package api

import (
	"context"
	"io"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/policy"
	"github.com/botwarden/botwarden/internal/token"
	"github.com/botwarden/botwarden/ledger"
)

// Core is what the API needs of the control core (*core.Engine fits it).
// The API decides nothing the core does not check again.
type Core interface {
	Submit(ctx context.Context, cmd core.Command) (core.Outcome, error)
	Confirm(ctx context.Context, req core.ConfirmRequest) (core.Outcome, error)
	Reject(ctx context.Context, req core.RejectRequest) (core.Outcome, error)
	Outcome(ctx context.Context, commandID string) (core.Outcome, bool, error)
	Allowed(actor, target string) []core.Op
	TargetExists(target string) bool
	MayApprove(actor, challengeID string) bool
	MayAudit(actor string) bool
	Roles(actor string) []string
	Snapshot() core.Snapshot
	Bot(id string) (core.BotView, bool)
	RequestedTransition(target string, op core.Op, p core.Params) string
	Challenge(id string) (core.Challenge, bool)
	Subscribe(buf int) (<-chan core.Notice, func())
	Environment() string
	Policy() *policy.Policy
	Runbook(key string) string
	// Redact replaces the secrets in text people sent (Deps.Scrubber).
	Redact(text string) string
}

// Ledger is what the API needs of the audit ledger (*ledger.Log fits it):
// recording token events and serving auditors.
type Ledger interface {
	Append(ctx context.Context, event []byte) (ledger.Receipt, error)
	Head() ledger.Head
	LatestCheckpoint() []byte
	VerifierKey() string
	VerifierKeys() []string
	CheckpointAt(ctx context.Context, size uint64) ([]byte, error)
	Checkpoints(ctx context.Context, from uint64, fn func(size uint64, note []byte) error) error
	Export(ctx context.Context, w io.Writer, from, to uint64) ([]byte, error)
	Get(ctx context.Context, seq uint64) (ledger.Entry, error)
	ProveInclusion(ctx context.Context, seq, size uint64) (tlog.RecordProof, error)
	ProveConsistency(ctx context.Context, oldSize, newSize uint64) (tlog.TreeProof, error)
	RootAt(ctx context.Context, size uint64) (tlog.Hash, error)
	Scan(ctx context.Context, from uint64, fn func(seq uint64, event []byte) error) error
}

// Tokens authenticates bearer tokens (*token.Store fits it).
type Tokens interface {
	Authenticate(secret string) (token.Record, error)
}

var (
	_ Ledger = (*ledger.Log)(nil)
	_ Tokens = (*token.Store)(nil)
	_ Core   = (*core.Engine)(nil)
)
