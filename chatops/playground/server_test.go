package playground

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/botwarden/botwarden/chatops/fakeslack"
)

func TestServer_CommandRelayedSignedAsSlack(t *testing.T) {
	t.Parallel()
	bot := newRecordingBot(`{"response_type":"ephemeral","text":"only for you"}`)
	r := newRig(t, bot, nil)
	code, v := r.post("/play/command", map[string]string{"user": "U0OPERATOR", "channel": "C0OPS", "text": "/warden status alpha"})
	if code != 200 || v["ok"] != true {
		t.Fatalf("command = %d %v", code, v)
	}
	req, body := <-bot.reqs, <-bot.bodies
	if req.URL.Path != "/slack/commands" || req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Fatalf("bot got %s %s", req.URL.Path, req.Header.Get("Content-Type"))
	}
	ts, _ := strconv.ParseInt(req.Header.Get("X-Slack-Request-Timestamp"), 10, 64)
	if got, want := req.Header.Get("X-Slack-Signature"), fakeslack.Sign(testSigning, ts, body); got != want || time.Since(time.Unix(ts, 0)) > time.Minute {
		t.Fatalf("signature %q at %d, want %q now", got, ts, want)
	}
	form, _ := url.ParseQuery(string(body))
	if form.Get("user_id") != "U0OPERATOR" || form.Get("channel_id") != "C0OPS" || form.Get("command") != "/warden" ||
		form.Get("text") != "status alpha" || form.Get("trigger_id") == "" || !strings.HasPrefix(form.Get("response_url"), r.page.URL+"/response/") {
		t.Fatalf("form = %v", form)
	}
	if strings.Contains(string(body), testSigning) || strings.Contains(string(body), testToken) {
		t.Fatal("a secret was sent in the request body")
	}
	// The acknowledgement is ephemeral: the operator sees it, nobody else.
	if _, ok := find(r.state("U0OPERATOR"), "C0OPS", "only for you"); !ok {
		t.Fatalf("operator does not see the ack:\n%s", dump(r.state("U0OPERATOR")))
	}
	if st := r.state("U0VIEWER"); len(st.Items) != 0 {
		t.Fatalf("viewer sees the operator's ephemerals:\n%s", dump(st))
	}
}

