package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/botwarden/botwarden/chatops"
	"github.com/botwarden/botwarden/chatops/playground"
	"github.com/botwarden/botwarden/internal/policy"
	"github.com/botwarden/botwarden/ledger"
)

// opsChannel is the playground channel where commands are typed.
const opsChannel = "C0OPS"

// playgroundSvc is the local playground serve starts without Slack
// credentials: it stands in for Slack on both sides of the adapter.
type playgroundSvc struct {
	srv   *playground.Server
	ln    net.Listener
	url   string
	users []playground.User
}

var _ playground.Ledger = playgroundLedger{}

// newPlayground binds the playground's loopback listener and points the
// Slack config at it: a fresh random signing secret and bot token (known
// to the secret set, so bundles prove their absence, and never logged),
// and the playground's fake Web API as the API URL.
func newPlayground(cfg *Config, pol *policy.Policy, slackCfg *chatops.Config, secrets *secretSet, l *ledger.Log) (*playgroundSvc, error) {
	if err := playground.CheckLoopback(cfg.Listen.Playground); err != nil {
		return nil, fmt.Errorf("listen.playground: %w", err)
	}
	signing, token := "pg-signing-"+randomHex(), "xoxb-playground-"+randomHex()
	secrets.add(signing, token)
	users := demoUsers(pol)
	srv, err := playground.New(playground.Config{
		SigningSecret: chatops.Secret(signing), BotToken: chatops.Secret(token), Command: cfg.Slack.Command,
		Users: users, Channels: playgroundChannels(cfg), Ledger: playgroundLedger{l},
	})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen.Playground)
	if err != nil {
		return nil, fmt.Errorf("listen playground %s: %w", cfg.Listen.Playground, err)
	}
	p := &playgroundSvc{srv: srv, ln: ln, url: "http://" + ln.Addr().String(), users: users}
	srv.SetBaseURL(p.url)
	slackCfg.APIURL = srv.APIURL()
	slackCfg.BotToken, slackCfg.SigningSecret = chatops.Secret(token), chatops.Secret(signing)
	return p, nil
}

func randomHex() string {
	var b [24]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// demoUsers is everyone the policy names, with their roles.
func demoUsers(pol *policy.Policy) []playground.User {
	ids := pol.Actors()
	sort.Strings(ids)
	users := make([]playground.User, 0, len(ids))
	for _, id := range ids {
		name := strings.ToLower(strings.TrimPrefix(id, "U0"))
		users = append(users, playground.User{ID: id, Name: name, Roles: pol.Roles(id)})
	}
	return users
}

// playgroundChannels: #ops for commands, then the approvers and audit
// channels the config names.
func playgroundChannels(cfg *Config) []playground.Channel {
	chs := []playground.Channel{{ID: opsChannel, Name: "ops"}}
	seen := map[string]bool{opsChannel: true}
	for _, c := range []playground.Channel{{ID: cfg.Slack.ApproversChannel, Name: "approvers"}, {ID: cfg.Slack.AuditChannel, Name: "audit"}} {
		if c.ID != "" && !seen[c.ID] {
			seen[c.ID] = true
			chs = append(chs, c)
		}
	}
	return chs
}

// start serves the playground, relaying to the bot at botURL. The
// returned stop shuts it down; serve calls it with the other listeners,
// before the loops and the ledger.
func (p *playgroundSvc) start(botURL string, errc chan<- error) (stop func(context.Context)) {
	p.srv.SetBotURL(botURL)
	hs := &http.Server{Handler: p.srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.srv.Run(ctx) }()
	go func() {
		if err := hs.Serve(p.ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("playground: %w", err)
		}
	}()
	return func(shut context.Context) {
		cancel() // ends the long polls' wake-ups; Shutdown waits for them
		_ = hs.Shutdown(shut)
		<-done
	}
}

// banner tells the person who ran `make run` where to click and as whom.
func (p *playgroundSvc) banner(out io.Writer) {
	fmt.Fprintf(out, "  slack       no credentials: the local playground stands in for Slack\n")
	fmt.Fprintf(out, "  playground  %s/   (loopback only; signed requests to /slack/*, fake Web API at %s/api/)\n", p.url, p.url)
	fmt.Fprintf(out, "  demo users ")
	for _, u := range p.users {
		fmt.Fprintf(out, " %s (%s)", u.ID, strings.Join(u.Roles, ","))
	}
	fmt.Fprintf(out, "\n              live start: U0OPERATOR asks, another person (U0APPROVER) confirms\n")
}

// playgroundLedger gives the playground's ledger panel read-only access.
type playgroundLedger struct{ l *ledger.Log }

func (v playgroundLedger) Head() playground.LedgerHead {
	h := v.l.Head()
	return playground.LedgerHead{Size: h.Size, Root: hex.EncodeToString(h.Root[:]), Time: h.Time}
}

func (v playgroundLedger) Event(ctx context.Context, seq uint64) ([]byte, time.Time, error) {
	e, err := v.l.Get(ctx, seq)
	if err != nil {
		return nil, time.Time{}, err
	}
	return e.Event, e.Time, nil
}

func (v playgroundLedger) Export(ctx context.Context, w io.Writer, size uint64) error {
	_, err := v.l.Export(ctx, w, 1, size)
	return err
}

func (v playgroundLedger) Checkpoint(ctx context.Context, size uint64) ([]byte, error) {
	return v.l.CheckpointAt(ctx, size)
}

func (v playgroundLedger) VerifierKey() string { return v.l.VerifierKey() }

// closePlayground releases the playground's listener if it was bound but
// is not served (serve's stop shuts a served one down first; closing the
// listener again is harmless).
func (s *service) closePlayground() {
	if s.play != nil {
		_ = s.play.ln.Close()
	}
}
