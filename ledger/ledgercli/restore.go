package ledgercli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/botwarden/botwarden/ledger"
)

func restoreCmd(data *string) *cobra.Command {
	var exports []string
	var key, checkpoint string
	c := &cobra.Command{
		Use:   "restore",
		Short: "Rebuild the ledger in a new --data folder from exports (--export FILE… --key PUBKEY), checking every entry",
		Long: `Rebuild the ledger in --data, which must hold no ledger, from an export
made with 'ledger export' (from seq 1) and its signed checkpoint, or from
a chain of them: --export once per file, the whole one first, then each
incremental one (exported with --after the previous one's checkpoint).
Every export is verified against --key first, and each checkpoint against
the one before; then every entry is appended with its recorded time and
checked against its recorded chain hash. The result is the same log,
whose own export is byte for byte the original's.

Put the original signing key (ledger.key, kept apart from backups of the
export) in the folder first to keep signing with it, but only when the
export is the ledger's latest state: otherwise the same key would sign a
second history at sizes it already signed. Without a key a new one is
created and printed, and auditors need it for checkpoints signed after
the restore.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if checkpoint != "" && len(exports) > 1 {
				return errors.New("--checkpoint goes with a single --export; in a chain each export's is EXPORT.checkpoint")
			}
			var parts []ledger.ExportPart
			for _, export := range exports {
				k, cp, err := exportInputs(export, key, checkpoint)
				if err != nil {
					return err
				}
				key = k
				f, err := os.Open(export)
				if err != nil {
					return err
				}
				defer f.Close()
				parts = append(parts, ledger.ExportPart{Export: f, Checkpoint: cp})
			}
			rep, err := ledger.RestoreChain(cmd.Context(), *data, parts, key, ledger.Options{})
			if err != nil {
				return err
			}
			printRestored(cmd.OutOrStdout(), *data, rep, len(parts))
			return nil
		},
	}
	c.Flags().StringArrayVar(&exports, "export", nil, "export file: the whole one (from seq 1), then any incremental ones in order; repeat the flag (required)")
	c.Flags().StringVar(&key, "key", "", "verifier key that signed the checkpoints (several separated by spaces after a key rotation), or a file holding them like ledger.keys (required)")
	c.Flags().StringVar(&checkpoint, "checkpoint", "", "signed checkpoint file of a single export (default: EXPORT.checkpoint)")
	_ = c.MarkFlagRequired("export")
	_ = c.MarkFlagRequired("key")
	return c
}

func printRestored(w io.Writer, dir string, rep ledger.RestoreReport, parts int) {
	fmt.Fprintf(w, "ok: restored %d entries from %d export(s) into %s; root %s matches checkpoint %q size %d\n",
		rep.Head.Size, parts, dir, rep.Head.Root.String(), rep.Export.Checkpoint.Origin, rep.Export.Checkpoint.Size)
	if rep.NewKey {
		fmt.Fprintf(w, "no signing key was in %s: a new one signs from now on; give auditors its verifier key:\n  %s\n", dir, rep.VerifierKey)
	} else {
		fmt.Fprintf(w, "signing with the original key %s\n", rep.VerifierKey)
		fmt.Fprintf(w, "if the ledger had published checkpoints past seq %d, restore with a new key instead (docs/operations/README.md, Backup and restore)\n", rep.Head.Size)
	}
}
