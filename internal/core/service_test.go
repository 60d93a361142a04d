package core_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
	"github.com/botwarden/botwarden/internal/policy"
)

// starts returns the recorded controlplane.started events, in order.
func starts(t *testing.T, h *coretest.Harness) []core.ServiceInfo {
	t.Helper()
	var out []core.ServiceInfo
	for _, ev := range h.EventsOf(core.EvStarted) {
		if ev.Service == nil || ev.Target != "global" || ev.Actor != core.SystemActor {
			t.Fatalf("start event %+v", ev)
		}
		out = append(out, *ev.Service)
	}
	return out
}

// Every start records the version and the policy in force, first; the
// whole policy only when it changed; and how the previous run ended.
func TestStart_RecordsPolicyInForce(t *testing.T) {
	version := func(v string) coretest.Option {
		return coretest.WithConfig(func(c *core.Config) { c.Version, c.ConfigDigest = v, "sha256:"+sha64 })
	}
	h := coretest.NewEngine(t, version("v1"))
	if evs := h.Events(); evs[0].Type != core.EvStarted {
		t.Fatalf("first event %s, want %s before the bots' initialisation", evs[0].Type, core.EvStarted)
	}
	doc, demoDigest := policy.Demo().Canonical()
	s := starts(t, h)
	if len(s) != 1 || s[0].Version != "v1" || s[0].PolicyDigest != demoDigest || string(s[0].Policy) != string(doc) ||
		s[0].PreviousRun != "" || s[0].PreviousPolicyDigest != "" || s[0].ConfigDigest != "sha256:"+sha64 {
		t.Fatalf("first start %+v", s)
	}

	// A clean stop, then the same policy: named by its digest only.
	if err := h.Engine.RecordStop(t.Context(), "shutdown: signal"); err != nil {
		t.Fatal(err)
	}
	h2 := h.Restart()
	s = starts(t, h2)
	if len(s) != 2 || s[1].PreviousRun != "stopped" || s[1].Policy != nil || s[1].PolicyDigest != demoDigest {
		t.Fatalf("second start %+v", s[1])
	}

	// No stop recorded (a crash), then a policy that makes the operator an
	// approver: recorded whole, with the digest it replaces.
	grant := mustPolicy(t, selfApprovePolicy)
	h2.Restart() // records its start, then "crashes": no stop recorded
	h4 := coretest.NewEngine(t, coretest.WithAuditor(h.Auditor), coretest.WithPolicy(grant), version("v2"))
	s = starts(t, h4)
	last := s[len(s)-1]
	_, grantDigest := grant.Canonical()
	if len(s) != 4 || last.PreviousRun != "unclean" || last.Version != "v2" || last.PolicyDigest != grantDigest ||
		last.PreviousPolicyDigest != demoDigest || last.Policy == nil {
		t.Fatalf("start after a crash with a new policy %+v", last)
	}
	var d policy.Document
	if err := json.Unmarshal(last.Policy, &d); err != nil {
		t.Fatal(err)
	}
	if roles := d.Actors["U0BOTH"]; len(roles) != 2 {
		t.Fatalf("recorded policy gives U0BOTH %v, want operator and approver", roles)
	}
	stops := h4.EventsOf(core.EvStopped)
	if len(stops) != 1 || stops[0].Detail != "shutdown: signal" || stops[0].Service.Version != "v1" {
		t.Fatalf("stops %+v", stops)
	}
	h4.ValidateEvents()
}

