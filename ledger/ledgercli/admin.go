package ledgercli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/botwarden/botwarden/ledger"
)

// ledger.CheckpointHeader carries the export's signed checkpoint (base64).

// AdminHandler serves the ledger to the CLI while the service runs:
//
//	GET  /head                  HeadInfo
//	GET  /verify?from=&to=      ledger.VerifyReport (409 + message when it fails)
//	GET  /export?from=&to=      JSON Lines export; checkpoint in X-Botwarden-Checkpoint (base64)
//	GET  /prove?seq=&size=      ProofInfo
//	GET  /key                   verifier key (text)
//	POST /checkpoint            cut a checkpoint now; the signed note (text)
//
// Mount it on a loopback-only listener (it trusts its caller).
func AdminHandler(l *ledger.Log) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /head", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, headInfo(l)) })
	mux.HandleFunc("GET /key", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, l.VerifierKey()+"\n") })
	mux.HandleFunc("POST /checkpoint", func(w http.ResponseWriter, r *http.Request) {
		cp, err := l.Checkpoint(r.Context())
		if err != nil {
			httpError(w, err)
			return
		}
		w.Write(cp)
	})
	mux.HandleFunc("GET /verify", func(w http.ResponseWriter, r *http.Request) {
		from, to, err := rangeParams(r)
		if err != nil {
			httpError(w, err)
			return
		}
		rep, err := l.Verify(r.Context(), from, to)
		if err != nil {
			httpError(w, err)
			return
		}
		writeJSON(w, rep)
	})
	mux.HandleFunc("GET /export", func(w http.ResponseWriter, r *http.Request) { serveExport(w, r, l) })
	mux.HandleFunc("GET /prove", func(w http.ResponseWriter, r *http.Request) {
		seq, err1 := uintParam(r, "seq")
		size, err2 := uintParam(r, "size")
		if err := errors.Join(err1, err2); err != nil {
			httpError(w, err)
			return
		}
		p, err := proveWith(r.Context(), l, seq, size)
		if err != nil {
			httpError(w, err)
			return
		}
		writeJSON(w, p)
	})
	return mux
}

// serveExport signs first (so the header can carry the checkpoint), then
// streams the export; the trailer line tells the client it is complete.
func serveExport(w http.ResponseWriter, r *http.Request, l *ledger.Log) {
	from, to, err := rangeParams(r)
	if err != nil {
		httpError(w, err)
		return
	}
	if to == 0 {
		to = l.Head().Size
	}
	cp, err := l.CheckpointAt(r.Context(), to)
	if err != nil {
		httpError(w, err)
		return
	}
	w.Header().Set(ledger.CheckpointHeader, base64.StdEncoding.EncodeToString(cp))
	w.Header().Set("Content-Type", "application/jsonl")
	if _, err := l.Export(r.Context(), w, from, to); err != nil {
		// Headers are gone; the missing trailer makes the client fail.
		return
	}
}

func rangeParams(r *http.Request) (uint64, uint64, error) {
	from, err1 := uintParam(r, "from")
	to, err2 := uintParam(r, "to")
	return from, to, errors.Join(err1, err2)
}

func uintParam(r *http.Request, name string) (uint64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: parameter %s=%q is not a number", errBadRequest, name, s)
	}
	return n, nil
}

var errBadRequest = errors.New("bad request")

func httpError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, errBadRequest):
		code = http.StatusBadRequest
	case errors.Is(err, ledger.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ledger.ErrTampered):
		code = http.StatusConflict
	case errors.Is(err, ledger.ErrUnavailable):
		code = http.StatusServiceUnavailable
	}
	http.Error(w, err.Error(), code)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// checkLoopback refuses an admin URL that is not http on a loopback IP.
func checkLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" {
		return fmt.Errorf("admin url %q: want http://127.0.0.1:PORT", base)
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("admin url %q is not a loopback address; refusing", base)
	}
	return nil
}

type httpBackend struct {
	base, token string
	c           *http.Client
}

func newHTTPBackend(base, token string) httpBackend {
	return httpBackend{base: strings.TrimSuffix(base, "/") + "/admin/ledger", token: token, c: &http.Client{Timeout: 10 * time.Minute}}
}

func (b httpBackend) close() error { return nil }

func (b httpBackend) do(ctx context.Context, method, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+b.token)
	resp, err := b.c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("running service: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		err := errors.New(strings.TrimSpace(string(msg)))
		if resp.StatusCode == http.StatusConflict {
			err = fmt.Errorf("%w: %v", ledger.ErrTampered, err)
		}
		return nil, fmt.Errorf("running service: %s: %w", resp.Status, err)
	}
	return resp, nil
}

func (b httpBackend) getJSON(ctx context.Context, path string, v any) error {
	resp, err := b.do(ctx, http.MethodGet, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func (b httpBackend) head(ctx context.Context) (HeadInfo, error) {
	var h HeadInfo
	return h, b.getJSON(ctx, "/head", &h)
}

func (b httpBackend) verify(ctx context.Context, from, to uint64) (ledger.VerifyReport, error) {
	var r ledger.VerifyReport
	return r, b.getJSON(ctx, fmt.Sprintf("/verify?from=%d&to=%d", from, to), &r)
}

func (b httpBackend) prove(ctx context.Context, seq, size uint64) (ProofInfo, error) {
	var p ProofInfo
	return p, b.getJSON(ctx, fmt.Sprintf("/prove?seq=%d&size=%d", seq, size), &p)
}

func (b httpBackend) checkpoint(ctx context.Context) ([]byte, error) {
	resp, err := b.do(ctx, http.MethodPost, "/checkpoint")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func (b httpBackend) export(ctx context.Context, w io.Writer, from, to uint64) ([]byte, error) {
	resp, err := b.do(ctx, http.MethodGet, fmt.Sprintf("/export?from=%d&to=%d", from, to))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	cp, err := base64.StdEncoding.DecodeString(resp.Header.Get(ledger.CheckpointHeader))
	if err != nil || len(cp) == 0 {
		return nil, errors.New("running service: export without a checkpoint")
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return nil, fmt.Errorf("running service: export: %w", err)
	}
	return cp, nil
}
