package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/api"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// BenchmarkPostCommands measures POST /v1/commands end to end (HTTP,
// token, engine, durable ledger appends) at 1 and 64 concurrent clients:
// "status" is one request, "stop_start" a safe stop + paper start pair.
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
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bot := fmt.Sprintf("bot%02d", w+1)
			var mine []time.Duration
			for next.Add(1) <= int64(b.N) {
				start := time.Now()
				if err := benchOne(c, kind, bot, w); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "ops/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
}

var benchSeq atomic.Int64

// benchOne is one operation: a status, or a stop then a paper start.
// Each worker owns its bot, so every stop and start is applied.
func benchOne(c *api.Client, kind, bot string, w int) error {
	id := func() string { return fmt.Sprintf("b-%d-%d", w, benchSeq.Add(1)) }
	if kind == "status" {
		_, err := c.Submit(bg, api.CommandRequest{Target: bot, Op: core.OpStatus}, id())
		return err
	}
	if _, err := c.Submit(bg, api.CommandRequest{Target: bot, Op: core.OpStop}, id()); err != nil {
		return err
	}
	_, err := c.Submit(bg, api.CommandRequest{Target: bot, Op: core.OpStart, Params: core.Params{Mode: lifecycle.Paper}}, id())
	return err
}

func benchToken(b *testing.B, e *env) string {
	b.Helper()
	c, err := e.admin.Create(bg, api.CreateRequest{Actor: coretest.Operator, By: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return c.Token
}
