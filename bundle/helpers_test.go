package bundle

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
	"github.com/botwarden/botwarden/internal/policy"
	"github.com/botwarden/botwarden/ledger"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// The planted secrets. Each lives in exactly one place the bundle reads.
const (
	envSlackToken = "xoxb-4242-planted-in-environment" // environment -> Secrets
	envSigning    = "b1946ac92492d2347c6235b4d2611184" // environment -> Secrets
	cfgWebhook    = "whsec_planted_in_config_0001"     // config value of a secret-named key
	logPassword   = "hunter2-planted-in-logs"          // log line, known value
	diagToken     = "drvtok-planted-in-diagnostics"    // driver diagnostics, known value
	metricSecret  = "metric-label-planted-secret"      // a metric label value, known value
	unknownAWS    = "AKIAPLANTEDEXAMPLE99"             // not known: only the AWS rule can catch it
)

var (
	t0      = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	created = t0.Add(48 * time.Hour)
)

// stepClock advances by step on every call, from start.
type stepClock struct {
	t    time.Time
	step time.Duration
}

func (c *stepClock) Now() time.Time { c.t = c.t.Add(c.step); return c.t }

// openLedger opens a real ledger and appends events: n entries spread one
// minute apart from t0, targets cycling over alpha, beta, group:majors
// and global.
func openLedger(t testing.TB, n int, extra ...string) *ledger.Log {
	t.Helper()
	clk := &stepClock{t: t0, step: time.Minute}
	l, err := ledger.Open(context.Background(), t.TempDir(), ledger.Options{Environment: "dev", Now: clk.Now})
	if err != nil {
		t.Fatalf("ledger.Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	targets := []string{"alpha", "beta", "group:majors", "global", "gamma"}
	for i := 0; i < n; i++ {
		ev := fmt.Sprintf(`{"event_type":"bot.state.transition","target":%q,"n":%d}`, targets[i%len(targets)], i)
		if _, err := l.Append(context.Background(), []byte(ev)); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	for _, ev := range extra {
		if _, err := l.Append(context.Background(), []byte(ev)); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
	return l
}

func testSnapshot() core.Snapshot {
	return core.Snapshot{
		Environment: "dev",
		Safety:      core.SafetyView{Mode: core.SafetyNormal, Source: "risk", UpdatedAt: t0},
		Gates:       []core.GateView{{Gate: "risk_limits", Scope: "global", Status: core.GatePass, Reported: core.GatePass, EvaluatedAt: t0}},
		KillSwitch:  map[string]core.Level{"group:alts": core.LevelReduceOnly},
		Bots: []core.BotView{
			{ID: "alpha", Group: "majors", State: lifecycle.Stopping, Stuck: true, KillSwitch: core.LevelOff,
				LastTransitions: []core.TransitionView{{From: lifecycle.RunningPaper, To: lifecycle.Stopping, At: t0, Actor: "U1", Seq: 3}}},
			{ID: "beta", Group: "majors", State: lifecycle.Idle, KillSwitch: core.LevelOff},
			{ID: "gamma", Group: "alts", State: lifecycle.Error, KillSwitch: core.LevelReduceOnly},
		},
		LedgerSeq: 10,
		At:        created,
	}
}

// testSources returns sources with a secret planted in every one.
func testSources(t testing.TB, l Ledger) Sources {
	t.Helper()
	t.Setenv("TEST_SLACK_BOT_TOKEN", envSlackToken)
	t.Setenv("TEST_SLACK_SIGNING_SECRET", envSigning)
	known := func() []string {
		return []string{os.Getenv("TEST_SLACK_BOT_TOKEN"), os.Getenv("TEST_SLACK_SIGNING_SECRET"),
			cfgWebhook, logPassword, diagToken, metricSecret}
	}
	ring := NewRing(100, 1<<20, nil) // no scrub on write: the build must catch it all
	log := zerolog.New(ring)
	log.Info().Str("bot", "alpha").Msg("stop requested")
	log.Warn().Str("password", logPassword).Msg("driver login") // a careless log line
	log.Error().Msg("retrying with Authorization: Bearer " + diagToken)
	log.Info().Msg("aws key " + unknownAWS + " in use")

	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "botwarden_test_total", Help: "t"}, []string{"who"})
	c.WithLabelValues(metricSecret).Inc()
	reg.MustRegister(c)

	return Sources{
		Snapshot: testSnapshot,
		Ledger:   l,
		Config: func() any {
			return map[string]any{
				"environment": "dev",
				"slack":       map[string]any{"bot_token_env": "TEST_SLACK_BOT_TOKEN", "audit_channel": "C0AUDIT"},
				"webhooks":    []any{map[string]any{"url": "https://hooks.example/x", "secret": cfgWebhook, "secret_ref": "vault:hooks/x"}},
			}
		},
		Policy:  policy.Demo().Canonical,
		Secrets: known,
		Logs:    ring,
		Metrics: reg,
		Diagnostics: func(_ context.Context, bot string) (any, error) {
			switch bot {
			case "alpha":
				return map[string]any{"phase": "stopping", "session": "token=" + diagToken, "endpoint": "https://u:" + diagToken + "@bot"}, nil
			case "beta":
				return nil, ErrNoDiagnostics
			}
			return nil, errors.New("unreachable")
		},
		Runtime: func() RuntimeFacts { return RuntimeFacts{GoVersion: "go-test", Goroutines: 7, HeapInuse: 1 << 20} },
	}
}

// encodedForms returns a secret as it may appear when copied around.
func encodedForms(s string) map[string]string {
	j, _ := json.Marshal(s)
	return map[string]string{
		"raw":        s,
		"base64":     base64.StdEncoding.EncodeToString([]byte(s)),
		"base64url":  base64.URLEncoding.EncodeToString([]byte(s)),
		"base64raw":  base64.RawStdEncoding.EncodeToString([]byte(s)),
		"url_query":  url.QueryEscape(s),
		"url_path":   url.PathEscape(s),
		"json":       strings.Trim(string(j), `"`),
		"upper_half": s[len(s)/2:], // a distinctive tail must not survive either
	}
}

// readBundle returns every file of the bundle at path by name.
func readBundle(t testing.TB, path string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := walkFile(context.Background(), path, func(name string, _ int64, r io.Reader) error {
		b, err := io.ReadAll(r)
		files[name] = b
		return err
	})
	if err != nil {
		t.Fatalf("read bundle: %v", err)
	}
	return files
}

func newTestBuilder(t testing.TB, dir string, src Sources) *Builder {
	t.Helper()
	b, err := New(Options{Dir: dir, Environment: "dev", Version: "test", Now: func() time.Time { return created }}, src)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}
