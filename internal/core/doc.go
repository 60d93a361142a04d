// Package core is Botwarden's control core: every operator action becomes
// an explicit, idempotent, authorised, audited command that the fixed bot
// lifecycle enforces.
//
// The Engine (engine.go) takes commands (Submit), confirmations and
// rejections of dangerous-op challenges (Confirm, Reject), safety state and
// gate results (SetSafety, SetGates) and a periodic Tick. Its state — bot
// states, kill-switch levels, gate overrides, challenges with their
// approvals, the command_id index — is derived from the audit ledger: every
// change is an Event (event.go, docs/contracts/audit_event.schema.json)
// appended through the Auditor port first and applied to memory only once
// durable, by the same apply (state.go) that New uses to replay the ledger
// on start. So a restart reproduces the state, and the state never
// disagrees with the ledger.
//
// The state is immutable once published: apply returns a successor that
// shares what the event did not touch (state.go), and what grows with the
// ledger — every challenge and outcome — sits in a shared index versioned
// by the state's gen (index.go). The engine publishes each successor
// through an atomic pointer, so readers (Snapshot, Challenge, Outcome,
// MayApprove, Allowed) take no lock and always see the state after some
// ledger prefix, never half of a change.
//
// Writers (concurrency.go) run concurrently on different targets: a
// command, confirm or reject holds the fleet lock shared plus its bot's
// (or group's, or global's) lock from check to recorded result; fleet-wide
// changes (safety, gates, kill-switch, overrides, monitoring, group/global
// fan-outs, Tick's fleet work) hold the fleet lock exclusively, so the
// re-check at execution still holds. A command_id is reserved before any
// lock, so concurrent duplicates get one effect. Appends are queued in
// the ledger's order under a short lock and waited for concurrently, and
// the ledger commits them in groups; a sequencer applies the recorded
// events in that order, so the memory, the notices and a replay agree.
//
// A challenge whose preconditions change (bot state, safety, kill-switch,
// config version, gates) is ended as superseded at once by whoever made
// the change, if its locks cover the challenge, or by the next Tick
// (supersede.go); a late confirm gets the superseded outcome.
//
// A command walks: validate (validate.go, against the command schema
// through its compiled equivalent in commandcheck.go) -> idempotency
// (seen command_id: original outcome, no effect) -> checks (checks.go:
// environment, channel, policy, target, safety coupling, lifecycle,
// gates, kill-switch) -> intent recorded -> denied, challenged
// (challenge.go) or executed (exec.go) through the Driver/Actions/Bundler
// ports -> result recorded. A denial or a status, which have no effect,
// record their intent and result together in one append (submit.go); a
// single-bot lifecycle op records its transition with its result. Tick (tick.go) expires challenges and
// overrides, marks stale data UNKNOWN, finishes or reports STOPPING bots,
// moves dead running or paused bots to ERROR and quarantines and stops a
// bot doing more than its record says (drift.go). Adapters read Snapshot, Allowed,
// MayApprove (view.go) and Subscribe to recorded events (notify.go).
//
// The core imports no ledger, Slack or HTTP code; coretest provides fakes
// of its ports for tests.
package core
