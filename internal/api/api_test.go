package api_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botwarden/botwarden/internal/api"
	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/core/coretest"
	"github.com/botwarden/botwarden/internal/lifecycle"
	"github.com/botwarden/botwarden/ledger"
)

var bg = context.Background()

func problemOf(t *testing.T, err error) api.Problem {
	t.Helper()
	var pe *api.ProblemError
	if !errors.As(err, &pe) {
		t.Fatalf("want a problem, got %v", err)
	}
	return pe.Problem
}

func (e *env) botState(id string) lifecycle.State {
	for _, b := range e.engine.Snapshot().Bots {
		if b.ID == id {
			return b.State
		}
	}
	return ""
}

func TestAPI_LiveStartThroughChallenge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op, appr := e.client(coretest.Operator), e.client(coretest.Approver)

	out, err := op.Submit(bg, api.CommandRequest{Target: "alpha", Op: core.OpStart, Reason: "go live",
		Params: core.Params{Mode: lifecycle.Live}}, "live-1")
	if err != nil || out.Status != core.StatusChallenged || out.Challenge == nil {
		t.Fatalf("submit = %+v, %v; want challenge_issued", out, err)
	}
	ch := out.Challenge
	if ch.Requires.TypedTarget != "alpha" || !ch.Live || ch.Command.Channel != api.Channel || ch.Command.Actor != coretest.Operator {
		t.Fatalf("challenge = %+v", ch)
	}
	if got := out.Challenge.Command.RequestedTransition; got != "IDLE->RUNNING_LIVE" {
		t.Fatalf("requested_transition = %q", got)
	}

	for _, tc := range []struct {
		name   string
		c      *api.Client
		typed  string
		reason core.Reason
	}{
		{"wrong typed target confirms nothing", appr, "beta", core.ReasonTargetMismatch},
		{"requester without the approver role may not confirm", op, "alpha", core.ReasonForbidden},
	} {
		o, err := tc.c.Confirm(bg, ch.ID, api.ConfirmBody{Reason: "ok", TypedTarget: tc.typed})
		if err != nil || o.Status != core.StatusDenied || o.Reason != tc.reason {
			t.Fatalf("%s: %+v, %v", tc.name, o, err)
		}
	}
	if n := len(e.driver.CallsTo("Start")); n != 0 {
		t.Fatalf("%d driver starts before a valid confirm", n)
	}
	o, err := appr.Confirm(bg, ch.ID, api.ConfirmBody{Reason: "checked risk", TypedTarget: "alpha"})
	if err != nil || o.Status != core.StatusApplied || o.To != lifecycle.RunningLive {
		t.Fatalf("confirm = %+v, %v", o, err)
	}
	o, err = appr.Confirm(bg, ch.ID, api.ConfirmBody{Reason: "again", TypedTarget: "alpha"})
	if err != nil || o.Reason != core.ReasonChallengeClosed {
		t.Fatalf("second confirm = %+v, %v; want challenge_closed", o, err)
	}
	calls := e.driver.CallsTo("Start")
	if len(calls) != 1 || calls[0].Mode != lifecycle.Live || calls[0].CommandID != "live-1" {
		t.Fatalf("driver starts = %+v, want exactly one live start", calls)
	}
	var bot api.BotDetail
	if err := op.Do(bg, http.MethodGet, "/v1/bots/alpha", nil, nil, &bot); err != nil || bot.State != lifecycle.RunningLive {
		t.Fatalf("bot = %+v, %v", bot, err)
	}
	var got core.Outcome
	if err := op.Do(bg, http.MethodGet, "/v1/commands/live-1", nil, nil, &got); err != nil || got.Status != core.StatusApplied {
		t.Fatalf("GET outcome = %+v, %v", got, err)
	}
	if err := op.Do(bg, http.MethodGet, "/v1/commands/nope", nil, nil, &got); problemOf(t, err).Status != http.StatusNotFound {
		t.Fatalf("unknown command: %v", err)
	}
}

