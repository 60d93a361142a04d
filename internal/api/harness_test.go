package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/botwarden/botwarden/internal/api"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/policy"
	"github.com/botwarden/botwarden/internal/token"
	"github.com/botwarden/botwarden/ledger"
)

// ledgerAuditor makes the real ledger a core.Auditor (as cmd/ does).
type ledgerAuditor struct{ l *ledger.Log }

func (a ledgerAuditor) Queue(ctx context.Context, evs ...[]byte) (core.Pending, error) {
	p, err := a.l.Queue(ctx, evs...)
	if err != nil {
		return nil, err
	}
	return ledgerPending{p}, nil
}

type ledgerPending struct{ p *ledger.Pending }

func (p ledgerPending) Done() bool { return p.p.Done() }

func (p ledgerPending) Wait(ctx context.Context) ([]core.Receipt, error) {
	rs, err := p.p.Wait(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]core.Receipt, len(rs))
	for i, r := range rs {
		out[i] = core.Receipt{Seq: r.Seq, Hash: r.Hash}
	}
	return out, nil
}

func (a ledgerAuditor) Replay(ctx context.Context, fn func(uint64, []byte) error) error {
	return a.l.Scan(ctx, 1, fn)
}

func (a ledgerAuditor) Read(ctx context.Context, seq uint64) ([]byte, error) {
	e, err := a.l.Get(ctx, seq)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", core.ErrAuditUnavailable, err)
	}
	return e.Event, nil
}

var _ core.Auditor = ledgerAuditor{}

// env is a real engine on the demo policy with the real ledger in a temp
// folder, the fake driver, a token store and the API on 127.0.0.1.
type env struct {
	t      testing.TB
	ledger *ledger.Log
	engine *core.Engine
	driver *coretest.Driver
	clock  *coretest.Clock
	tokens *token.Store
	admin  *api.TokenAdmin
	srv    *httptest.Server
	mux    *http.ServeMux
	spec   *spec
}

type envOpt struct {
	cfg    api.Config
	clock  *coretest.Clock
	extra  int                   // bots beyond the three demo ones: bot01, bot02, … in group "fleet"
	recent int                   // core.Config.RecentOutcomes
	reg    prometheus.Registerer // the API's metrics, if set
	// bundler and bundleDir, if set, build support bundles and serve them.
	bundler   core.Bundler
	bundleDir string
	// apiLedger, if set, wraps the ledger the API (not the core) is given.
	apiLedger func(api.Ledger) api.Ledger
}

func (o envOpt) bundlerOr() core.Bundler {
	if o.bundler != nil {
		return o.bundler
	}
	return &coretest.Bundler{}
}

