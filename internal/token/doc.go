// Package token is the operator API's bearer-token store.
//
// A token is 256 random bits printed once as "bw_" + base64url; only its
// SHA-256 is kept, in a JSON file in the data folder written atomically
// with mode 0600, together with the actor it is bound to, when it was
// created, when it expires and whether it was revoked. Authenticate maps a
// presented token to its record in constant time per candidate and says
// why a token is refused (unknown, revoked, expired) so that the caller
// can record the refusal in the audit ledger.
//
// The store knows nothing of the ledger or of HTTP: the API adapter and
// the `botwarden token` commands record the audit events.
package token