const sha64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// A start the ledger refuses does not stop the service: a stop still
// runs (unaudited), nothing else runs, and the start is recorded before
// anything else once the ledger takes appends again.
func TestStart_RefusedThenRecordedFirst(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	if o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status != core.StatusApplied {
		t.Fatalf("paper start %+v", o)
	}
	h.Auditor.SetFailing(true)
	h2 := h.Restart()
	if _, _, ok := h2.Engine.Started(); ok {
		t.Fatal("Started reports a start the ledger refused")
	}
	if o := h2.Submit(h2.Cmd(coretest.Operator, "beta", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status != core.StatusDenied || o.Reason != core.ReasonLedgerUnavailable {
		t.Fatalf("start without a ledger %+v, want denied ledger_unavailable", o)
	}
	if o := h2.Submit(h2.Cmd(coretest.Operator, "alpha", core.OpStop, core.Params{})); o.Status != core.StatusApplied {
		t.Fatalf("stop without a ledger %+v, want applied (unaudited)", o)
	}
	n := h2.Auditor.Len()
	h2.Auditor.SetFailing(false)
	h2.Engine.Tick(t.Context())
	evs := h2.Events()
	if len(evs) <= n || evs[n].Type != core.EvStarted {
		t.Fatalf("after the ledger came back, event %d is not the start: %+v", n+1, evs[n:])
	}
	seq, ev, ok := h2.Engine.Started()
	if !ok || seq != uint64(n+1) || ev.Service == nil || ev.Service.PreviousRun != "unclean" {
		t.Fatalf("Started() = %d %+v %v", seq, ev, ok)
	}
	if got := len(starts(t, h2)); got != 2 {
		t.Fatalf("%d starts recorded, want 2 (the refused one once)", got)
	}
	h2.ValidateEvents()
}

// A restart while the ledger refuses appends (a full disk, say) with
// work the previous run left unfinished still serves: a stop runs
// (unaudited), and what recovery could not record is recorded right after
// the start once the ledger is back, while until then none of it can be
// used: the interrupted command is answered as failed, the expired
// challenge cannot be confirmed, the new bot cannot be started.
func TestStart_RefusedWithUnfinishedWork(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	if o := h.Submit(h.Cmd(coretest.Operator, "gamma", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status != core.StatusApplied {
		t.Fatalf("paper start %+v", o)
	}
	ch := h.Submit(h.Cmd(coretest.Operator, "beta", core.OpStart, core.Params{Mode: lifecycle.Live}))
	if ch.Challenge == nil {
		t.Fatalf("live start %+v, want a challenge", ch)
	}
	n := h.Auditor.Len()
	cmd := h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Paper})
	h.Submit(cmd)
	h.Auditor.Truncate(n + 1) // crash: only the intent made it to the ledger
	h.Config.Bots = append(h.Config.Bots, core.BotConfig{ID: "delta", Group: "alts", Driver: h.Driver})
	h.Clock.Advance(time.Hour) // the challenge's window passes while the service is down
	h.Auditor.SetFailing(true)

	h2 := h.Restart() // fails the test if New refuses
	if o := h2.Submit(cmd); !o.Duplicate || o.Status != core.StatusFailed {
		t.Fatalf("the interrupted command again, while its failure is unrecorded: %+v", o)
	}
	if c := h2.Confirm(ch.Challenge.ID, coretest.Approver); c.Status == core.StatusApplied || h2.State("beta") != lifecycle.Idle {
		t.Fatalf("confirm of the expired challenge: %+v, beta %s", c, h2.State("beta"))
	}
	if o := h2.Submit(h2.Cmd(coretest.Operator, "delta", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status == core.StatusApplied {
		t.Fatalf("start of a bot never initialised: %+v", o)
	}
	if o := h2.Submit(h2.Cmd(coretest.Operator, "gamma", core.OpStop, core.Params{})); o.Status != core.StatusApplied {
		t.Fatalf("stop without a ledger %+v, want applied (unaudited)", o)
	}

	h2.Auditor.SetFailing(false)
	h2.Engine.Tick(t.Context())
	evs := h2.Events()[n+1:]
	if len(evs) == 0 || evs[0].Type != core.EvStarted {
		t.Fatalf("first event after the ledger came back: %+v", evs)
	}
	var interrupted, initialised, expired bool
	for _, ev := range evs {
		interrupted = interrupted || (ev.Type == core.EvFailed && ev.CommandID == cmd.CommandID && ev.Reason == core.ReasonInterrupted)
		initialised = initialised || (ev.Type == core.EvTransition && ev.Target == "delta" && ev.To == lifecycle.Idle)
		expired = expired || (ev.Type == core.EvReject && ev.ChallengeID == ch.Challenge.ID && ev.Reason == core.ReasonExpired)
	}
	if !interrupted || !initialised || !expired {
		t.Fatalf("recorded after the start: interrupted %v, delta initialised %v, challenge expired %v", interrupted, initialised, expired)
	}
	if o, _, _ := h2.Engine.Outcome(t.Context(), cmd.CommandID); o.Reason != core.ReasonInterrupted {
		t.Fatalf("interrupted command's outcome: %+v", o)
	}
	if o := h2.Submit(h2.Cmd(coretest.Operator, "delta", core.OpStart, core.Params{Mode: lifecycle.Paper})); o.Status != core.StatusApplied {
		t.Fatalf("start of delta once initialised: %+v", o)
	}
	n = h2.Auditor.Len()
	h2.Engine.Tick(t.Context())
	if got := h2.Auditor.Len(); got != n {
		t.Fatalf("a second tick recorded %d more events: recovery must run once", got-n)
	}
	h2.ValidateEvents()
}

// A challenge's approvers, approvals and second-person rule were fixed by
// the policy in force when it was issued. After a restart under another
// policy (or one whose earlier policy is unknown: a ledger from before
// starts were recorded), it is superseded, recorded, and cannot be
// confirmed; under the same policy it stays open (TestChallenge_OpenSurvivesRestart).
func TestStart_PolicyChangeSupersedesOpenChallenges(t *testing.T) {
	// The demo policy with data ops needing one approver, not two.
	looser := mustPolicy(t, strings.Replace(string(policy.DemoSource()), "data_op: {role: approver, approvers: 2", "data_op: {role: approver, approvers: 1", 1))
	issue := func(t *testing.T) (*coretest.Harness, string) {
		h := coretest.NewEngine(t)
		h.Healthy()
		o := h.Submit(h.Cmd(coretest.Admin, "alpha", core.OpDataOp, core.Params{DataAction: "restore"}))
		if o.Challenge == nil {
			t.Fatalf("data op %+v, want a challenge", o)
		}
		return h, o.Challenge.ID
	}
	check := func(t *testing.T, h *coretest.Harness, id, want string) {
		t.Helper()
		ch, _ := h.Engine.Challenge(id)
		if ch.State != core.ChallengeSuperseded || ch.EndedBy != core.SystemActor {
			t.Fatalf("challenge after the restart: %+v", ch)
		}
		var found bool
		for _, ev := range h.EventsOf(core.EvReject) {
			found = found || (ev.ChallengeID == id && ev.Reason == core.ReasonSuperseded && strings.Contains(ev.Detail, want))
		}
		if !found {
			t.Fatalf("no superseded reject mentioning %q recorded", want)
		}
		c, err := h.Engine.Confirm(t.Context(), core.ConfirmRequest{ChallengeID: id, Actor: coretest.Approver, TypedTarget: "alpha", Reason: "ok"})
		if err != nil || c.Status == core.StatusApplied {
			t.Fatalf("confirm after the policy change: %+v %v", c, err)
		}
		if calls := h.Actions.Requests(); len(calls) != 0 {
			t.Fatalf("the data op ran: %v", calls)
		}
		h.ValidateEvents()
	}
	t.Run("policy changed", func(t *testing.T) {
		h, id := issue(t)
		h2 := coretest.NewEngine(t, coretest.WithAuditor(h.Auditor), coretest.WithPolicy(looser))
		check(t, h2, id, "the policy changed since it was issued")
	})
	t.Run("policy it was issued under unknown", func(t *testing.T) {
		h, id := issue(t)
		older := coretest.NewMemAuditor() // the same ledger without start records
		for _, raw := range h.Auditor.Raw() {
			if !strings.Contains(string(raw), `"event_type":"`+core.EvStarted+`"`) {
				if _, err := older.Queue(t.Context(), raw); err != nil {
					t.Fatal(err)
				}
			}
		}
		h2 := coretest.NewEngine(t, coretest.WithAuditor(older))
		check(t, h2, id, "is not recorded")
	})
}

// A new ledger signing key (a rotation) is itself recorded: the start
// after it names the new key and the one it replaced.
func TestStart_RecordsLedgerKeyChange(t *testing.T) {
	key := func(k string) coretest.Option {
		return coretest.WithConfig(func(c *core.Config) { c.LedgerKey = k })
	}
	h := coretest.NewEngine(t, key("botwarden-ledger-dev+11111111+AAAA"))
	h2 := coretest.NewEngine(t, coretest.WithAuditor(h.Auditor), key("botwarden-ledger-dev+11111111+AAAA"))
	if s := starts(t, h2); s[1].PreviousLedgerKey != "" || strings.Contains(h2.EventsOf(core.EvStarted)[1].Detail, "signing key") {
		t.Fatalf("same key recorded as a change: %+v", s[1])
	}
	h3 := coretest.NewEngine(t, coretest.WithAuditor(h.Auditor), key("botwarden-ledger-dev+22222222+BBBB"))
	s, evs := starts(t, h3), h3.EventsOf(core.EvStarted)
	if last := s[2]; last.LedgerKey != "botwarden-ledger-dev+22222222+BBBB" || last.PreviousLedgerKey != "botwarden-ledger-dev+11111111+AAAA" ||
		!strings.Contains(evs[2].Detail, "the ledger's signing key changed") {
		t.Fatalf("start after a key change %+v %q", last, evs[2].Detail)
	}
	h3.ValidateEvents()
}

// A challenge whose last confirm was recorded, by a run that ended before
// the command's result, is never confirmed again: not even while the
// interrupted result is still unrecorded (the ledger refused it at the
// restart), which would run the command a second time.
func TestStart_FullyApprovedChallengeNotConfirmedTwice(t *testing.T) {
	h := coretest.NewEngine(t)
	h.Healthy()
	o := h.Submit(h.Cmd(coretest.Operator, "alpha", core.OpStart, core.Params{Mode: lifecycle.Live}))
	if o.Challenge == nil {
		t.Fatalf("live start %+v", o)
	}
	n := h.Auditor.Len()
	if c := h.Confirm(o.Challenge.ID, coretest.Approver); c.Status != core.StatusApplied {
		t.Fatalf("confirm %+v", c)
	}
	h.Auditor.Truncate(n + 1) // crash: the confirm is recorded, the start's result is not
	h.Auditor.SetFailing(true)
	h2 := h.Restart()
	h2.Auditor.SetFailing(false) // space freed before the next tick
	if c := h2.Confirm(o.Challenge.ID, coretest.Approver2); c.Status == core.StatusApplied || c.Reason != core.ReasonChallengeClosed {
		t.Fatalf("a second confirm of the fully approved challenge: %+v", c)
	}
	if starts := len(h2.Driver.CallsTo("Start")); starts != 1 {
		t.Fatalf("the live start ran %d times", starts)
	}
	h2.Engine.Tick(t.Context())
	if got, _, _ := h2.Engine.Outcome(t.Context(), o.CommandID); got.Reason != core.ReasonInterrupted {
		t.Fatalf("the interrupted start's outcome: %+v", got)
	}
	h2.ValidateEvents()
}
