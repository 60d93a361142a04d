package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/botwarden/botwarden/internal/api"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// The ctl exit codes besides 0 (applied) and 1 (error); docs/api/README.md.
const (
	exitPending = 3 // a challenge was issued or still needs approvals
	exitDenied  = 4 // denied, rejected or failed: see the reason
)

// exitCodeError ends the process with code once the outcome is printed.
type exitCodeError struct{ code int }

func (e *exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newCtlCmd() *cobra.Command {
	f := &ctlFlags{}
	cmd := &cobra.Command{
		Use:   "ctl",
		Short: "Operate the control plane through its HTTP API (for humans and scripts)",
		Long: `ctl is a client of the operator API. The server URL and the token come
from --url/--token or BOTWARDEN_URL/BOTWARDEN_TOKEN; --ca/BOTWARDEN_CA names
the CA to trust for an https URL signed by a private CA. --output json prints
the API's JSON for scripts. Exit codes: 0 applied, 3 challenge pending,
4 denied/rejected/failed, 1 error.`,
	}
	f.addConnFlags(cmd.PersistentFlags())
	cmd.PersistentPreRunE = f.prepare
	cmd.AddCommand(ctlStatusCmd(f), ctlChallengesCmd(f), ctlConfirmCmd(f), ctlRejectCmd(f), ctlWatchCmd(f), ctlAuditCmd(f), ctlMeCmd(f),
		ctlBundleFetchCmd(f))
	for _, o := range ctlOps {
		cmd.AddCommand(ctlOpCmd(f, o.op, o.use, o.params))
	}
	return cmd
}

func newCommandID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "ctl-" + hex.EncodeToString(b[:])
}

// ctlOps are the operations ctl offers as subcommands, with the params
// each takes. Every one goes through POST /v1/commands, so the policy,
// challenges and ledger apply exactly as they do from Slack.
var ctlOps = []struct {
	op     core.Op
	use    string
	params []string // flags mapped onto core.Params
}{
	{core.OpStart, "start", []string{"mode"}},
	{core.OpStop, "stop", nil},
	{core.OpPause, "pause", nil},
	{core.OpResume, "resume", []string{"mode"}},
	{core.OpApply, "apply", []string{"config", "mode"}},
	{core.OpQuarantine, "quarantine", nil},
	{core.OpRelease, "release", nil},
	{core.OpKillSwitchSet, "killswitch-set", []string{"level"}},
	{core.OpKillSwitchRelease, "killswitch-release", []string{"level"}},
	{core.OpGateOverride, "gate-override", []string{"gate", "for"}},
	{core.OpMonitoringDisable, "monitoring-disable", []string{"for"}},
	{core.OpSecretRotate, "secret-rotate", []string{"secret-ref"}},
	{core.OpDataOp, "data-op", []string{"action"}},
	{core.OpBundle, "bundle", nil},
}

var ctlParamHelp = map[string]string{
	"mode":       "paper, shadow or live (required for start and resume: live is never implied)",
	"config":     "config reference to apply",
	"level":      "kill-switch level: off, reduce_only or halt",
	"gate":       "gate name",
	"for":        "how long (Go duration, bounded by policy), e.g. 30m",
	"secret-ref": "the secret's reference (never its value)",
	"action":     "delete, restore or compact",
}

// targetsOf says what the target may be for op, and argOf names it in
// the usage line, as Slack's help does.
func targetsOf(op core.Op) string {
	if core.TakesScope(op) {
		return "a bot, group:NAME or global"
	}
	return "one bot"
}

func argOf(op core.Op) string {
	if core.TakesScope(op) {
		return "TARGET"
	}
	return "BOT"
}

