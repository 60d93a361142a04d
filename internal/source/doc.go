// Package source brings the safety state and the gate results into the
// control plane from the systems that own them, and publishes the
// kill-switch levels back to execution systems.
//
// Two ways in, both ending in the same Sink (the core engine):
//
//   - Push: an authenticated HTTP endpoint, PUT /v1/safety and PUT /v1/gates,
//     with a bearer token compared in constant time and a 1 MiB body limit.
//   - Watcher: JSON files polled on an injected ticker; a change is read,
//     validated and handed on.
//
// Both validate every document against its contract (docs/contracts), then
// decode it strictly (unknown fields rejected). An invalid document is
// refused with a clear message and never reaches the Sink, so the last good
// state stays in place. Documents are passed through faithfully: the
// sources never invent or rewrite timestamps; staleness (evaluated_at + ttl
// => UNKNOWN) is the core's to judge.
//
// KillSwitch serves GET /v1/killswitch: the kill-switch levels per scope,
// read-only, for execution systems to poll.
package source
