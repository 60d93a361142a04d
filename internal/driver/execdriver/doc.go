// Package execdriver controls bots through configured commands: for each
// operation (start, stop, pause, resume, config_apply, status) a bot has an
// argv list that is executed directly, never through a shell.
//
// The command learns what to do from its environment:
//
//	BOTWARDEN_OP          start | stop | pause | resume | config_apply | status
//	BOTWARDEN_MODE        paper | shadow | live (start, resume; else empty)
//	BOTWARDEN_BOT         the bot id
//	BOTWARDEN_COMMAND_ID  idempotency key: the same id means the same command
//	BOTWARDEN_TRACE_ID    trace id of the operator command
//	BOTWARDEN_RUN_ID      run id of the operator command
//	BOTWARDEN_CONFIG_REF  config reference (config_apply; else empty)
//
// The environment is built from scratch: PATH, the BOTWARDEN_* variables,
// the bot's plain Env and its secrets, each resolved from a variable of
// Botwarden's own environment or from a file when the command runs. Nothing
// else of Botwarden's environment (Slack tokens, push token) is inherited,
// and a secret value found in an argv is refused before anything runs.
//
// Each call has a timeout; on expiry the command's whole process group is
// killed. Exit status 0 is success; anything else is an error carrying the
// exit status and a bounded, redacted tail of the command's output. The
// last result per bot is kept for support bundles (Diagnostics).
//
// Status maps the status command's exit code (LSB init-script style) and,
// on exit 0, an optional JSON object on stdout; see Status.
package execdriver
