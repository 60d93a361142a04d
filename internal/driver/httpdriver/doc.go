// Package httpdriver controls bots that expose an HTTP control endpoint.
//
// For start, stop, pause, resume and config_apply the driver POSTs a JSON
// Request to the bot's control URL; for status it GETs the status URL and
// maps the JSON StatusReply to a core.BotStatus. Every request is signed:
//
//	Idempotency-Key:       <command_id>
//	X-Botwarden-Timestamp: <unix seconds>
//	X-Botwarden-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
// with a per-bot secret, so the bot can check that the caller is its
// control plane (Verify) and that the request is fresh. Network errors, 5xx
// and 429 are retried with exponential backoff and jitter, bounded in
// attempts and total time; every attempt carries the same body and
// command_id, so the bot applies the command once. Every control request
// to a bot is signed with a strictly later timestamp than the one before
// (attempts and repeated calls alike), so no two share a signature and a
// receiver may reject a repeated signature as a replay. Any other 4xx is
// final.
//
// docs/drivers.md is the wire reference; docs/examples/botreceiver is a
// reference receiver.
package httpdriver
