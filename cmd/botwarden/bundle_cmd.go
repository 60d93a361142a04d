package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/botwarden/botwarden/bundle"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/spf13/cobra"
)

// newBundleCmd is `botwarden bundle`. Creating a bundle is a core
// operation (authorised, audited, a dangerous op where policy says so), so
// `bundle create` asks the running service through the operator API, like
// `ctl bundle`; `bundle inspect` works offline on a file.
func newBundleCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Support bundle tools",
	}
	f := &ctlFlags{}
	create := ctlOpCmd(f, core.OpBundle, "create", nil)
	create.Short = "Ask the running service for a support bundle of TARGET (a bot, group:NAME or global)"
	create.Long = `create submits the support_bundle operation through the operator API
(--url/BOTWARDEN_URL, --token/BOTWARDEN_TOKEN), so it is authorised and
audited like any other command. The outcome names the bundle file under
<data>/bundles; support_bundle.created in the ledger carries its SHA-256.
--out FILE downloads it through the API (GET /v1/bundles/{command_id})
and checks it against that hash; ctl bundle-fetch does the same later.`
	f.addConnFlags(create.Flags())
	create.PreRunE = f.prepare
	cmd.AddCommand(create, newBundleInspectCmd())
	return cmd
}

func newBundleInspectCmd() *cobra.Command {
	var key, keyFile string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "List a bundle's contents and re-verify its file hashes and ledger export",
		Long: `inspect lists the files of a support bundle, re-hashes each against the
manifest and verifies the embedded ledger export offline.

Without --key the export is checked with the verifier key inside the
bundle: that proves the export is intact and matches its signed
checkpoint, not who signed it. Pass the ledger's key you trust
(botwarden ledger key) with --key or --key-file to prove authenticity.`,
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile != "" {
				b, err := os.ReadFile(keyFile)
				if err != nil {
					return fmt.Errorf("read --key-file: %w", err)
				}
				key = strings.TrimSpace(string(b))
			}
			rep, err := bundle.Inspect(cmd.Context(), args[0], bundle.InspectOptions{VerifierKey: key})
			if rep.Manifest.ID == "" && err != nil {
				return err // not a readable bundle: nothing to show
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if jerr := enc.Encode(rep); jerr != nil {
					return jerr
				}
			} else {
				printBundleReport(cmd.OutOrStdout(), rep)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "ledger verifier key to trust (default: the key inside the bundle, integrity only)")
	cmd.Flags().StringVar(&keyFile, "key-file", "", "file holding the ledger verifier key to trust")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.MarkFlagsMutuallyExclusive("key", "key-file")
	return cmd
}

// printBundleReport writes a human-readable inspection report.
func printBundleReport(w io.Writer, rep bundle.Report) {
	m := rep.Manifest
	fmt.Fprintf(w, "bundle   %s\nenv      %s\ntarget   %s\nactor    %s\ncreated  %s\nservice  %s (%s)\n",
		m.ID, m.Environment, m.Target, m.Actor, m.CreatedAt.Format("2006-01-02T15:04:05Z07:00"), m.Version, m.Build.GoVersion)
	if m.Reason != "" {
		fmt.Fprintf(w, "reason   %s\n", m.Reason)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSTATUS\tSIZE\tSHA-256\tPATH")
	for _, f := range rep.Files {
		status := "ok"
		if !f.OK {
			status = "BAD"
		}
		fmt.Fprintf(tw, "%s\t%d\t%.16s…\t%s\n", status, f.Size, f.SHA256, f.Path)
	}
	tw.Flush()
	if l := rep.Ledger; l != nil {
		fmt.Fprintf(w, "\nledger   entries %d..%d (%d) verified against checkpoint size %d, key: %s\n",
			l.From, l.To, l.Entries, l.Checkpoint.Size, rep.KeySource)
	}
	var red []string
	for _, rc := range m.Redaction.Rules {
		if rc.Replacements > 0 {
			red = append(red, fmt.Sprintf("%s=%d", rc.Rule, rc.Replacements))
		}
	}
	fmt.Fprintf(w, "redacted %d rules ran, %d known values; replacements: %s\n", len(m.Redaction.Rules), m.Redaction.KnownValues, orNone(strings.Join(red, " ")))
	for _, n := range m.Notes {
		fmt.Fprintf(w, "note     %s\n", n)
	}
	if rep.OK() {
		fmt.Fprintln(w, "\nOK: every file matches the manifest and the ledger export verifies")
		return
	}
	fmt.Fprintln(w, "\nFAILED:")
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
