package api_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/api"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// BenchmarkPostCommands measures POST /v1/commands end to end (HTTP,
// token, engine, durable ledger appends) at 1 and 64 concurrent clients.
// "status" is one request. "stop_start" is a safe pair as an operator
// runs it: stop a paper bot, wait until its driver's stop is confirmed
// (the engine's tick records STOPPING->IDLE; the service ticks every
// second, the benchmark every 10 ms), then start it again in paper. Both
// requests must be applied. ops/s counts operations (a pair is one,
// waiting included); p50 and p99 are the latency of one POST.
func BenchmarkPostCommands(b *testing.B) {
	for _, kind := range []string{"status", "stop_start"} {
		for _, clients := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/clients=%d", kind, clients), func(b *testing.B) { benchCommands(b, kind, clients) })
		}
	}
}

func benchCommands(b *testing.B, kind string, clients int) {
	// One bot per client, as a fleet operated by many scripts would be:
	// commands on one bot are serialised by design, different bots overlap.
	e := newEnv(b, func(o *envOpt) { o.cfg.Rate, o.cfg.Burst, o.extra = 1e9, 1<<30, clients })
	c := &api.Client{BaseURL: e.srv.URL, Token: benchToken(b, e),
		HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}}
	op := benchStatus
	if kind == "stop_start" {
		op = benchStopStart
		for w := range clients { // every bot runs (paper) before the clock starts
			if _, err := submitApplied(c, startReq(benchBot(w)), fmt.Sprintf("warm-%d", w)); err != nil {
				b.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(bg)
		ticked := make(chan struct{})
		defer func() { cancel(); <-ticked }() // before the ledger closes
		go func() {
			defer close(ticked)
			for ctx.Err() == nil {
				e.engine.Tick(ctx)
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	cpu0 := cpuTime()
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for next.Add(1) <= int64(b.N) {
				var err error
				if mine, err = op(e, c, benchBot(w), mine); err != nil {
					b.Error(err)
					return
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	b.ReportMetric(syncMillis(b), "fsync-ms")
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

var benchSeq atomic.Int64

func benchBot(w int) string { return fmt.Sprintf("bot%02d", w+1) }

func startReq(bot string) api.CommandRequest {
	return api.CommandRequest{Target: bot, Op: core.OpStart, Params: core.Params{Mode: lifecycle.Paper}}
}

// submitApplied posts req and returns its latency; anything but applied
// is an error, and so is a duplicate (the key must be new).
func submitApplied(c *api.Client, req api.CommandRequest, key string) (time.Duration, error) {
	start := time.Now()
	o, err := c.Submit(bg, req, key)
	took := time.Since(start)
	if err == nil && (o.Status != core.StatusApplied || o.Duplicate) {
		err = fmt.Errorf("%s %s: %s (%s, duplicate %v), want applied, not a duplicate", req.Op, req.Target, o.Status, o.Reason, o.Duplicate)
	}
	return took, err
}

func benchKey() string { return fmt.Sprintf("b-%d", benchSeq.Add(1)) }

// benchStatus is one status request.
func benchStatus(_ *env, c *api.Client, bot string, lat []time.Duration) ([]time.Duration, error) {
	d, err := submitApplied(c, api.CommandRequest{Target: bot, Op: core.OpStatus}, benchKey())
	return append(lat, d), err
}

// benchStopStart stops bot, waits (untimed) until the tick has recorded
// it IDLE, and starts it again.
func benchStopStart(e *env, c *api.Client, bot string, lat []time.Duration) ([]time.Duration, error) {
	d, err := submitApplied(c, api.CommandRequest{Target: bot, Op: core.OpStop}, benchKey())
	if err != nil {
		return lat, err
	}
	lat = append(lat, d)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if v, _ := e.engine.Bot(bot); v.State == lifecycle.Idle {
			break
		}
		if time.Now().After(deadline) {
			return lat, fmt.Errorf("%s not IDLE 10 s after its stop", bot)
		}
	}
	d, err = submitApplied(c, startReq(bot), benchKey())
	return append(lat, d), err
}

// syncMillis is this machine's mean write+fdatasync latency right now
// (200 small appends to a file), reported beside the figures: on a shared
// VM it moves from run to run, and every command waits for at least one.
func syncMillis(b *testing.B) float64 {
	f, err := os.Create(filepath.Join(b.TempDir(), "probe"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 600)
	start := time.Now()
	for range 200 {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil { // fsync; the ledger uses fdatasync on a growing file: the same journal commit
			b.Fatal(err)
		}
	}
	return float64(time.Since(start).Microseconds()) / 200 / 1000
}

func benchToken(b *testing.B, e *env) string {
	b.Helper()
	c, err := e.admin.Create(bg, api.CreateRequest{Actor: coretest.Operator, By: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return c.Token
}

// cpuTime is the CPU time (user and system) this process has used: per
// operation, the cost of the whole request, the in-process clients'
// share included.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