func TestServer_RefusedRequests(t *testing.T) {
	t.Parallel()
	bot := newRecordingBot(``)
	r := newRig(t, bot, nil)
	tests := []struct {
		name, path, ctype, body string
		want                    int
	}{
		{"form post (cross-site form)", "/play/command", "application/x-www-form-urlencoded", "user=U0OPERATOR&channel=C0OPS&text=/warden+help", http.StatusUnsupportedMediaType},
		{"unknown user", "/play/command", "application/json", `{"user":"U0EVE","channel":"C0OPS","text":"/warden help"}`, http.StatusBadRequest},
		{"unknown channel", "/play/command", "application/json", `{"user":"U0OPERATOR","channel":"C0NOPE","text":"/warden help"}`, http.StatusBadRequest},
		{"not a slash command", "/play/command", "application/json", `{"user":"U0OPERATOR","channel":"C0OPS","text":"hello"}`, http.StatusBadRequest},
		{"other slash command", "/play/command", "application/json", `{"user":"U0OPERATOR","channel":"C0OPS","text":"/wardenx help"}`, http.StatusBadRequest},
		{"submit to no modal", "/play/submit", "application/json", `{"user":"U0OPERATOR","view_id":"V1","values":{}}`, http.StatusNotFound},
		{"bad json", "/play/action", "application/json", `{`, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(r.page.URL+tc.path, tc.ctype, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	if n := len(bot.reqs); n != 0 {
		t.Fatalf("the bot got %d requests from refused ones", n)
	}
}

func TestServer_NonLoopbackHostRefused(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil, nil)
	for host, want := range map[string]int{"evil.example": 403, "evil.example:80": 403, "10.0.0.1": 403, "localhost": 200, "127.0.0.1": 200, "[::1]:9": 200} {
		req, _ := http.NewRequest(http.MethodGet, r.page.URL+"/play/config", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: status %d, want %d", host, resp.StatusCode, want)
		}
	}
}

func TestCheckLoopback(t *testing.T) {
	t.Parallel()
	errParse := errors.New("unparsable")
	tests := []struct {
		addr string
		want error
	}{
		{"127.0.0.1:8090", nil}, {"127.0.0.2:0", nil}, {"[::1]:8090", nil}, {"localhost:8090", nil},
		{"0.0.0.0:8090", ErrNotLoopback}, {":8090", ErrNotLoopback}, {"192.168.1.2:8090", ErrNotLoopback},
		{"example.com:80", ErrNotLoopback}, {"127.0.0.1", errParse},
	}
	for _, tc := range tests {
		err := CheckLoopback(tc.addr)
		switch {
		case tc.want == nil && err != nil, tc.want != nil && err == nil:
			t.Errorf("CheckLoopback(%q) = %v, want %v", tc.addr, err, tc.want)
		case tc.want == ErrNotLoopback && !errors.Is(err, ErrNotLoopback):
			t.Errorf("CheckLoopback(%q) = %v, want ErrNotLoopback", tc.addr, err)
		}
	}
}

func TestServer_FakeAPIWantsTheBotToken(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil, nil)
	wrong := slack.New("xoxb-wrong", slack.OptionAPIURL(r.pg.APIURL()))
	if _, _, err := wrong.PostMessage("C0OPS", slack.MsgOptionText("x", false)); err == nil || !strings.Contains(err.Error(), "invalid_auth") {
		t.Fatalf("wrong token: %v", err)
	}
	right := slack.New(testToken, slack.OptionAPIURL(r.pg.APIURL()))
	if _, _, err := right.PostMessage("C0OPS", slack.MsgOptionText("hello all", false)); err != nil {
		t.Fatal(err)
	}
	for _, u := range testUsers {
		if _, ok := find(r.state(u.ID), "C0OPS", "hello all"); !ok {
			t.Errorf("%s does not see a channel message", u.ID)
		}
	}
}

func TestServer_ResponseURLReplaceOriginal(t *testing.T) {
	t.Parallel()
	r := newRig(t, newRecordingBot(""), nil)
	ru := r.pg.newResponseURL("C0OPS", "U0OPERATOR")
	postJSON := func(v map[string]any) {
		b, _ := json.Marshal(v)
		resp, err := http.Post(ru, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	postJSON(map[string]any{"text": "first", "response_type": "in_channel"})
	postJSON(map[string]any{"text": "second", "replace_original": true})
	st := r.waitState("U0VIEWER", "replaced message", func(st State) bool { _, ok := find(st, "C0OPS", "second"); return ok })
	if _, ok := find(st, "C0OPS", "first"); ok || len(st.Items) != 1 || !st.Items[0].Edited || st.Items[0].Kind != "message" {
		t.Fatalf("after replace_original:\n%s", dump(st))
	}
	postJSON(map[string]any{"delete_original": true})
	r.waitState("U0VIEWER", "deleted message", func(st State) bool { return len(st.Items) == 0 })
}

func TestServer_LongPollWakesOnChange(t *testing.T) {
	t.Parallel()
	r := newRig(t, newRecordingBot(""), nil)
	v := r.state("U0OPERATOR").Version
	got := make(chan State, 1)
	go func() {
		resp, err := http.Get(r.page.URL + "/play/state?user=U0OPERATOR&after=" + strconv.FormatInt(v, 10))
		if err != nil {
			close(got)
			return
		}
		defer resp.Body.Close()
		var st State
		_ = json.NewDecoder(resp.Body).Decode(&st)
		got <- st
	}()
	select {
	case <-got:
		t.Fatal("long poll returned before any change")
	case <-time.After(100 * time.Millisecond):
	}
	r.post("/play/command", map[string]string{"user": "U0OPERATOR", "channel": "C0OPS", "text": "/warden help"})
	select {
	case st := <-got:
		if st.Version == v {
			t.Fatalf("woke with the same version %d", v)
		}
		if _, ok := find(st, "C0OPS", "/warden help"); !ok {
			t.Fatalf("woke without the echo:\n%s", dump(st))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long poll did not wake on a change")
	}
}

// external matches a reference the browser would fetch from elsewhere.
var external = regexp.MustCompile(`(src|href)="(https?:)?//|@import|url\((https?:)?//|fetch\("https?:`)

func TestServer_PageIsEmbedded(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil, nil)
	for _, p := range []string{"/", "/app.js", "/blockkit.js", "/mrkdwn.js", "/style.css"} {
		resp, err := http.Get(r.page.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || b.Len() == 0 {
			t.Fatalf("GET %s = %d (%d bytes)", p, resp.StatusCode, b.Len())
		}
		if external.MatchString(b.String()) {
			t.Fatalf("%s loads something from outside the binary: %s", p, external.FindString(b.String()))
		}
	}
}