func TestAPI_RejectAndListChallenges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op, appr, viewer := e.client(coretest.Operator), e.client(coretest.Approver), e.client(coretest.Viewer)
	out, _ := op.Submit(bg, api.CommandRequest{Target: "beta", Op: core.OpStart, Params: core.Params{Mode: lifecycle.Live}}, "live-b")
	var list api.ChallengeList
	if err := appr.Do(bg, http.MethodGet, "/v1/challenges?state=open", nil, nil, &list); err != nil ||
		len(list.Challenges) != 1 || !list.Challenges[0].MayApprove {
		t.Fatalf("approver list = %+v, %v", list, err)
	}
	if err := viewer.Do(bg, http.MethodGet, "/v1/challenges", nil, nil, &list); err != nil || list.Challenges[0].MayApprove {
		t.Fatalf("viewer list = %+v, %v (viewer must not be offered approval)", list, err)
	}
	if _, err := viewer.Reject(bg, out.Challenge.ID, api.RejectBody{Reason: "no"}); err != nil {
		t.Fatal(err)
	}
	o, err := appr.Reject(bg, out.Challenge.ID, api.RejectBody{Reason: "not today"})
	if err != nil || o.Status != core.StatusRejected || o.Reason != core.ReasonRejected {
		t.Fatalf("reject = %+v, %v", o, err)
	}
	if err := appr.Do(bg, http.MethodGet, "/v1/challenges?state=open", nil, nil, &list); err != nil || len(list.Challenges) != 0 {
		t.Fatalf("after reject: %+v, %v", list, err)
	}
	if len(e.driver.CallsTo("Start")) != 0 {
		t.Fatal("a rejected challenge started the bot")
	}
	_, err = appr.Confirm(bg, "ch-unknown", api.ConfirmBody{Reason: "x", TypedTarget: "beta"})
	if p := problemOf(t, err); p.Status != http.StatusNotFound {
		t.Fatalf("unknown challenge: %+v", p)
	}
}

func TestAPI_ViewerRefusedAndNotOffered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	viewer, op := e.client(coretest.Viewer), e.client(coretest.Operator)
	var me api.Me
	if err := viewer.Do(bg, http.MethodGet, "/v1/me?target=alpha", nil, nil, &me); err != nil {
		t.Fatal(err)
	}
	if me.Actor != coretest.Viewer || !slices.Equal(me.Roles, []string{"viewer"}) || !slices.Equal(me.Allowed, []core.Op{core.OpStatus}) || me.MayAudit {
		t.Fatalf("viewer /v1/me = %+v", me)
	}
	if err := op.Do(bg, http.MethodGet, "/v1/me?target=alpha", nil, nil, &me); err != nil || !slices.Contains(me.Allowed, core.OpStart) {
		t.Fatalf("operator /v1/me = %+v, %v", me, err)
	}
	// An unknown target is answered 404, not "you may do nothing", which
	// would read as missing permissions.
	for target, known := range map[string]bool{"group:majors": true, "global": true, "alpah": false, "group:nope": false} {
		err := op.Do(bg, http.MethodGet, "/v1/me?target="+target, nil, nil, &me)
		switch {
		case known && (err != nil || me.Target != target):
			t.Fatalf("/v1/me?target=%s = %+v, %v", target, me, err)
		case !known:
			if p := problemOf(t, err); p.Status != http.StatusNotFound || p.Reason != string(core.ReasonUnknownTarget) {
				t.Fatalf("/v1/me?target=%s: %+v, want 404 unknown_target", target, p)
			}
		}
	}
	o, err := viewer.Submit(bg, api.CommandRequest{Target: "alpha", Op: core.OpStop}, "v-stop")
	if err != nil || o.Status != core.StatusDenied || o.Reason != core.ReasonForbidden {
		t.Fatalf("viewer stop = %+v, %v", o, err)
	}
	_, err = viewer.Submit(bg, api.CommandRequest{Target: "alpha", Op: core.OpStop}, "v-stop-2")
	if err != nil {
		t.Fatal(err)
	}
	if p := problemOf(t, viewer.Do(bg, http.MethodGet, "/v1/ledger/head", nil, nil, nil)); p.Status != http.StatusForbidden || !strings.HasSuffix(p.Runbook, "/forbidden.md") {
		t.Fatalf("viewer ledger head: %+v", p)
	}
	// The denial is in the ledger, as a Slack denial would be.
	if !e.ledgerHas(t, `"event_type":"controlplane.command.denied"`, `"command_id":"v-stop"`, `"reason":"forbidden"`, `"channel":"api"`) {
		t.Fatal("viewer denial not recorded")
	}
}

