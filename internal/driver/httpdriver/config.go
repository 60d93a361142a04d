package httpdriver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Bot is one bot's endpoint and secret.
type Bot struct {
	ControlURL string // POST target for operations
	StatusURL  string // GET target for status
	Secret     Secret
}

// Config is a bot's `http:` block in the service config. The secret is
// never in the file: SecretEnv names an environment variable holding it,
// or SecretFile a file (e.g. a mounted secret) whose trimmed content is it.
type Config struct {
	URL        string `yaml:"url"`        // control endpoint
	StatusURL  string `yaml:"status_url"` // default: URL + "/status"
	SecretEnv  string `yaml:"secret_env"`
	SecretFile string `yaml:"secret_file"`
}

// ConfigFromMap decodes a bot's `http:` block (the generic map the config
// loader holds). Unknown keys are an error.
func ConfigFromMap(m map[string]any) (Config, error) {
	var c Config
	raw, err := yaml.Marshal(m)
	if err != nil {
		return c, fmt.Errorf("http driver config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("http driver config: %w", err)
	}
	return c, nil
}

// Bot resolves the config into a Bot, reading the secret through getenv or
// readFile (os.Getenv and os.ReadFile in production).
func (c Config) Bot(getenv func(string) string, readFile func(string) ([]byte, error)) (Bot, error) {
	b := Bot{ControlURL: c.URL, StatusURL: c.StatusURL}
	if b.StatusURL == "" {
		b.StatusURL = strings.TrimSuffix(c.URL, "/") + "/status"
	}
	switch {
	case c.SecretEnv != "" && c.SecretFile != "":
		return Bot{}, errors.New("http driver config: set secret_env or secret_file, not both")
	case c.SecretEnv != "":
		b.Secret = Secret(getenv(c.SecretEnv))
	case c.SecretFile != "":
		raw, err := readFile(c.SecretFile)
		if err != nil {
			return Bot{}, fmt.Errorf("http driver config: read secret_file: %w", err)
		}
		b.Secret = Secret(strings.TrimSpace(string(raw)))
	}
	return b, b.validate()
}

func (b Bot) validate() error {
	for _, u := range []string{b.ControlURL, b.StatusURL} {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("http driver: %q is not an http(s) URL", u)
		}
	}
	if b.Secret == "" {
		return errors.New("http driver: the bot's signing secret is empty")
	}
	return nil
}

// Retry bounds the retries of one operation.
type Retry struct {
	Attempts  int           // total tries, >= 1
	BaseDelay time.Duration // first backoff; doubles each retry
	MaxDelay  time.Duration // cap of one backoff
	MaxTotal  time.Duration // cap of the whole call, backoffs included
}

// DefaultRetry is 4 tries, backoff 250ms doubling to at most 2s, 15s total.
func DefaultRetry() Retry {
	return Retry{Attempts: 4, BaseDelay: 250 * time.Millisecond, MaxDelay: 2 * time.Second, MaxTotal: 15 * time.Second}
}

// backoff returns the wait before retry n (1-based): full jitter over an
// exponentially growing cap.
func (r Retry) backoff(n int, jitter func() float64) time.Duration {
	d := r.BaseDelay << (n - 1)
	if d > r.MaxDelay || d <= 0 {
		d = r.MaxDelay
	}
	return time.Duration(float64(d) * (0.5 + 0.5*jitter()))
}

// Options tune a Driver; zero fields take defaults.
type Options struct {
	Client         *http.Client                               // default: a client without its own timeout
	AttemptTimeout time.Duration                              // per request, default 5s
	Retry          Retry                                      // default DefaultRetry()
	Now            func() time.Time                           // default time.Now
	Jitter         func() float64                             // in [0,1), default math/rand/v2
	Sleep          func(context.Context, time.Duration) error // default: a timer honouring ctx
}

func (o Options) withDefaults() Options {
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 5 * time.Second
	}
	if o.Retry.Attempts < 1 {
		o.Retry = DefaultRetry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	return o
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
