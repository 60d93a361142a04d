// Package chatops is the Slack adapter of Botwarden: it makes every
// operation of the control core reachable from Slack, and only through the
// core.
//
// The parts fit like this:
//
//   - parse.go and grammar.go turn the text of the slash command (default
//     /warden) into a Request; the grammar is documented in docs/slack.md.
//   - verify.go checks Slack's v0 request signatures, refuses stale
//     timestamps and replayed requests.
//   - http.go serves /slack/commands, /slack/interactivity and
//     /slack/events; socket.go (RunSocketMode) serves the same handlers
//     over Socket Mode. Both acknowledge at once and finish the work
//     asynchronously, so Slack's 3-second deadline holds however slow a
//     driver or the ledger is.
//   - commands.go submits commands to the Core; a challenged command posts a
//     challenge message (messages.go, render_challenge.go) whose Confirm
//     button opens a modal that demands the typed target and a reason. The
//     modal is opened from the adapter's cache of open challenges, never
//     waiting for the Core; the Core checks every confirm again. Challenge
//     messages are updated in place when the challenge ends, whoever or
//     whatever ended it.
//   - restore.go tags the adapter's own messages with Slack message
//     metadata and, after a restart, reads them back (challenge messages,
//     audit threads, the last checkpoint posted) — Slack is where they
//     live, and the checkpoint must be an outside copy.
//   - offers.go adds buttons to audit-channel events: a support bundle for
//     a stuck or failed bot, stops when safety leaves NORMAL with bots live.
//     They act as the clicking user, through the Core.
//   - render.go builds Block Kit: the context line every response carries,
//     outcomes, challenge messages, the modal and the App Home (home.go,
//     republished for every user who opened it when state changes).
//   - notify.go posts recorded events and ledger checkpoints to the audit
//     channel, threaded per command, backing off on rate limits without
//     ever blocking the core.
//
// The adapter declares what it needs from the rest of the system as small
// interfaces (Core, Ledger, Bundles); cmd/botwarden provides them.
// Subpackage fakeslack is an in-memory Slack Web API for tests and the
// local playground.
package chatops