// ledgerHas reports whether one entry contains every part.
func (e *env) ledgerHas(t *testing.T, parts ...string) bool {
	t.Helper()
	found := false
	err := e.ledger.Scan(bg, 1, func(_ uint64, ev []byte) error {
		for _, p := range parts {
			if !bytes.Contains(ev, []byte(p)) {
				return nil
			}
		}
		found = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func TestAPI_TokensRevokedExpiredRefusedAndAudited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c1, err := e.admin.Create(bg, api.CreateRequest{Actor: coretest.Operator, By: "local:test"})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := e.admin.Create(bg, api.CreateRequest{Actor: coretest.Operator, Expires: "1h", By: "local:test"})
	if err != nil {
		t.Fatal(err)
	}
	revoked, expiring := e.clientWith(c1.Token), e.clientWith(c2.Token)
	if err := revoked.Do(bg, http.MethodGet, "/v1/bots", nil, nil, nil); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
	if _, err := e.admin.Revoke(bg, c1.Record.ID, "local:test"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	for _, tc := range []struct {
		name   string
		c      *api.Client
		reason string
	}{
		{"revoked", revoked, api.ReasonTokenRevoked},
		{"expired", expiring, api.ReasonTokenExpired},
		{"unknown", e.clientWith("bw_" + strings.Repeat("A", 43)), api.ReasonUnauthenticated},
		{"missing", e.clientWith(""), api.ReasonUnauthenticated},
	} {
		_, err := tc.c.Submit(bg, api.CommandRequest{Target: "alpha", Op: core.OpStop}, "tok-"+tc.name)
		if p := problemOf(t, err); p.Status != http.StatusUnauthorized || p.Reason != tc.reason || !strings.HasSuffix(p.Runbook, "/api_token.md") {
			t.Errorf("%s: %+v", tc.name, p)
		}
	}
	if len(e.driver.CallsTo("Stop")) != 0 {
		t.Fatal("a refused token stopped a bot")
	}
	for _, want := range [][]string{
		{`"event_type":"api.token.created"`, c1.Record.ID},
		{`"event_type":"api.token.revoked"`, c1.Record.ID, `"actor":"local:test"`},
		{`"event_type":"api.token.denied"`, c1.Record.ID, `"reason":"token_revoked"`},
		{`"event_type":"api.token.denied"`, c2.Record.ID, `"reason":"token_expired"`},
		{`"event_type":"api.token.denied"`, `"id":"unknown"`},
	} {
		if !e.ledgerHas(t, want...) {
			t.Errorf("ledger lacks %v", want)
		}
	}
	for _, secret := range []string{c1.Token, c2.Token, c1.Record.Hash} {
		if e.ledgerHas(t, secret) {
			t.Fatal("a token or its hash is in the ledger")
		}
	}
}

func TestAPI_IdempotencyKeyConcurrent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op := e.client(coretest.Operator)
	const n = 32
	outs := make([]core.Outcome, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = op.Submit(bg, api.CommandRequest{Target: "gamma", Op: core.OpStart, Params: core.Params{Mode: lifecycle.Paper}}, "same-key")
		}()
	}
	wg.Wait()
	dups := 0
	for i := range n {
		if errs[i] != nil || outs[i].Status != core.StatusApplied || outs[i].CommandID != "same-key" {
			t.Fatalf("request %d: %+v, %v", i, outs[i], errs[i])
		}
		if outs[i].Duplicate {
			dups++
		}
	}
	if dups != n-1 {
		t.Fatalf("%d duplicates, want %d", dups, n-1)
	}
	if calls := e.driver.CallsTo("Start"); len(calls) != 1 {
		t.Fatalf("%d driver starts for one idempotency key", len(calls))
	}
}

// A command whose outcome has left memory (Config.RecentOutcomes) is
// answered from the ledger: GET gives the same outcome, and a retry with
// its Idempotency-Key is a duplicate with no second effect.
func TestAPI_OldOutcomeFromTheLedger(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *envOpt) { o.recent = 2 })
	op := e.client(coretest.Operator)
	start := api.CommandRequest{Target: "gamma", Op: core.OpStart, Params: core.Params{Mode: lifecycle.Paper}}
	first, err := op.Submit(bg, start, "old-start")
	if err != nil || first.Status != core.StatusApplied {
		t.Fatalf("start: %+v, %v", first, err)
	}
	for i := range 5 {
		if _, err := op.Submit(bg, api.CommandRequest{Target: "alpha", Op: core.OpStatus}, fmt.Sprint("status-", i)); err != nil {
			t.Fatal(err)
		}
	}
	var got core.Outcome
	if err := op.Do(bg, http.MethodGet, "/v1/commands/old-start", nil, nil, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, first) {
		t.Fatalf("GET of a retired outcome:\n got %+v\nwant %+v", got, first)
	}
	again, err := op.Submit(bg, start, "old-start")
	if err != nil || !again.Duplicate || again.Status != first.Status || again.Seq != first.Seq {
		t.Fatalf("retry: %+v, %v", again, err)
	}
	if calls := e.driver.CallsTo("Start"); len(calls) != 1 {
		t.Fatalf("%d driver starts for one idempotency key", len(calls))
	}
	// The ledger gone, an old outcome cannot be given: 503, not 404.
	if err := e.ledger.Close(); err != nil {
		t.Fatal(err)
	}
	err = op.Do(bg, http.MethodGet, "/v1/commands/old-start", nil, nil, &got)
	var pe *api.ProblemError
	if !errors.As(err, &pe) || pe.Problem.Status != http.StatusServiceUnavailable || pe.Problem.Reason != string(core.ReasonLedgerUnavailable) {
		t.Fatalf("GET of a retired outcome, ledger closed: %v; want 503 ledger_unavailable", err)
	}
}

