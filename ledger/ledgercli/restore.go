package ledgercli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/botwarden/botwarden/ledger"
)

func restoreCmd(data *string) *cobra.Command {
	var export, key, checkpoint string
	c := &cobra.Command{
		Use:   "restore",
		Short: "Rebuild the ledger in a new --data folder from a whole export (--export FILE --key PUBKEY), checking every entry",
		Long: `Rebuild the ledger in --data, which must hold no ledger, from an export
made with 'ledger export' (from seq 1) and its signed checkpoint. The
export is verified against --key first, then every entry is appended with
its recorded time and checked against its recorded chain hash; the result
is the same log, whose own export is byte for byte the original's.

Put the original signing key (ledger.key, kept apart from backups of the
export) in the folder first to keep signing with it; without one a new key
is created and printed, and auditors need it for checkpoints signed after
the restore.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, cp, err := exportInputs(export, key, checkpoint)
			if err != nil {
				return err
			}
			f, err := os.Open(export)
			if err != nil {
				return err
			}
			defer f.Close()
			rep, err := ledger.Restore(cmd.Context(), *data, f, cp, key, ledger.Options{})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "ok: restored %d entries into %s; root %s matches checkpoint %q size %d\n",
				rep.Head.Size, *data, rep.Head.Root.String(), rep.Export.Checkpoint.Origin, rep.Export.Checkpoint.Size)
			if rep.NewKey {
				fmt.Fprintf(w, "no signing key was in %s: a new one signs from now on; give auditors its verifier key:\n  %s\n", *data, rep.VerifierKey)
			} else {
				fmt.Fprintf(w, "signing with the original key %s\n", rep.VerifierKey)
			}
			return nil
		},
	}
	c.Flags().StringVar(&export, "export", "", "export file, from seq 1 (required)")
	c.Flags().StringVar(&key, "key", "", "verifier key that signed the checkpoint, or a file holding it (required)")
	c.Flags().StringVar(&checkpoint, "checkpoint", "", "signed checkpoint file (default: EXPORT.checkpoint)")
	_ = c.MarkFlagRequired("export")
	_ = c.MarkFlagRequired("key")
	return c
}
