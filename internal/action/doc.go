// Package action carries out the control plane's non-bot operations
// through configured actions: kill-switch changes (pushed to the execution
// layer on every change), gate overrides, monitoring disable, secret
// rotation by secret_ref and destructive data ops. It implements
// core.Actions.
//
// Each operation is configured with exactly one shape, the same as the bot
// drivers': an exec command (execdriver.Command: argv without a shell,
// BOTWARDEN_* variables, secrets by reference, timeout, redacted output) or
// an HTTP endpoint (httpdriver: signed JSON POST, Idempotency-Key, bounded
// retries). The key "killswitch" serves both killswitch_set and
// killswitch_release, so every level change reaches the execution layer.
//
// Run is idempotent per command_id: a command_id that succeeded is not run
// again. The values an action receives are references (secret_ref, gate
// names, levels), never secrets; the action resolves them itself.
package action