func TestAPI_ExportVerifiesOffline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op, aud := e.client(coretest.Operator), e.client(coretest.Auditor)
	submitStatuses(t, op, 3)
	var buf bytes.Buffer
	cp, err := aud.Export(bg, &buf, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ledger.VerifyExport(bg, bytes.NewReader(buf.Bytes()), cp, e.ledger.VerifierKey(), nil)
	if err != nil {
		t.Fatalf("offline verify: %v", err)
	}
	if rep.To != rep.Checkpoint.Size || rep.Entries == 0 {
		t.Fatalf("report %+v", rep)
	}
	// The same bytes as the ledger's own export of that range.
	var want bytes.Buffer
	if _, err := e.ledger.Export(bg, &want, 1, rep.To); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want.Bytes()) {
		t.Fatal("API export differs from the ledger's export")
	}
	var head struct {
		Size uint64   `json:"size"`
		Key  string   `json:"verifier_key"`
		Keys []string `json:"verifier_keys"`
	}
	if err := aud.Do(bg, http.MethodGet, "/v1/ledger/head", nil, nil, &head); err != nil || head.Size < rep.To ||
		head.Key != e.ledger.VerifierKey() || len(head.Keys) != 1 || head.Keys[0] != head.Key {
		t.Fatalf("head %+v, %v", head, err)
	}
	var inc struct {
		Seq   uint64   `json:"seq"`
		Proof []string `json:"proof"`
	}
	if err := aud.Do(bg, http.MethodGet, fmt.Sprintf("/v1/ledger/proofs/inclusion?seq=2&size=%d", rep.To), nil, nil, &inc); err != nil || inc.Seq != 2 || len(inc.Proof) == 0 {
		t.Fatalf("inclusion %+v, %v", inc, err)
	}
	var cons api.ConsistencyInfo
	if err := aud.Do(bg, http.MethodGet, fmt.Sprintf("/v1/ledger/proofs/consistency?from=2&to=%d", rep.To), nil, nil, &cons); err != nil || cons.To != rep.To {
		t.Fatalf("consistency %+v, %v", cons, err)
	}
	var cps api.CheckpointList
	if err := aud.Do(bg, http.MethodGet, "/v1/ledger/checkpoints", nil, nil, &cps); err != nil || len(cps.Checkpoints) == 0 {
		t.Fatalf("checkpoints %+v, %v", cps, err)
	}
	// Beyond the head is 404; a request that cannot be answered for any
	// ledger is 400, and says which parameter is wrong.
	for _, tc := range []struct {
		path   string
		status int
		says   string
	}{
		{"/v1/ledger/proofs/inclusion?seq=999999", http.StatusNotFound, "not found"},
		{"/v1/ledger/proofs/inclusion?seq=3&size=2", http.StatusBadRequest, "want seq <= size"},
		{"/v1/ledger/proofs/consistency?from=3&to=2", http.StatusBadRequest, "want from <= to"},
		{"/v1/ledger/export?from=0", http.StatusBadRequest, "bad request: want 1 <= from"},
	} {
		p := problemOf(t, aud.Do(bg, http.MethodGet, tc.path, nil, nil, nil))
		if p.Status != tc.status || !strings.Contains(p.Detail, tc.says) {
			t.Errorf("%s: %d %q, want %d saying %q", tc.path, p.Status, p.Detail, tc.status, tc.says)
		}
	}
}