func newEnv(t testing.TB, opts ...func(*envOpt)) *env {
	t.Helper()
	o := envOpt{cfg: api.Config{Rate: 1000, Burst: 1000}, clock: coretest.NewClock(time.Now().UTC().Truncate(time.Second))}
	for _, f := range opts {
		f(&o)
	}
	ctx := context.Background()
	dir := t.TempDir()
	l, err := ledger.Open(ctx, dir, ledger.Options{Environment: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	e := &env{t: t, ledger: l, driver: coretest.NewDriver(), clock: o.clock}
	bots := []core.BotConfig{
		{ID: "alpha", Group: "majors", Driver: e.driver}, {ID: "beta", Group: "majors", Driver: e.driver}, {ID: "gamma", Group: "alts", Driver: e.driver}}
	for i := 1; i <= o.extra; i++ {
		bots = append(bots, core.BotConfig{ID: fmt.Sprintf("bot%02d", i), Group: "fleet", Driver: e.driver})
	}
	e.engine, err = core.New(ctx, core.Config{Environment: "dev", Policy: policy.Demo(), Bots: bots, RecentOutcomes: o.recent}, core.Deps{Auditor: ledgerAuditor{l}, Clock: e.clock, Actions: &coretest.Actions{}, Bundler: o.bundlerOr()})
	if err != nil {
		t.Fatal(err)
	}
	e.healthy()
	if e.tokens, err = token.Open(dir, e.clock.Now); err != nil {
		t.Fatal(err)
	}
	e.admin = &api.TokenAdmin{Store: e.tokens, Ledger: l, Environment: "dev", Now: e.clock.Now}
	var al api.Ledger = l
	if o.apiLedger != nil {
		al = o.apiLedger(l)
	}
	s, err := api.New(o.cfg, api.Deps{Core: e.engine, Ledger: al, Tokens: e.tokens, Logger: zerolog.Nop(), Now: e.clock.Now, Registerer: o.reg,
		BundleDir: o.bundleDir})
	if err != nil {
		t.Fatal(err)
	}
	e.mux = http.NewServeMux()
	s.Register(e.mux)
	e.srv = httptest.NewServer(e.mux) // 127.0.0.1 only
	t.Cleanup(e.srv.Close)
	e.spec = loadSpec(t)
	return e
}

func (e *env) healthy() {
	e.t.Helper()
	ctx := context.Background()
	now := e.clock.Now()
	if err := e.engine.SetSafety(ctx, core.SafetyDoc{SchemaVersion: core.SchemaVersion, Mode: core.SafetyNormal, Source: "test", UpdatedAt: now, TTLSeconds: 86400}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.engine.SetGates(ctx, core.GatesDoc{SchemaVersion: core.SchemaVersion, Source: "test", Results: []core.GateResult{
		{Gate: "risk_limits", Scope: "global", Status: core.GatePass, EvaluatedAt: now, TTLSeconds: 86400}}}); err != nil {
		e.t.Fatal(err)
	}
}

// client returns a client whose every request and response is validated
// against docs/api/openapi.yaml, with a fresh token for actor.
func (e *env) client(actor string) *api.Client {
	e.t.Helper()
	c, err := e.admin.Create(context.Background(), api.CreateRequest{Actor: actor, By: "test"})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.clientWith(c.Token)
}

func (e *env) clientWith(tok string) *api.Client {
	return &api.Client{BaseURL: e.srv.URL, Token: tok, HTTP: &http.Client{Transport: &validating{t: e.t, spec: e.spec}}}
}

// spec is the loaded OpenAPI document and its router.
type spec struct {
	doc    *openapi3.T
	router routers.Router
}

var (
	specOnce sync.Once
	specVal  *spec
	specErr  error
)

func loadSpec(t testing.TB) *spec {
	t.Helper()
	specOnce.Do(func() {
		openapi3filter.RegisterBodyDecoder("application/jsonl", openapi3filter.FileBodyDecoder)
		openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.FileBodyDecoder)
		openapi3filter.RegisterBodyDecoder("application/gzip", openapi3filter.FileBodyDecoder)
		loader := openapi3.NewLoader()
		loader.IsExternalRefsAllowed = true
		doc, err := loader.LoadFromFile("../../docs/api/openapi.yaml")
		if err != nil {
			specErr = err
			return
		}
		if err := doc.Validate(loader.Context); err != nil {
			specErr = err
			return
		}
		doc.Servers = nil // match any host: the test server's port is random
		r, err := legacy.NewRouter(doc)
		specVal, specErr = &spec{doc: doc, router: r}, err
	})
	if specErr != nil {
		t.Fatalf("docs/api/openapi.yaml: %v", specErr)
	}
	return specVal
}

// validating is a RoundTripper that fails the test on any request or
// response that does not satisfy the OpenAPI document.
type validating struct {
	t    testing.TB
	spec *spec
}

func (v *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := v.spec.router.FindRoute(req)
	if err != nil {
		v.t.Errorf("%s %s: not in openapi.yaml: %v", req.Method, req.URL.Path, err)
		return http.DefaultTransport.RoundTrip(req)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
		v.t.Errorf("%s %s: request violates openapi.yaml: %v", req.Method, req.URL.Path, err)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	ropts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		ropts.ExcludeResponseBody = true
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// An unset time.Time is never an answer: a field without a time
		// is left out (omitzero), not sent as year 1.
		if bytes.Contains(b, []byte(`"0001-01-01T00:00:00Z"`)) {
			v.t.Errorf("%s %s: answer holds an unset time: %s", req.Method, req.URL.Path, b)
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		defer func() { resp.Body = io.NopCloser(bytes.NewReader(b)) }()
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode,
		Header: resp.Header, Body: resp.Body, Options: ropts}
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		v.t.Errorf("%s %s: %d response violates openapi.yaml: %v", req.Method, req.URL.Path, resp.StatusCode, err)
	}
	return resp, nil
}
