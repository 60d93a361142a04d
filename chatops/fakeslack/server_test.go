package fakeslack

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

func newClient(s *Server) *slack.Client {
	return slack.New("xoxb-test", slack.OptionAPIURL(s.URL()))
}

func TestServer_MessagesAndUpdates(t *testing.T) {
	t.Parallel()
	s := Start()
	defer s.Close()
	s.Token = "xoxb-test"
	c := newClient(s)
	ctx := context.Background()

	blocks := slack.MsgOptionBlocks(slack.NewActionBlock("b", slack.NewButtonBlockElement("confirm", "ch1", slack.NewTextBlockObject("plain_text", "Confirm", false, false))))
	ch, ts, err := c.PostMessageContext(ctx, "C1", slack.MsgOptionText("hello", false), blocks)
	if err != nil || ch != "C1" || ts == "" {
		t.Fatalf("PostMessage = %q %q %v", ch, ts, err)
	}
	m, ok := s.Message("C1", ts)
	if !ok || m.Text != "hello" {
		t.Fatalf("stored message = %+v %v", m, ok)
	}
	if v, ok := ButtonValue(m.Blocks, "confirm"); !ok || v != "ch1" {
		t.Fatalf("button value = %q %v", v, ok)
	}
	if _, _, _, err := c.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText("done", false)); err != nil {
		t.Fatal(err)
	}
	m, _ = s.Message("C1", ts)
	if m.Text != "done" || m.Updates != 1 || len(ActionIDs(m.Blocks)) != 0 {
		t.Fatalf("updated message = %+v", m)
	}
	if _, _, _, err := c.UpdateMessageContext(ctx, "C1", "1.2", slack.MsgOptionText("x", false)); err == nil || !strings.Contains(err.Error(), "message_not_found") {
		t.Fatalf("update of a missing message: %v", err)
	}
	calls := s.CallsTo("chat.postMessage")
	if len(calls) != 1 || calls[0].Token != "xoxb-test" || calls[0].Params.Get("token") != "" {
		t.Fatalf("recorded call = %+v", calls)
	}
}

func TestServer_WrongTokenRefused(t *testing.T) {
	t.Parallel()
	s := Start()
	defer s.Close()
	s.Token = "xoxb-right"
	c := slack.New("xoxb-wrong", slack.OptionAPIURL(s.URL()))
	if _, _, err := c.PostMessage("C1", slack.MsgOptionText("x", false)); err == nil || !strings.Contains(err.Error(), "invalid_auth") {
		t.Fatalf("err = %v, want invalid_auth", err)
	}
	if len(s.Messages("C1")) != 0 {
		t.Fatal("message stored despite a wrong token")
	}
}

func TestServer_ViewsFilesResponseURL(t *testing.T) {
	t.Parallel()
	s := Start()
	defer s.Close()
	c := newClient(s)
	ctx := context.Background()

	modal := slack.ModalViewRequest{Type: slack.VTModal, CallbackID: "cb", Title: slack.NewTextBlockObject("plain_text", "T", false, false),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", "body", false, false), nil, nil)}}}
	vr, err := c.OpenViewContext(ctx, "trig-1", modal)
	if err != nil || vr.ID == "" || vr.CallbackID != "cb" {
		t.Fatalf("OpenView = %+v %v", vr, err)
	}
	if vs := s.Views(); len(vs) != 1 || vs[0].TriggerID != "trig-1" || !strings.Contains(Texts(vs[0].JSON), "body") {
		t.Fatalf("views = %+v", vs)
	}
	if _, err := c.OpenViewContext(ctx, "", modal); err == nil {
		t.Fatal("views.open without trigger_id accepted")
	}
	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: modal.Blocks}
	if _, err := c.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U1", View: home}); err != nil {
		t.Fatal(err)
	}
	if h, ok := s.Home("U1"); !ok || !strings.Contains(Texts(h.JSON), "body") {
		t.Fatalf("home = %+v %v", h, ok)
	}

	f, err := c.UploadFileContext(ctx, slack.UploadFileParameters{Filename: "b.tar.gz", FileSize: 5, Content: "hello", Channel: "C1", Title: "bundle"})
	if err != nil || f.ID == "" {
		t.Fatalf("UploadFile = %+v %v", f, err)
	}
	if fs := s.Files(); len(fs) != 1 || string(fs[0].Content) != "hello" || !fs[0].Completed || fs[0].Channel != "C1" {
		t.Fatalf("files = %+v", fs)
	}

	ru := s.NewResponseURL()
	if _, _, err := c.PostMessageContext(ctx, "", slack.MsgOptionText("ephemeral hi", false), slack.MsgOptionResponseURL(ru, slack.ResponseTypeEphemeral)); err != nil {
		t.Fatal(err)
	}
	if rs := s.Responses(); len(rs) != 1 || rs[0].Text != "ephemeral hi" || rs[0].ResponseType != "ephemeral" || rs[0].URL != ru {
		t.Fatalf("responses = %+v", rs)
	}
}

