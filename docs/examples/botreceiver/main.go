package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/botwarden/botwarden/internal/driver/httpdriver"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9001", "address to serve the control endpoint on")
	secretFile := flag.String("secret-file", "", "file holding the signing secret (default: $BOTRECEIVER_SECRET)")
	flag.Parse()
	logger := log.New(os.Stderr, "botreceiver: ", log.LstdFlags)
	secret, err := loadSecret(*secretFile)
	if err != nil {
		logger.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, *listen, newReceiver(secret, time.Now, logger)); err != nil {
		logger.Fatal(err)
	}
}

// loadSecret reads the secret from a file, or else from the environment;
// never from the command line, where other users could read it.
func loadSecret(file string) (httpdriver.Secret, error) {
	s := os.Getenv("BOTRECEIVER_SECRET")
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		s = strings.TrimSpace(string(raw))
	}
	if s == "" {
		return "", errors.New("no secret: set BOTRECEIVER_SECRET or -secret-file")
	}
	return httpdriver.Secret(s), nil
}

func serve(ctx context.Context, addr string, rc *receiver) error {
	srv := &http.Server{Addr: addr, Handler: rc.routes(), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	rc.log.Printf("listening on %s", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