func TestAPI_CheckpointsArePaged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op, aud := e.client(coretest.Operator), e.client(coretest.Auditor)
	submitStatuses(t, op, 3)
	for size := uint64(1); size <= e.ledger.Head().Size; size++ {
		if _, err := e.ledger.CheckpointAt(bg, size); err != nil {
			t.Fatal(err)
		}
	}
	var want []uint64
	if err := e.ledger.Checkpoints(bg, 0, func(size uint64, _ []byte) error { want = append(want, size); return nil }); err != nil {
		t.Fatal(err)
	}
	var got []uint64
	pages := 0
	for from := uint64(0); ; pages++ {
		var page api.CheckpointList
		if err := aud.Do(bg, http.MethodGet, fmt.Sprintf("/v1/ledger/checkpoints?from=%d&limit=2", from), nil, nil, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Checkpoints) > 2 {
			t.Fatalf("page of %d with limit=2", len(page.Checkpoints))
		}
		for _, c := range page.Checkpoints {
			got = append(got, c.Size)
		}
		if page.Next == 0 {
			break
		}
		from = page.Next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) || pages != (len(want)-1)/2 {
		t.Fatalf("paged %v in %d pages, stored %v", got, pages+1, want)
	}
	for _, q := range []string{"limit=0", "limit=1001"} {
		if err := aud.Do(bg, http.MethodGet, "/v1/ledger/checkpoints?"+q, nil, nil, nil); problemOf(t, err).Status != http.StatusBadRequest {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// submitStatuses records n status commands through c, so the ledger has
// entries to export, prove and checkpoint.
func submitStatuses(t *testing.T, c *api.Client, n int) {
	t.Helper()
	for i := range n {
		if _, err := c.Submit(bg, api.CommandRequest{Target: "alpha", Op: core.OpStatus}, fmt.Sprintf("st-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
}