func TestServer_InjectedFailures(t *testing.T) {
	t.Parallel()
	s := Start()
	defer s.Close()
	c := newClient(s)
	s.RateLimit("chat.postMessage", 1, 3)
	_, _, err := c.PostMessage("C1", slack.MsgOptionText("x", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter.Seconds() != 3 {
		t.Fatalf("err = %v, want RateLimitedError(3s)", err)
	}
	s.Fail("chat.postMessage", 1, "channel_not_found")
	if _, _, err := c.PostMessage("C1", slack.MsgOptionText("x", false)); err == nil || !strings.Contains(err.Error(), "channel_not_found") {
		t.Fatalf("err = %v", err)
	}
	if _, _, err := c.PostMessage("C1", slack.MsgOptionText("x", false)); err != nil {
		t.Fatalf("after the failures: %v", err)
	}
	if n := len(s.CallsTo("chat.postMessage")); n != 3 {
		t.Fatalf("recorded %d calls, want 3", n)
	}
}

func TestServer_HistoryPagesAndMetadata(t *testing.T) {
	t.Parallel()
	s := Start()
	defer s.Close()
	c := newClient(s)
	ctx := context.Background()
	for i := range 5 {
		md := slack.SlackMetadata{EventType: "t", EventPayload: map[string]any{"n": float64(i)}}
		if _, _, err := c.PostMessageContext(ctx, "C1", slack.MsgOptionText("m", false), slack.MsgOptionMetadata(md)); err != nil {
			t.Fatal(err)
		}
	}
	s.PostAs("C1", "U0OTHER", "not the bot", nil)
	var got []float64
	var authors []string
	cursor := ""
	for page := 0; ; page++ {
		resp, err := c.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1", Limit: 2, Cursor: cursor, IncludeAllMetadata: true})
		if err != nil || page > 5 {
			t.Fatalf("page %d: %v", page, err)
		}
		for _, m := range resp.Messages {
			authors = append(authors, m.User)
			if n, ok := m.Metadata.EventPayload["n"].(float64); ok {
				got = append(got, n)
			}
		}
		if !resp.HasMore {
			break
		}
		cursor = resp.ResponseMetaData.NextCursor
	}
	if len(authors) != 6 || authors[0] != "U0OTHER" || authors[1] != BotUserID {
		t.Fatalf("authors newest first = %v", authors)
	}
	if len(got) != 5 || got[0] != 4 || got[4] != 0 {
		t.Fatalf("metadata newest first = %v", got)
	}
	resp, err := c.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "C1"})
	if err != nil || resp.Messages[1].Metadata.EventType != "" {
		t.Fatalf("metadata returned without include_all_metadata: %+v %v", resp.Messages[1].Metadata, err)
	}
}

func TestServer_AppsConnectionsOpenNeedsAppToken(t *testing.T) {
	t.Parallel()
	s := Start()
	defer s.Close()
	s.Token, s.AppToken = "xoxb-test", "xapp-test"
	if _, _, err := slack.New("xoxb-test", slack.OptionAPIURL(s.URL()), slack.OptionAppLevelToken("xoxb-test")).StartSocketModeContext(context.Background()); err == nil {
		t.Fatal("bot token opened a socket mode connection")
	}
	_, u, err := slack.New("xoxb-test", slack.OptionAPIURL(s.URL()), slack.OptionAppLevelToken("xapp-test")).StartSocketModeContext(context.Background())
	if err != nil || !strings.HasPrefix(u, "ws://127.0.0.1") {
		t.Fatalf("open = %q %v", u, err)
	}
}
