// Command botwarden is the Slack control plane for a fleet of trading bots.
//
// One binary, subcommands: serve (the service), ledger (audit ledger tools,
// offline or against the running service), bundle (support bundles),
// version. See README.md.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if err := newRootCmd().Execute(); err != nil {
		var ex *exitCodeError
		if errors.As(err, &ex) {
			os.Exit(ex.code) // ctl: the outcome was already printed
		}
		fmt.Fprintln(os.Stderr, "botwarden:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "botwarden",
		Short:         "Slack control plane for a fleet of trading bots",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion(), // --version, as `botwarden version`
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddCommand(newServeCmd(), newLedgerCmd(), newBundleCmd(), newVersionCmd(), newCtlCmd(), newTokenCmd(), newCheckCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and build information",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), buildVersion())
			return nil
		},
	}
}

// buildVersion is the version plus the Go toolchain and VCS facts, as the
// support bundle manifest and /healthz report it.
func buildVersion() string {
	s := "botwarden " + version
	if bi, ok := debug.ReadBuildInfo(); ok {
		s += " (" + bi.GoVersion + ")"
	}
	return s
}