// ctlOpCmd is `ctl OP TARGET [flags]` for one operation.
func ctlOpCmd(f *ctlFlags, op core.Op, use string, params []string) *cobra.Command {
	var reason, id, out string
	vals := map[string]*string{}
	c := &cobra.Command{
		Use:   use + " " + argOf(op),
		Short: fmt.Sprintf("Request %s on %s (dangerous ops print a challenge to confirm)", op, targetsOf(op)),
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if id == "" {
				id = newCommandID()
			}
			err := submitOp(cmd, f, op, args[0], reason, id, vals)
			if ec := (*exitCodeError)(nil); out != "" && errors.As(err, &ec) && ec.code == exitPending {
				fmt.Fprintf(cmd.ErrOrStderr(), "once it is confirmed: botwarden ctl bundle-fetch %s --out %s\n", id, out)
			}
			if err != nil || out == "" {
				return err
			}
			return fetchBundle(cmd, f, id, out)
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why (recorded in the ledger)")
	c.Flags().StringVar(&id, "id", "", "idempotency key (default: a new one); retry with the same id to get the same outcome")
	if op == core.OpBundle {
		c.Flags().StringVar(&out, "out", "", "download the bundle to this file, checked against the hash the ledger recorded")
	}
	for _, p := range params {
		vals[p] = c.Flags().String(p, "", ctlParamHelp[p])
	}
	return c
}

// ctlBundleFetchCmd is `ctl bundle-fetch COMMAND_ID --out FILE`.
func ctlBundleFetchCmd(f *ctlFlags) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "bundle-fetch COMMAND_ID --out FILE",
		Short: "Download the support bundle a support_bundle command built, checked against the hash the ledger recorded",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("--out FILE is required")
			}
			return fetchBundle(cmd, f, args[0], out)
		},
	}
	c.Flags().StringVar(&out, "out", "", "file to write the bundle to")
	return c
}

// fetchBundle downloads the bundle of command id to path: to a temporary
// file beside it first, renamed into place only once its hash matches.
func fetchBundle(cmd *cobra.Command, f *ctlFlags, id, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	sum, err := f.client().FetchBundle(cmd.Context(), id, tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if f.output == "json" { // stdout stays the outcome's JSON
		w = cmd.ErrOrStderr()
	}
	fmt.Fprintf(w, "saved %s (sha256 %s, as the ledger recorded it)\n", path, sum)
	return nil
}

// submitOp sends one command and prints its outcome.
func submitOp(cmd *cobra.Command, f *ctlFlags, op core.Op, target, reason, id string, vals map[string]*string) error {
	get := func(k string) string {
		if v := vals[k]; v != nil {
			return *v
		}
		return ""
	}
	req := api.CommandRequest{Target: target, Op: op, Reason: reason, Params: core.Params{
		Mode: lifecycle.Mode(get("mode")), ConfigRef: get("config"), Level: get("level"), Gate: get("gate"),
		Duration: get("for"), SecretRef: get("secret-ref"), DataAction: get("action"),
	}}
	out, err := f.client().Submit(cmd.Context(), req, id)
	if err != nil {
		return err
	}
	return printOutcome(cmd.OutOrStdout(), f.output, out)
}

// printOutcome prints an outcome and returns the exit code it maps to.
func printOutcome(w io.Writer, output string, o core.Outcome) error {
	if output == "json" {
		if err := printJSONTo(w, o); err != nil {
			return err
		}
	} else {
		printOutcomeText(w, o)
	}
	switch o.Status {
	case core.StatusApplied:
		return nil
	case core.StatusChallenged:
		return &exitCodeError{exitPending}
	}
	return &exitCodeError{exitDenied}
}

func printOutcomeText(w io.Writer, o core.Outcome) {
	dup := ""
	if o.Duplicate {
		dup = " (duplicate: the original outcome, no second effect)"
	}
	fmt.Fprintf(w, "%s %s: %s%s\n", o.Op, o.Target, o.Status, dup)
	// The engine's detail usually names the transition already.
	if move := fmt.Sprintf("%s -> %s", o.From, o.To); (o.From != "" || o.To != "") && !strings.Contains(o.Detail, move) {
		fmt.Fprintf(w, "  %s\n", move)
	}
	if o.Reason != "" {
		fmt.Fprintf(w, "  reason: %s\n", o.Reason)
	}
	if o.Detail != "" {
		fmt.Fprintf(w, "  %s\n", o.Detail)
	}
	if o.Runbook != "" {
		fmt.Fprintf(w, "  runbook: %s\n", o.Runbook)
	}
	if ch := o.Challenge; ch != nil && o.Status == core.StatusChallenged {
		live := ""
		if ch.Live {
			live = " LIVE"
		}
		// The engine's detail already says who must approve by when.
		if o.Detail == "" {
			fmt.Fprintf(w, "  challenge %s%s: %d approval(s) by role %s before %s\n", ch.ID, live,
				ch.Requires.Approvers, ch.Requires.Role, ch.ExpiresAt.Format("2006-01-02T15:04:05Z07:00"))
		} else {
			fmt.Fprintf(w, "  challenge %s%s\n", ch.ID, live)
		}
		fmt.Fprintf(w, "  an approver confirms with:\n    botwarden ctl confirm %s --target %s --reason '…'\n", ch.ID, ch.Requires.TypedTarget)
	}
}

func ctlConfirmCmd(f *ctlFlags) *cobra.Command {
	var target, reason string
	c := &cobra.Command{
		Use: "confirm CHALLENGE --target TARGET --reason TEXT", Short: "Confirm a challenge (type its target out)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := f.client().Confirm(cmd.Context(), args[0], api.ConfirmBody{Reason: reason, TypedTarget: target})
			if err != nil {
				return err
			}
			return printOutcome(cmd.OutOrStdout(), f.output, out)
		},
	}
	c.Flags().StringVar(&target, "target", "", "the challenge's target, typed out (required)")
	c.Flags().StringVar(&reason, "reason", "", "why you confirm (required)")
	_ = c.MarkFlagRequired("target")
	_ = c.MarkFlagRequired("reason")
	return c
}

