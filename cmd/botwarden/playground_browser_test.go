package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/botwarden/botwarden/ledger"
)

// chromiumPath finds the browser for the end-to-end test. In CI
// (CI=true) a missing browser fails the test; locally it skips.
func chromiumPath(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("BOTWARDEN_CHROMIUM"), "chromium", "chromium-browser", "/usr/bin/chromium"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	const how = "no Chromium found: install it (apt-get install chromium) or set BOTWARDEN_CHROMIUM to its path"
	if os.Getenv("CI") == "true" {
		t.Fatal(how + "; CI=true, so the browser test must run")
	}
	t.Skip(how + " to run the browser end-to-end test")
	return ""
}

// startPlaygroundServe runs the real service (embedded demo config, no
// Slack credentials: engine, chatops adapter, ledger, playground) on
// ephemeral loopback ports and returns the playground URL and a stop
// function that waits for a clean shutdown.
func startPlaygroundServe(t *testing.T, dir string) (string, func()) {
	t.Helper()
	s, stop := startServeWith(t, dir, nil, nil)
	if s.playground == "" {
		stop()
		t.Fatal("the service started without its playground")
	}
	return s.playground, stop
}

// browser drives one headless Chromium tab and saves screenshots.
type browser struct {
	t    *testing.T
	ctx  context.Context
	shot string // folder for screenshots
	n    int
}

func newBrowser(t *testing.T, exe string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 900),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	dir := os.Getenv("BOTWARDEN_SCREENSHOTS")
	if dir == "" {
		dir = t.ArtifactDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, ctx: ctx, shot: dir}
}

// do runs steps with a per-step deadline.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\npage text:\n%s", what, err, b.text("body"))
	}
}

// waitText waits until the element's visible text contains want.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.innerText.includes(%q); })()`, sel, want)
	b.do("wait for "+sel+" to show "+want, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(50*time.Millisecond)))
}

func (b *browser) text(sel string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ""`, sel)))
	return s
}

func (b *browser) screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.n++
	p := filepath.Join(b.shot, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", p)
	return p
}

func (b *browser) actAs(user string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const s = document.getElementById("user"); s.value = %q; s.dispatchEvent(new Event("change")); return s.value; })()`, user)
	b.do("switch to "+user, chromedp.Evaluate[chromedp.Void](js))
}

func (b *browser) command(text string) {
	b.t.Helper()
	b.do("type "+text, chromedp.SetValue(chromedp.CSS("#composer"), text), chromedp.Click(chromedp.CSS("#send")))
}

func (b *browser) channel(id string) {
	b.t.Helper()
	b.do("open "+id, chromedp.Click(chromedp.CSS(`#channels a[data-channel="`+id+`"]`)))
}

const confirmButton = `#timeline .bk-button[data-action-id="challenge_confirm"]`

