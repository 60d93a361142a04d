package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/botwarden/botwarden/internal/api"
)

// ctlFlags are the flags every ctl command shares.
type ctlFlags struct {
	url, token, output string
	ca                 string       // PEM file of extra CAs to trust for https
	http               *http.Client // set by prepare when ca is given
}

// addConnFlags adds the flags that say where the API is and how to reach it.
func (f *ctlFlags) addConnFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.url, "url", envOr("BOTWARDEN_URL", "http://127.0.0.1:8080"), "API base URL (env BOTWARDEN_URL)")
	fs.StringVar(&f.token, "token", "", "API token (default: env BOTWARDEN_TOKEN; prefer the environment)")
	fs.StringVar(&f.output, "output", "text", "text or json")
	fs.StringVar(&f.ca, "ca", os.Getenv("BOTWARDEN_CA"), "PEM file of the CA that signed the service's certificate, trusted besides the system's (env BOTWARDEN_CA)")
}

// prepare builds the HTTP client that trusts --ca, if one is given.
func (f *ctlFlags) prepare(*cobra.Command, []string) error {
	if f.ca == "" {
		return nil
	}
	pem, err := os.ReadFile(f.ca)
	if err != nil {
		return fmt.Errorf("--ca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("--ca %s: no PEM certificate in it", f.ca)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	f.http = &http.Client{Transport: t}
	return nil
}

// envOr is the environment variable k, or def when it is unset or empty.
func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// client is the API client the flags describe (the token from
// BOTWARDEN_TOKEN unless --token is given).
func (f *ctlFlags) client() *api.Client {
	tok := f.token
	if tok == "" {
		tok = os.Getenv("BOTWARDEN_TOKEN")
	}
	return &api.Client{BaseURL: f.url, Token: tok, HTTP: f.http}
}
