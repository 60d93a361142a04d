// Package api is the operator HTTP API: a second front door on the control
// core, equal to Slack. It is an adapter like chatops: every operation goes
// through the same core.Engine (same policy, same challenges, same ledger),
// so nothing is possible through one door that is impossible through the
// other.
//
// How the parts fit:
//
//   - ports.go declares what the API needs of the core (Core), of the audit
//     ledger (Ledger) and of the token store (Tokens).
//   - server.go authenticates every request with a bearer token bound to
//     one actor, rate-limits per actor and mounts the /v1 routes.
//   - commands.go and challenges.go submit commands and confirm or reject
//     challenges; state.go answers the fleet, safety, gates and /v1/me
//     (least privilege: what the caller may do now); ledger.go serves the
//     auditor's endpoints; events.go streams recorded events as SSE,
//     resumable from a ledger seq.
//   - problem.go renders every error as RFC 9457 problem details with the
//     denial reason code and a runbook link.
//   - audit.go records token use-denials, creates and revokes in the
//     ledger; admin.go is the loopback admin handler `botwarden token`
//     uses while the service runs.
//   - client.go is the Go client `botwarden ctl` is built on.
//
// docs/api/openapi.yaml is the contract; the tests validate every request
// and response they make against it.
package api
