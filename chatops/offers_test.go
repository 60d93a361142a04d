package chatops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botwarden/botwarden/chatops/fakeslack"
	"github.com/botwarden/botwarden/internal/core"
)

// fileBundler writes a real (small) bundle file per request, as
// bundle.Builder does, so the upload path carries real bytes.
type fileBundler struct {
	dir string
	mu  sync.Mutex
	n   int
}

var _ core.Bundler = (*fileBundler)(nil)

func (b *fileBundler) Build(_ context.Context, req core.BundleRequest) (core.BundleResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	p := filepath.Join(b.dir, "bundle-"+req.Target+"-"+itoa(int64(b.n))+".tar.gz")
	if err := os.WriteFile(p, []byte("bundle of "+req.Target+" for "+req.Actor), 0o600); err != nil {
		return core.BundleResult{}, err
	}
	return core.BundleResult{Path: p, SHA256: strings.Repeat("c", 64), ManifestSHA256: strings.Repeat("d", 64)}, nil
}

func (b *fileBundler) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

func bundleHarness(t *testing.T) (*harness, *fileBundler) {
	b := &fileBundler{dir: t.TempDir()}
	return newHarnessWith(t, nil, func(d *core.Deps) { d.Bundler = b }), b
}

// offerMsg waits for an audit-channel message carrying button action.
func (h *harness) offerMsg(action string) (fakeslack.Message, string) {
	h.t.Helper()
	var m fakeslack.Message
	var v string
	h.waitFor("audit message offering "+action, func() bool {
		for _, x := range h.slack.Messages("C0AUDIT") {
			if val, ok := fakeslack.ButtonValue(x.Blocks, action); ok {
				m, v = x, val
				return true
			}
		}
		return false
	})
	return m, v
}

func (h *harness) liveStart(bot string) {
	h.t.Helper()
	ctx := context.Background()
	out, err := h.engine.Submit(ctx, core.Command{SchemaVersion: core.SchemaVersion, CommandID: "live-" + bot, Actor: "U0OPERATOR",
		Target: bot, Op: core.OpStart, RequestedTransition: "IDLE->RUNNING_LIVE", Environment: "dev", TraceID: "tr-" + bot, RunID: "test",
		Params: core.Params{Mode: "live"}})
	if err != nil || out.Challenge == nil {
		h.t.Fatalf("live start of %s: %+v %v", bot, out, err)
	}
	out, err = h.engine.Confirm(ctx, core.ConfirmRequest{ChallengeID: out.Challenge.ID, Actor: "U0APPROVER", Reason: "test", TypedTarget: bot})
	if err != nil || out.Status != core.StatusApplied {
		h.t.Fatalf("confirm live start of %s: %+v %v", bot, out, err)
	}
}

func TestOffer_StuckBotBundleUploadedInThread(t *testing.T) {
	t.Parallel()
	h, b := bundleHarness(t)
	h.command("U0OPERATOR", "C0OPS", "start alpha --mode paper")
	h.waitFor("alpha running", func() bool { return h.botState("alpha") == "RUNNING_PAPER" })
	h.driver.SetSlowStop(true)
	_, stopRU := h.command("U0OPERATOR", "C0OPS", "stop alpha")
	h.waitFor("alpha stopping", func() bool { return h.botState("alpha") == "STOPPING" })
	// Tick leaves a bot alone while a command on it still runs (it only
	// reconciles idle bots): wait until the stop has answered.
	h.waitFor("stop answered", func() bool { return h.responseTo(stopRU) != "" })
	h.clock.Advance(31 * time.Second)
	h.engine.Tick(t.Context())
	msg, bot := h.offerMsg(actionBundle)
	if bot != "alpha" || !strings.Contains(msg.Text, core.EvStuck) {
		t.Fatalf("offer = %q on %q", bot, msg.Text)
	}
	// The core kept the evidence already (a bundle of its own, on the
	// server); the offer gets one to the people in the channel.
	if n := b.count(); n != 1 {
		t.Fatalf("%d bundles built by the core at the stuck report, want 1", n)
	}

	// A viewer may not build bundles: denied, nothing built.
	_, ru := h.click("U0VIEWER", "C0AUDIT", msg.TS, actionBundle, "alpha")
	h.waitFor("viewer denied", func() bool { return strings.Contains(h.responseTo(ru), "denied") })
	// The operator double-clicks: one bundle, uploaded in the message's thread.
	_, ru1 := h.click("U0OPERATOR", "C0AUDIT", msg.TS, actionBundle, "alpha")
	_, ru2 := h.click("U0OPERATOR", "C0AUDIT", msg.TS, actionBundle, "alpha")
	h.waitFor("both clicks answered", func() bool { return h.responseTo(ru1) != "" && h.responseTo(ru2) != "" })
	h.waitFor("upload", func() bool { fs := h.slack.Files(); return len(fs) == 1 && fs[0].Completed })
	f := h.slack.Files()[0]
	if f.Channel != "C0AUDIT" || f.ThreadTS != msg.TS || string(f.Content) != "bundle of alpha for U0OPERATOR" {
		t.Fatalf("uploaded %+v (content %q)", f, f.Content)
	}
	if n := b.count(); n != 2 {
		t.Fatalf("%d bundles built for a double click, want 1 (besides the core's)", n-1)
	}
	if h.botState("alpha") != "STOPPING" {
		t.Fatal("a bundle changed the bot's state")
	}
}

