package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/botwarden/botwarden/ledger/ledgercli"
)

func newServeCmd() *cobra.Command {
	var configPath, dataDir string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the control plane (without --config: the embedded demo)",
		Long: `Run the control plane for one environment.

Without --config it starts the embedded default: three simulated bots, the
demo policy, Badger in ./data and every listener on 127.0.0.1. Secrets are
read only from the environment (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, the
variables the config names), never from the config file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			if dataDir != "" {
				cfg.DataDir = dataDir
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve(ctx, cfg, serveEnv{getenv: os.Getenv, out: cmd.OutOrStdout(), logOut: os.Stderr})
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "service config file (YAML); default: the embedded demo")
	cmd.Flags().StringVar(&dataDir, "data", "", "data folder (overrides data_dir in the config)")
	return cmd
}

// serveEnv is what serve takes from its process: the environment for
// secrets, where to print the banner and where to log.
type serveEnv struct {
	getenv func(string) string
	out    io.Writer
	logOut io.Writer
	// started, if set, is called with the bound addresses once serving.
	started func(httpAddr, adminAddr string)
	// playground, if set, is called with the playground's URL once serving
	// (only when there are no Slack credentials).
	playground func(url string)
}

// httpTimeouts bound how long a client may take to send a request and how
// long an idle keep-alive connection is kept.
type httpTimeouts struct {
	header, request, idle time.Duration
}

// serverTimeouts: a request's headers within 10 s and the whole request,
// body included, within 30 s, so a client trickling bytes cannot hold a
// connection; idle connections are closed after 2 minutes. There is no
// write timeout: an event stream, a large export or a command waiting on a
// slow driver may answer for longer, and net/http lifts the read deadline
// once the request is read, so a handler is never cut by it.
var serverTimeouts = httpTimeouts{header: 10 * time.Second, request: 30 * time.Second, idle: 2 * time.Minute}

// newHTTPServer is the service's HTTP server for h (main and admin
// listeners).
func newHTTPServer(h http.Handler, t httpTimeouts) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: t.header, ReadTimeout: t.request, IdleTimeout: t.idle,
		MaxHeaderBytes: 64 << 10}
}

// serve runs the service until ctx ends, then shuts down cleanly: listeners
// first, then the engine's loops, the ledger last.
func serve(ctx context.Context, cfg *Config, env serveEnv) (err error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data folder: %w", err)
	}
	var certs *certReloader
	if cfg.Listen.TLSCert != "" {
		var err error
		if certs, err = newCertReloader(cfg.path(cfg.Listen.TLSCert), cfg.path(cfg.Listen.TLSKey), zerolog.Nop()); err != nil {
			return fmt.Errorf("listen.tls_cert/tls_key: %w", err)
		}
	}
	svc, err := build(ctx, cfg, env)
	if err != nil {
		return err
	}
	defer svc.close()
	// Last before the ledger closes (defers run in reverse): the next
	// start reads this run as ended cleanly, with why it ended.
	defer func() { svc.recordStop(err) }()
	if certs != nil {
		certs.log = svc.log.With().Str("component", "tls").Logger()
	}

	httpLn, err := net.Listen("tcp", cfg.Listen.HTTP)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen.HTTP, err)
	}
	adminLn, err := net.Listen("tcp", cfg.Listen.Admin)
	if err != nil {
		httpLn.Close()
		return fmt.Errorf("listen admin %s: %w", cfg.Listen.Admin, err)
	}
	adminURL := "http://" + adminLn.Addr().String()
	// The admin endpoint mints API tokens and reads the ledger: loopback
	// alone would let any local user in, so it also wants the token only
	// the data folder's owner can read.
	adminToken, unpublish, err := ledgercli.PublishAdmin(cfg.DataDir, adminURL)
	if err != nil {
		httpLn.Close()
		adminLn.Close()
		return err
	}
	defer unpublish()
	svc.secrets.add(adminToken)

	srv := newHTTPServer(svc.handler(), serverTimeouts)
	if certs != nil {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}
	}
	admin := newHTTPServer(ledgercli.RequireToken(adminToken, svc.adminHandler()), serverTimeouts)
	errc := make(chan error, 3)
	go func() {
		if certs != nil {
			errc <- srv.ServeTLS(httpLn, "", "")
			return
		}
		errc <- srv.Serve(httpLn)
	}()
	go func() { errc <- admin.Serve(adminLn) }()
	stopPlayground := func(context.Context) {}
	if svc.play != nil {
		stopPlayground = svc.play.start("http://"+httpLn.Addr().String(), errc)
	}

	loops, cancelLoops := context.WithCancel(ctx)
	done := svc.runLoops(loops)
	svc.banner(env.out, "http://"+httpLn.Addr().String(), adminURL)
	if svc.play != nil && env.playground != nil {
		env.playground(svc.play.url)
	}
	if env.started != nil {
		env.started(httpLn.Addr().String(), adminLn.Addr().String())
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	svc.log.Info().Msg("shutting down")
	shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	_ = admin.Shutdown(shut)
	stopPlayground(shut)
	cancelLoops()
	<-done
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// recordStop records controlplane.stopped, saying why the run ended: err
// is what serve returns (nil for a requested shutdown).
func (s *service) recordStop(err error) {
	why := "shutdown requested"
	if err != nil {
		why = "stopped after an error: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if rerr := s.engine.RecordStop(ctx, why); rerr != nil {
		s.log.Error().Err(rerr).Msg("controlplane.stopped not recorded; the next start will read this run as an unclean end")
	}
}

// newLogger writes JSON lines to out and to the support-bundle ring.
func newLogger(out io.Writer, ring io.Writer, envName, level string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil { // validated with the config: only a programming error
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(zerolog.MultiLevelWriter(out, ring)).Level(lvl).With().
		Timestamp().Str("environment", envName).Logger()
}
