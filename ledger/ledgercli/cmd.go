package ledgercli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/botwarden/botwarden/ledger"
	"github.com/spf13/cobra"
)

// NewCommand returns the `ledger` command tree.
func NewCommand() *cobra.Command {
	var data string
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Inspect, verify, export, prove and restore the audit ledger (offline or via the running service)",
	}
	cmd.PersistentFlags().StringVar(&data, "data", "./data", "data folder")
	cmd.AddCommand(headCmd(&data), verifyCmd(&data), exportCmd(&data), proveCmd(&data), keyCmd(&data), checkpointCmd(&data), restoreCmd(&data), rotateKeyCmd(&data))
	return cmd
}

// withBackend runs fn against the data folder or the running service.
func withBackend(cmd *cobra.Command, data string, fn func(backend) error) error {
	b, err := connect(cmd.Context(), data, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	err = fn(b)
	if cerr := b.close(); err == nil {
		err = cerr
	}
	return err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func headCmd(data *string) *cobra.Command {
	return &cobra.Command{
		Use: "head", Short: "Print the ledger's size, Merkle root, last entry and latest signed checkpoint", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withBackend(cmd, *data, func(b backend) error {
				h, err := b.head(cmd.Context())
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), h)
			})
		},
	}
}

func keyCmd(data *string) *cobra.Command {
	var all bool
	c := &cobra.Command{
		Use: "key", Short: "Print the ledger's public verifier key (for auditors)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if all {
				h, err := ledger.ReadKeyHistory(*data)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), strings.Join(h, "\n"))
				return nil
			}
			k, err := ledger.ReadVerifierKey(*data)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), k)
			return nil
		},
	}
	c.Flags().BoolVar(&all, "all", false, "the key history: every key that signed this ledger's checkpoints, oldest first, a retired one with the largest size it may sign (after a rotate-key: give it all to verify older checkpoints)")
	return c
}

