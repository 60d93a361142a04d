package main

import (
	"github.com/botwarden/botwarden/ledger/ledgercli"
	"github.com/spf13/cobra"
)

// newLedgerCmd is `botwarden ledger …`: head, verify (data folder or
// --export offline), export, prove, key, checkpoint, restore. See
// ledger/ledgercli.
func newLedgerCmd() *cobra.Command { return ledgercli.NewCommand() }
