package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/user"
	"regexp"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/botwarden/botwarden/internal/api"
	"github.com/botwarden/botwarden/internal/token"
	"github.com/botwarden/botwarden/ledger"
	"github.com/botwarden/botwarden/ledger/ledgercli"
)

// tokenFlags are the flags every token command shares.
type tokenFlags struct {
	config, data, output string
}

func newTokenCmd() *cobra.Command {
	f := &tokenFlags{}
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke operator API tokens (offline or via the running service)",
		Long: `Operator API tokens are bound to one actor; roles come from the policy.
A token is printed once by create and never again: only its SHA-256 is kept
(<data>/api_tokens.json). Every create and revoke is recorded in the audit
ledger first. While the service runs (it holds the ledger), these commands
go through its loopback admin endpoint; otherwise they open the data folder.`,
	}
	cmd.PersistentFlags().StringVar(&f.config, "config", "", "service config (for the environment and data folder); default: the embedded demo")
	cmd.PersistentFlags().StringVar(&f.data, "data", "", "data folder (overrides the config)")
	cmd.PersistentFlags().StringVar(&f.output, "output", "text", "text or json")
	cmd.AddCommand(tokenCreateCmd(f), tokenListCmd(f), tokenRevokeCmd(f))
	return cmd
}

func tokenCreateCmd(f *tokenFlags) *cobra.Command {
	var actor, expires string
	c := &cobra.Command{
		Use: "create --actor NAME [--expires 30d]", Short: "Create a token for an actor and print it once", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withTokenAdmin(cmd.Context(), f, cmd.ErrOrStderr(), func(b tokenBackend) error {
				c, err := b.create(cmd.Context(), api.CreateRequest{Actor: actor, Expires: expires, By: localActor()})
				if err != nil {
					return err
				}
				if f.output == "json" {
					return printJSONTo(cmd.OutOrStdout(), c)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "created %s for actor %s (expires %s); it is shown only this once:\n",
					c.Record.ID, c.Record.Actor, expiry(c.Record))
				fmt.Fprintln(cmd.OutOrStdout(), c.Token)
				return nil
			})
		},
	}
	c.Flags().StringVar(&actor, "actor", "", "the actor every request with this token acts as (required)")
	c.Flags().StringVar(&expires, "expires", "", "lifetime, e.g. 30d or 12h (default: no expiry)")
	_ = c.MarkFlagRequired("actor")
	return c
}

func tokenListCmd(f *tokenFlags) *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: "List tokens (ids, actors, expiry, revocation; never the tokens)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withTokenAdmin(cmd.Context(), f, cmd.ErrOrStderr(), func(b tokenBackend) error {
				recs, err := b.list(cmd.Context())
				if err != nil {
					return err
				}
				if f.output == "json" {
					return printJSONTo(cmd.OutOrStdout(), recs)
				}
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tACTOR\tCREATED\tEXPIRES\tSTATUS")
				for _, r := range recs {
					st := "active"
					if !r.Revoked.IsZero() {
						st = "revoked " + r.Revoked.Format(time.RFC3339)
					} else if !r.Active(time.Now()) {
						st = "expired"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Actor, r.Created.Format(time.RFC3339), expiry(r), st)
				}
				return tw.Flush()
			})
		},
	}
}

func tokenRevokeCmd(f *tokenFlags) *cobra.Command {
	return &cobra.Command{
		Use: "revoke TOKEN_ID", Short: "Revoke a token by id (tok_…)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withTokenAdmin(cmd.Context(), f, cmd.ErrOrStderr(), func(b tokenBackend) error {
				r, err := b.revoke(cmd.Context(), args[0], localActor())
				if err != nil {
					return err
				}
				if f.output == "json" {
					return printJSONTo(cmd.OutOrStdout(), r)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked %s (actor %s)\n", r.ID, r.Actor)
				return nil
			})
		},
	}
}

func expiry(r token.Record) string {
	if r.Expires.IsZero() {
		return "never"
	}
	return r.Expires.Format(time.RFC3339)
}

func printJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

var notActorChars = regexp.MustCompile(`[^A-Za-z0-9._@-]`)

// localActor names who ran the command on this machine, for the ledger.
func localActor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = notActorChars.ReplaceAllString(u.Username, "_")
	}
	return "local:" + name
}

// tokenBackend is the data folder or the running service's admin endpoint.
type tokenBackend interface {
	create(ctx context.Context, req api.CreateRequest) (api.Created, error)
	list(ctx context.Context) ([]token.Record, error)
	revoke(ctx context.Context, id, by string) (token.Record, error)
}

// withTokenAdmin opens the data folder, or uses the running service when
// it holds the ledger's lock, and says which on stderr.
func withTokenAdmin(ctx context.Context, f *tokenFlags, stderr io.Writer, fn func(tokenBackend) error) error {
	cfg, err := loadConfig(f.config)
	if err != nil {
		return err
	}
	if f.data != "" {
		cfg.DataDir = f.data
	}
	l, err := ledger.Open(ctx, cfg.DataDir, ledger.Options{Environment: cfg.Environment})
	if errors.Is(err, ledger.ErrLocked) {
		u, tok, rerr := ledgercli.ReadAdmin(cfg.DataDir)
		if rerr != nil {
			return fmt.Errorf("%w, and %v", err, rerr)
		}
		fmt.Fprintf(stderr, "using the running service at %s\n", u)
		return fn(adminTokens{base: u, token: tok})
	}
	if err != nil {
		return fmt.Errorf("open data folder %s: %w", cfg.DataDir, err)
	}
	defer l.Close()
	st, err := token.Open(cfg.DataDir, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "opened data folder %s\n", cfg.DataDir)
	return fn(localTokens{&api.TokenAdmin{Store: st, Ledger: l, Environment: cfg.Environment}})
}

type localTokens struct{ a *api.TokenAdmin }

func (b localTokens) create(ctx context.Context, req api.CreateRequest) (api.Created, error) {
	return b.a.Create(ctx, req)
}
func (b localTokens) list(context.Context) ([]token.Record, error) { return b.a.Store.List(), nil }
func (b localTokens) revoke(ctx context.Context, id, by string) (token.Record, error) {
	return b.a.Revoke(ctx, id, by)
}

// adminTokens calls the running service's /admin/tokens (loopback only;
// it needs no token: whoever can reach it can read the data folder).
type adminTokens struct{ base, token string }

func (b adminTokens) call(ctx context.Context, method, path string, in, out any) error {
	c := api.Client{BaseURL: b.base, Token: b.token, HTTP: &http.Client{Timeout: 30 * time.Second}}
	return c.Do(ctx, method, "/admin"+path, nil, in, out)
}

func (b adminTokens) create(ctx context.Context, req api.CreateRequest) (api.Created, error) {
	var c api.Created
	return c, b.call(ctx, http.MethodPost, "/tokens", req, &c)
}

func (b adminTokens) list(ctx context.Context) ([]token.Record, error) {
	var r []token.Record
	return r, b.call(ctx, http.MethodGet, "/tokens", nil, &r)
}

func (b adminTokens) revoke(ctx context.Context, id, by string) (token.Record, error) {
	var r token.Record
	return r, b.call(ctx, http.MethodPost, "/tokens/"+url.PathEscape(id)+"/revoke", api.RevokeRequest{By: by}, &r)
}