func ctlRejectCmd(f *ctlFlags) *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use: "reject CHALLENGE --reason TEXT", Short: "Reject a challenge (or withdraw your own request)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := f.client().Reject(cmd.Context(), args[0], api.RejectBody{Reason: reason})
			if err != nil {
				return err
			}
			if err := printOutcome(cmd.OutOrStdout(), f.output, out); out.Reason != core.ReasonRejected {
				return err
			}
			return nil // the reject itself succeeded
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why (required)")
	_ = c.MarkFlagRequired("reason")
	return c
}

func ctlStatusCmd(f *ctlFlags) *cobra.Command {
	return &cobra.Command{
		Use: "status", Short: "Show the fleet, safety and open challenges", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, ctx := f.client(), cmd.Context()
			var bots api.BotList
			var safety core.SafetyView
			var chs api.ChallengeList
			for _, q := range []struct {
				path string
				out  any
			}{{"/v1/bots", &bots}, {"/v1/safety", &safety}, {"/v1/challenges?state=open", &chs}} {
				if err := c.Do(ctx, http.MethodGet, q.path, nil, nil, q.out); err != nil {
					return err
				}
			}
			if f.output == "json" {
				return printJSONTo(cmd.OutOrStdout(), map[string]any{"bots": bots, "safety": safety, "challenges": chs.Challenges})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "environment %s   safety %s   ledger seq %d\n\n", bots.Environment, safety.Mode, bots.LedgerSeq)
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "BOT\tGROUP\tSTATE\tMODE\tKILL-SWITCH")
			for _, b := range bots.Bots {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", b.ID, b.Group, b.State, b.Mode, b.KillSwitch)
			}
			_ = tw.Flush()
			printChallenges(w, chs)
			return nil
		},
	}
}

func printChallenges(w io.Writer, chs api.ChallengeList) {
	if len(chs.Challenges) == 0 {
		fmt.Fprintln(w, "\nno open challenges")
		return
	}
	fmt.Fprintln(w, "\nopen challenges:")
	for _, ch := range chs.Challenges {
		may := ""
		if ch.MayApprove {
			may = "  (you may confirm)"
		}
		fmt.Fprintf(w, "  %s  %s %s by %s, expires %s%s\n", ch.ID, ch.Command.Op, ch.Command.Target,
			ch.Command.Actor, ch.ExpiresAt.Format("15:04:05Z07:00"), may)
	}
}

