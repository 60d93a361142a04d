// Command botreceiver is a tiny reference bot receiver for Botwarden's HTTP
// driver (docs/drivers.md). It shows what a bot must do with a control
// request before acting on it:
//
//  1. verify the signature and the timestamp (httpdriver.Verify: HMAC-SHA256
//     over "timestamp.body" with the bot's secret, at most 5 minutes off);
//  2. refuse a replayed request (a signature it has already seen);
//  3. apply each command_id at most once, answering a repeat with the first
//     answer (the control plane retries with the same command_id).
//
// Its "bot" is a state variable; a real bot would start and stop its
// strategy there. Run it with the secret in the environment:
//
//	BOTRECEIVER_SECRET=... go run ./docs/examples/botreceiver -listen 127.0.0.1:9001
//
// and point a bot's http driver config at http://127.0.0.1:9001/control.
package main
