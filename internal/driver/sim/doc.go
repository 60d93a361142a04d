// Package sim is the simulated bot driver: in-memory bots that start, pause,
// resume, apply config and stop with configurable delays, and that can be
// told to fail or to crash. The embedded demo (`make run`) drives its three
// demo bots with it, and tests use it wherever a real process would only add
// noise.
//
// A Driver serves many bots, each added with its own Config. Everything is
// computed from an injected Clock, so a test with a fake clock sees exactly
// the same sequence every run: Start waits StartDelay on the clock, Stop
// returns at once and Status reports Stopped once StopDelay has elapsed, a
// bot with DieAfter "crashes" that long after it started running.
//
// Every call is idempotent per command_id: repeating a call with the same
// BotMeta.CommandID returns the first call's result and has no second
// effect, which is what the core relies on when it retries.
//
// Diagnostics returns a redaction-free (the simulator holds no secrets)
// snapshot of a bot's simulated process that support bundles may include.
package sim