func ctlChallengesCmd(f *ctlFlags) *cobra.Command {
	return &cobra.Command{
		Use: "challenges", Short: "List open challenges and whether you may confirm them", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var chs api.ChallengeList
			if err := f.client().Do(cmd.Context(), http.MethodGet, "/v1/challenges?state=open", nil, nil, &chs); err != nil {
				return err
			}
			if f.output == "json" {
				return printJSONTo(cmd.OutOrStdout(), chs)
			}
			printChallenges(cmd.OutOrStdout(), chs)
			return nil
		},
	}
}

func ctlMeCmd(f *ctlFlags) *cobra.Command {
	var target string
	c := &cobra.Command{
		Use: "me", Short: "Who the token acts as and what it may do now on --target", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var me api.Me
			if err := f.client().Do(cmd.Context(), http.MethodGet, "/v1/me?target="+target, nil, nil, &me); err != nil {
				return err
			}
			if f.output == "json" {
				return printJSONTo(cmd.OutOrStdout(), me)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (roles %v) in %s may on %s: %v\n", me.Actor, me.Roles, me.Environment, me.Target, me.Allowed)
			return nil
		},
	}
	c.Flags().StringVar(&target, "target", "global", "bot id, group:NAME or global")
	return c
}

// watchLine is one line of `ctl watch --output json`.
type watchLine struct {
	Seq   uint64          `json:"seq"`
	Type  string          `json:"event_type"`
	Event json.RawMessage `json:"event"`
}

func ctlWatchCmd(f *ctlFlags) *cobra.Command {
	var from uint64
	var retry time.Duration
	c := &cobra.Command{
		Use: "watch", Short: "Follow recorded events (transitions, challenges, safety, kill-switch) as they happen", Args: cobra.NoArgs,
		Long: "Follow recorded events as they happen. When the stream is lost (a restart, the network) watch " +
			"reconnects and resumes after the last event it printed, so none is skipped or printed twice; it stops " +
			"on Ctrl-C, or when the service refuses it (token revoked, no permission).",
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			show := func(ev api.Event) error {
				if f.output == "json" {
					// One JSON line per event, with its seq: what --from takes
					// to resume.
					b, err := json.Marshal(watchLine{Seq: ev.Seq, Type: ev.Type, Event: ev.Data})
					if err == nil {
						_, err = fmt.Fprintf(w, "%s\n", b)
					}
					return err
				}
				_, err := fmt.Fprintf(w, "%6d  %-40s %s\n", ev.Seq, ev.Type, ev.Data)
				return err
			}
			lost := func(err error, wait time.Duration) {
				fmt.Fprintf(stderr, "event stream lost (%v); reconnecting in %s\n", err, wait)
			}
			return f.client().Follow(cmd.Context(), from, cmd.Flags().Changed("from"), show, api.Following{Retry: retry, Lost: lost})
		},
	}
	c.Flags().Uint64Var(&from, "from", 0, "resume after this ledger seq (replays what was missed)")
	c.Flags().DurationVar(&retry, "retry", time.Second, "first wait before reconnecting a lost stream (doubles while it fails, up to 30s)")
	return c
}

func ctlAuditCmd(f *ctlFlags) *cobra.Command {
	audit := &cobra.Command{Use: "audit", Short: "Auditor commands (audit permission)"}
	var out string
	var from, to uint64
	export := &cobra.Command{
		Use: "export --out FILE", Short: "Export the ledger to FILE and its signed checkpoint to FILE.checkpoint (verify with `botwarden ledger verify --export`)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ctlExport(cmd.Context(), f.client(), out, from, to, cmd.ErrOrStderr())
		},
	}
	export.Flags().StringVar(&out, "out", "", "output file (required)")
	export.Flags().Uint64Var(&from, "from", 1, "first seq")
	export.Flags().Uint64Var(&to, "to", 0, "last seq (default: head)")
	_ = export.MarkFlagRequired("out")
	audit.AddCommand(export)
	return audit
}

func ctlExport(ctx context.Context, c *api.Client, out string, from, to uint64, stderr io.Writer) error {
	fh, err := os.Create(out)
	if err != nil {
		return err
	}
	cp, err := c.Export(ctx, fh, from, to)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return err
	}
	if err := os.WriteFile(out+".checkpoint", cp, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s and %s.checkpoint; verify offline with: botwarden ledger verify --export %s --key KEY\n", out, out, out)
	return nil
}
