package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
)

// newCheckCmd is `botwarden check`: everything serve reads before it
// opens the ledger, checked without starting anything, so that a bad
// config or policy is found before a restart rather than by a control
// plane that no longer starts (and so cannot stop a bot).
func newCheckCmd() *cobra.Command {
	var configPath string
	var showPolicy bool
	cmd := &cobra.Command{
		Use:   "check [--config FILE]",
		Short: "Check a config and its policy as serve would read them, and print their digests",
		Long: `Check the config file, its policy, its TLS pair, its bots' drivers and its
actions as 'serve' reads them at start, with the secrets from this
environment, without opening the ledger or any listener. Prints the config's
and the policy's digests, which every start records in the ledger
(controlplane.started), so a deployed change can be matched to its record.
Exit code 0 when serve would accept all of it, 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return check(cmd.OutOrStdout(), configPath, os.Getenv, showPolicy)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "service config file (YAML); default: the embedded demo")
	cmd.Flags().BoolVar(&showPolicy, "policy-document", false, "also print the policy as recorded in the ledger (its canonical document)")
	return cmd
}

func check(out io.Writer, configPath string, getenv func(string) string, showPolicy bool) error {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return err
	}
	name := configPath
	if name == "" {
		name = "embedded demo config"
	}
	fmt.Fprintf(out, "config       %s  %s\n", name, cfg.digest)
	fmt.Fprintf(out, "environment  %s\n", cfg.Environment)
	pol, err := loadPolicy(cfg)
	if err != nil {
		return err
	}
	doc, digest := pol.Canonical()
	d := pol.Document()
	fmt.Fprintf(out, "policy       %s  %s (%d actors, %d roles)\n", cfg.path(cfg.PolicyFile), digest, len(d.Actors), len(d.Roles))
	if cfg.Listen.TLSCert != "" {
		if _, err := newCertReloader(cfg.path(cfg.Listen.TLSCert), cfg.path(cfg.Listen.TLSKey), zerolog.Nop()); err != nil {
			return fmt.Errorf("listen.tls_cert/tls_key: %w", err)
		}
		fmt.Fprintf(out, "tls          %s\n", cfg.path(cfg.Listen.TLSCert))
	}
	secrets := &secretSet{}
	drv, err := newDrivers(cfg, getenv, secrets)
	if err != nil {
		return err
	}
	bots := make([]string, 0, len(cfg.Bots))
	for _, b := range cfg.Bots {
		bots = append(bots, b.ID+" ("+drv.kind[b.ID]+")")
	}
	fmt.Fprintf(out, "bots         %s\n", strings.Join(bots, ", "))
	if _, err := newActions(cfg, getenv, secrets); err != nil {
		return err
	}
	if len(cfg.Actions) > 0 {
		fmt.Fprintf(out, "actions      %d configured\n", len(cfg.Actions))
	}
	fmt.Fprintf(out, "ok: serve would accept this configuration\n")
	if showPolicy {
		var b bytes.Buffer
		if err := json.Indent(&b, doc, "", "  "); err != nil {
			return err
		}
		fmt.Fprintf(out, "\n%s\n", b.Bytes())
	}
	return nil
}
