// Package ledgercli is the `botwarden ledger` command tree (head, verify,
// export, prove, key, checkpoint) and the admin HTTP handler the running
// service mounts so that those commands work while it holds the ledger's
// database lock.
//
// Every command that needs the database first tries to open the data
// folder directly; when the running service holds the lock it reads the
// admin base URL the service wrote to <data>/admin.url and uses the admin
// endpoint instead. It says which on stderr. `ledger verify --export`
// needs neither: it checks an export offline with a verifier key.
package ledgercli