// TestPlayground_BrowserLiveStartNeedsSecondPerson drives the real service
// through the playground page in headless Chromium: a live start is
// challenged (LIVE marker), the requester cannot confirm it, a mistyped
// target is refused in the modal, the approver confirms, the message
// closes and the bot runs live; the ledger, reopened after a clean stop,
// holds every step.
func TestPlayground_BrowserLiveStartNeedsSecondPerson(t *testing.T) {
	exe := chromiumPath(t)
	dir := t.TempDir()
	url, stop := startPlaygroundServe(t, dir)
	b := newBrowser(t, exe)

	b.do("open the playground", chromedp.Navigate(url+"/?user=U0OPERATOR"), chromedp.WaitVisible(chromedp.CSS("#composer")))
	b.command(`/warden start alpha --mode live --reason "market open"`)
	b.waitText("#timeline", "needs confirmation")
	b.screenshot("operator-requested")

	b.channel("C0APPROVERS")
	b.do("challenge buttons", chromedp.WaitVisible(chromedp.CSS(confirmButton)))
	b.waitText("#timeline", "LIVE")
	b.waitText("#timeline", "market open")
	b.screenshot("challenge-live")

	// The requester's own Confirm is refused under the second-person rule.
	b.do("operator clicks Confirm", chromedp.Click(chromedp.CSS(confirmButton)))
	b.waitText("#timeline", "denied")
	if !b.hidden("#modal-backdrop") {
		t.Fatal("the requester was offered the confirm modal")
	}
	b.screenshot("requester-refused")

	// The approver does not see the operator's ephemeral refusal.
	b.actAs("U0APPROVER")
	b.do("approver sees the challenge", chromedp.WaitVisible(chromedp.CSS(confirmButton)))
	if txt := b.text("#timeline"); strings.Contains(txt, "denied") || strings.Contains(txt, "Only visible to you") {
		t.Fatalf("approver sees the operator's ephemeral messages:\n%s", txt)
	}
	b.do("approver clicks Confirm", chromedp.Click(chromedp.CSS(confirmButton)), chromedp.WaitVisible(chromedp.CSS("#modal")))
	b.waitText("#modal", "Type alpha to confirm")
	b.waitText("#modal", "LIVE")

	b.do("mistype the target",
		chromedp.SetValue(chromedp.CSS("#input-typed_target"), "alpah"),
		chromedp.SetValue(chromedp.CSS("#input-reason"), "checked the book"),
		chromedp.Click(chromedp.CSS("#modal-submit")))
	b.waitText("#modal", "does not match")
	b.screenshot("mistyped-refused")
	if txt := b.text("#timeline"); strings.Contains(txt, "Confirmed") {
		t.Fatal("a mistyped target confirmed the challenge")
	}

	b.do("type it right", chromedp.SetValue(chromedp.CSS("#input-typed_target"), "alpha"), chromedp.Click(chromedp.CSS("#modal-submit")),
		chromedp.WaitNotVisible(chromedp.CSS("#modal")))
	b.waitText("#timeline", "Confirmed")
	b.waitText("#timeline", "@approver")
	b.do("buttons gone", chromedp.WaitNotPresent(chromedp.CSS(confirmButton)))
	b.screenshot("confirmed")

	b.channel("C0OPS")
	b.command("/warden status alpha")
	b.waitText("#timeline", "RUNNING_LIVE")
	b.screenshot("running-live")

	stop()
	checkLedgerAfterFlow(t, dir)
}

func (b *browser) hidden(sel string) bool {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	h, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q).hidden`, sel)))
	return err == nil && h
}

// checkLedgerAfterFlow reopens the ledger the service closed and checks it
// verifies and recorded the refusal, the mismatch and the confirmation.
func checkLedgerAfterFlow(t *testing.T, dir string) {
	t.Helper()
	l, err := ledger.Open(context.Background(), dir, ledger.Options{Environment: "dev"})
	if err != nil {
		t.Fatalf("reopen ledger: %v", err)
	}
	defer l.Close()
	if _, err := l.Verify(context.Background(), 1, l.Head().Size); err != nil {
		t.Fatalf("ledger verify: %v", err)
	}
	var confirms []map[string]any
	err = l.Scan(context.Background(), 1, func(_ uint64, raw []byte) error {
		var ev map[string]any
		if err := json.Unmarshal(raw, &ev); err != nil {
			return err
		}
		if ev["event_type"] == "dangerous_op.confirm" {
			confirms = append(confirms, ev)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var refused, mismatch, confirmed bool
	for _, ev := range confirms {
		switch {
		case ev["actor"] == "U0OPERATOR" && ev["outcome"] == "denied":
			refused = true
		case ev["actor"] == "U0APPROVER" && ev["reason"] == "target_mismatch":
			mismatch = true
		case ev["actor"] == "U0APPROVER" && ev["outcome"] == "approved":
			confirmed = true
		}
	}
	if !refused || !mismatch || !confirmed {
		b, _ := json.MarshalIndent(confirms, "", " ")
		t.Fatalf("ledger confirm events: refused=%v mismatch=%v confirmed=%v\n%s", refused, mismatch, confirmed, b)
	}
}