func TestOffer_ErrorTransitionOffersBundle_SlashBundleUploads(t *testing.T) {
	t.Parallel()
	h, _ := bundleHarness(t)
	_, startRU := h.command("U0OPERATOR", "C0OPS", "start beta --mode paper")
	h.waitFor("beta running", func() bool { return h.botState("beta") == "RUNNING_PAPER" })
	h.waitFor("start answered", func() bool { return h.responseTo(startRU) != "" }) // Tick skips busy bots
	h.driver.SetStatus("beta", core.BotStatus{Alive: false, Detail: "exit 1"})
	for range core.DeadReadings {
		h.engine.Tick(t.Context())
	}
	_, bot := h.offerMsg(actionBundle)
	if bot != "beta" || h.botState("beta") != "ERROR" {
		t.Fatalf("offer for %q, beta %s", bot, h.botState("beta"))
	}
	_, ru := h.command("U0AUDITOR", "C0OPS", "bundle beta")
	h.waitFor("upload to the asking channel", func() bool {
		fs := h.slack.Files()
		return len(fs) == 1 && fs[0].Completed && fs[0].Channel == "C0OPS"
	})
	h.waitFor("answer", func() bool { return strings.Contains(h.responseTo(ru), "applied") })
	if string(h.slack.Files()[0].Content) != "bundle of beta for U0AUDITOR" {
		t.Fatalf("content = %q", h.slack.Files()[0].Content)
	}
}

func TestOffer_SafetyLeavesNormalWithLiveBotsOffersStop(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.liveStart("alpha")
	h.command("U0OPERATOR", "C0OPS", "start beta --mode paper")
	h.waitFor("beta running", func() bool { return h.botState("beta") == "RUNNING_PAPER" })
	if err := h.engine.SetSafety(t.Context(), core.SafetyDoc{SchemaVersion: core.SchemaVersion, Mode: core.SafetySafe,
		Source: "risk", Reason: "drawdown", UpdatedAt: h.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	msg, all := h.offerMsg(actionStopAll)
	if v, ok := fakeslack.ButtonValue(msg.Blocks, actionStop); all != "live" || !ok || v != "alpha" {
		t.Fatalf("stop offers: all=%q per-bot=%q", all, v)
	}
	if txt := fakeslack.Texts(msg.Blocks); !strings.Contains(txt, "LIVE") || strings.Contains(txt, "Stop beta") {
		t.Fatalf("offer text:\n%s", txt)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(h.driver.CallsTo("Stop")); n != 0 || h.botState("alpha") != "RUNNING_LIVE" {
		t.Fatalf("the control plane stopped something on its own (%d stops)", n)
	}

	_, ru := h.click("U0VIEWER", "C0AUDIT", msg.TS, actionStop, "alpha")
	h.waitFor("viewer denied", func() bool { return strings.Contains(h.responseTo(ru), "denied") })
	_, ru = h.click("U0OPERATOR", "C0AUDIT", msg.TS, actionStopAll, "live")
	h.waitFor("stop all answered", func() bool { return strings.Contains(h.responseTo(ru), "applied") })
	if got := h.botState("alpha"); got != "STOPPING" && got != "IDLE" {
		t.Fatalf("alpha = %s after stop all", got)
	}
	if h.botState("beta") != "RUNNING_PAPER" {
		t.Fatal("stop all stopped a paper bot")
	}
}