func rotateKeyCmd(data *string) *cobra.Command {
	var previous string
	c := &cobra.Command{
		Use:   "rotate-key",
		Short: "Give the ledger a new signing key (one that leaked, or is lost); the service must be stopped",
		Long: `Give the ledger a new signing key with the same name, for a key that may have
leaked or that is lost. Run it with the service stopped. The entries are not
touched. Every earlier verifier key stays in DATA/ledger.keys, retired at
the latest checkpoint's size: older checkpoints (kept by auditors, posted in
Slack) still verify, nothing it signs past that size does, and the latest
checkpoint is signed by the new key as well: one note carries the old key's
signature and the new one's on the same tree head. Hand the new key to
auditors; the service's next start records it in the ledger.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := ledger.RotateKey(cmd.Context(), *data, readKeyArg(previous), ledger.Options{})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "new verifier key: %s\n", rep.VerifierKey)
			if !rep.Replaced {
				fmt.Fprintln(w, "the previous signing key was missing from the folder")
			}
			fmt.Fprintf(w, "earlier keys are retired at size %d: nothing they sign past it verifies (a leaked key cannot vouch for a forged history)\n", rep.CoSigned)
			if rep.CoSigned > 0 {
				fmt.Fprintf(w, "the latest checkpoint (size %d) is now signed by the previous key and the new one\n", rep.CoSigned)
			}
			fmt.Fprintf(w, "every key of this ledger, oldest first, is in %s (%d keys): verify older checkpoints with all of them, e.g. --key %s\n",
				filepath.Join(*data, "ledger.keys"), len(rep.History), filepath.Join(*data, "ledger.keys"))
			fmt.Fprintln(w, "hand the new key to auditors (botwarden ledger key); the next start records it in the ledger")
			return nil
		},
	}
	c.Flags().StringVar(&previous, "previous-key", "", "the verifier key auditors hold (or a file holding it), when the folder's ledger.keys and ledger.pub are lost too")
	return c
}

// readKeyArg returns the verifier keys given as a flag: keys, or a file
// holding them (ledger.pub, ledger.keys).
func readKeyArg(arg string) string {
	if arg == "" {
		return ""
	}
	if b, err := os.ReadFile(arg); err == nil {
		return strings.TrimSpace(string(b))
	}
	return arg
}

func checkpointCmd(data *string) *cobra.Command {
	return &cobra.Command{
		Use: "checkpoint", Short: "Sign the current head now and print the checkpoint", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withBackend(cmd, *data, func(b backend) error {
				cp, err := b.checkpoint(cmd.Context())
				if err == nil {
					_, err = cmd.OutOrStdout().Write(cp)
				}
				return err
			})
		},
	}
}

func proveCmd(data *string) *cobra.Command {
	var seq, size uint64
	c := &cobra.Command{
		Use: "prove", Short: "Print an inclusion proof of entry --seq in the signed checkpoint for --size (default: head)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withBackend(cmd, *data, func(b backend) error {
				p, err := b.prove(cmd.Context(), seq, size)
				if err != nil {
					return err
				}
				return printJSON(cmd.OutOrStdout(), p)
			})
		},
	}
	c.Flags().Uint64Var(&seq, "seq", 0, "entry to prove (required)")
	c.Flags().Uint64Var(&size, "size", 0, "tree size (default: head)")
	c.MarkFlagRequired("seq")
	return c
}

func exportCmd(data *string) *cobra.Command {
	var from, to uint64
	var out, after string
	c := &cobra.Command{
		Use: "export", Short: "Export entries --from..--to as JSON Lines to --out, and the signed checkpoint to OUT.checkpoint", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if after != "" && cmd.Flags().Changed("from") {
				return errors.New("--after and --from both say where to start: give one")
			}
			return withBackend(cmd, *data, func(b backend) error {
				if after != "" {
					next, err := afterCheckpoint(cmd, b, after)
					if err != nil || next == 0 {
						return err
					}
					from = next
				}
				if err := writeExport(cmd, b, out, from, to); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s and %s.checkpoint\n", out, out)
				return nil
			})
		},
	}
	c.Flags().Uint64Var(&from, "from", 1, "first seq")
	c.Flags().Uint64Var(&to, "to", 0, "last seq (default: head)")
	c.Flags().StringVar(&after, "after", "", "start right after this ledger's checkpoint file (an incremental export after the previous backup's OUT.checkpoint)")
	c.Flags().StringVar(&out, "out", "", "output file (required)")
	c.MarkFlagRequired("out")
	return c
}

// afterCheckpoint returns the seq after the checkpoint in file, which must
// be one this ledger signed, or 0 (and says so) when nothing was appended
// since: no export is then written.
func afterCheckpoint(cmd *cobra.Command, b backend, file string) (uint64, error) {
	h, err := b.head(cmd.Context())
	if err != nil {
		return 0, err
	}
	note, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("--after: %w", err)
	}
	keys := h.Key
	if len(h.Keys) > 0 {
		keys = strings.Join(h.Keys, " ")
	}
	cp, err := ledger.OpenCheckpoint(note, keys)
	if err != nil {
		return 0, fmt.Errorf("--after %s: not a checkpoint of this ledger: %w", file, err)
	}
	switch {
	case cp.Size > h.Size:
		return 0, fmt.Errorf("--after %s: the checkpoint is at size %d but this ledger holds %d entries", file, cp.Size, h.Size)
	case cp.Size == h.Size:
		fmt.Fprintf(cmd.ErrOrStderr(), "nothing after seq %d: no export written\n", cp.Size)
		return 0, nil
	}
	return cp.Size + 1, nil
}

// writeExport writes the export and its checkpoint beside their final
// names, syncs them and renames them into place: a failed or interrupted
// export leaves the previous one (a backup) whole, and nobody reads half
// an export under the final name.
func writeExport(cmd *cobra.Command, b backend, out string, from, to uint64) (err error) {
	tmp, tmpCP := out+".tmp", out+".checkpoint.tmp"
	defer func() {
		if err != nil {
			os.Remove(tmp)
			os.Remove(tmpCP)
		}
	}()
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	cp, err := b.export(cmd.Context(), f, from, to)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := writeSynced(tmpCP, cp); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	return os.Rename(tmpCP, out+".checkpoint")
}

func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func verifyCmd(data *string) *cobra.Command {
	var from, to uint64
	var export, key, checkpoint, since string
	c := &cobra.Command{
		Use:   "verify",
		Short: "Verify the ledger in the data folder, or an export offline (--export FILE --key PUBKEY)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if export != "" {
				return verifyExport(cmd, export, key, checkpoint, since)
			}
			return withBackend(cmd, *data, func(b backend) error {
				rep, err := b.verify(cmd.Context(), from, to)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "ok: entries %d..%d verified (%d entries, %d checkpoints) in %s\n",
					rep.From, rep.To, rep.Entries, rep.Checkpoints, rep.Duration.Round(1e6))
				return nil
			})
		},
	}
	c.Flags().Uint64Var(&from, "from", 1, "first seq")
	c.Flags().Uint64Var(&to, "to", 0, "last seq (default: head)")
	c.Flags().StringVar(&export, "export", "", "export file to verify offline (no database, no service)")
	c.Flags().StringVar(&key, "key", "", "verifier key, several separated by spaces, or a file holding them, like DATA/ledger.keys (with --export)")
	c.Flags().StringVar(&checkpoint, "checkpoint", "", "signed checkpoint file (default: EXPORT.checkpoint)")
	c.Flags().StringVar(&since, "since-checkpoint", "", "an older signed checkpoint the export must be consistent with")
	return c
}

// exportInputs resolves what an export is checked with: the verifier key
// (given, or read from the file key names) and the signed checkpoint
// (checkpoint, default EXPORT.checkpoint).
func exportInputs(export, key, checkpoint string) (string, []byte, error) {
	if key == "" {
		return "", nil, fmt.Errorf("--key is required with --export")
	}
	key = readKeyArg(key)
	if checkpoint == "" {
		checkpoint = export + ".checkpoint"
	}
	cp, err := os.ReadFile(checkpoint)
	return key, cp, err
}

func verifyExport(cmd *cobra.Command, export, key, checkpoint, since string) error {
	key, cp, err := exportInputs(export, key, checkpoint)
	if err != nil {
		return err
	}
	var old []byte
	if since != "" {
		if old, err = os.ReadFile(since); err != nil {
			return err
		}
	}
	f, err := os.Open(export)
	if err != nil {
		return err
	}
	defer f.Close()
	rep, err := ledger.VerifyExport(cmd.Context(), f, cp, key, old)
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("ok: export %d..%d verified (%d entries, %d bytes) against checkpoint %q size %d in %s",
		rep.From, rep.To, rep.Entries, rep.Bytes, rep.Checkpoint.Origin, rep.Checkpoint.Size, rep.Duration.Round(1e6))
	if rep.Since != nil {
		msg += fmt.Sprintf("; consistent with checkpoint size %d", rep.Since.Size)
	}
	fmt.Fprintln(cmd.OutOrStdout(), msg)
	return nil
}
