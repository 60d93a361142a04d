package main

import (
	"net/http"

	"github.com/botwarden/botwarden/ledger"
	"github.com/botwarden/botwarden/ledger/ledgercli"
)

// ledgerAdminHandler serves the ledger CLI while the service runs. Mount it
// on the loopback-only admin listener with
// http.StripPrefix("/admin/ledger", h) at /admin/ledger/, and write the
// listener's base URL to <datadir>/admin.url (ledgercli.AdminURLFile).
func ledgerAdminHandler(l *ledger.Log) http.Handler { return ledgercli.AdminHandler(l) }
