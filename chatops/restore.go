package chatops

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/slack-go/slack"

	"github.com/botwarden/botwarden/internal/core"
)

// Message metadata event types. The adapter tags its own messages with
// them (chat.postMessage metadata) so that after a restart it finds them
// again in Slack, which is where they live: challenge messages to update,
// audit threads to continue, and the last checkpoint posted — the outside
// copy of the ledger's history, which must not come from the same disk as
// the ledger it checks.
const (
	metaChallenge  = "botwarden_challenge"
	metaAudit      = "botwarden_audit_thread"
	metaCheckpoint = "botwarden_checkpoint"
)

// Restore bounds: pages of conversations.history read per channel.
const (
	restorePages = 5
	pageSize     = 200
)

// meta tags a message with an event type and payload (plus the
// environment, so channels shared by environments do not mix).
func (a *Adapter) meta(typ string, kv ...string) slack.MsgOption {
	p := map[string]any{"environment": a.core.Environment()}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return slack.MsgOptionMetadata(slack.SlackMetadata{EventType: typ, EventPayload: p})
}

// identity is who the bot is in Slack (auth.test); only messages it
// posted itself are trusted when reading history back.
type identity struct {
	mu          sync.Mutex
	user, botID string
}

func (a *Adapter) self(ctx context.Context) (string, string, error) {
	a.me.mu.Lock()
	defer a.me.mu.Unlock()
	if a.me.user != "" {
		return a.me.user, a.me.botID, nil
	}
	var resp *slack.AuthTestResponse
	err := a.call(ctx, "auth.test", func(ctx context.Context) error {
		var err error
		resp, err = a.api.AuthTestContext(ctx)
		return err
	})
	if err != nil {
		return "", "", fmt.Errorf("auth.test: %w", err)
	}
	a.me.user, a.me.botID = resp.UserID, resp.BotID
	return a.me.user, a.me.botID, nil
}

// ownMessages walks channel's history newest first and calls fn with each
// message the bot itself posted with metadata of this environment, until
// fn returns false or pages run out.
func (a *Adapter) ownMessages(ctx context.Context, channel string, pages int, fn func(m slack.Message, p map[string]any) bool) error {
	user, bot, err := a.self(ctx)
	if err != nil {
		return err
	}
	env := a.core.Environment()
	cursor := ""
	for range pages {
		var resp *slack.GetConversationHistoryResponse
		err := a.call(ctx, "conversations.history", func(ctx context.Context) error {
			var err error
			resp, err = a.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
				ChannelID: channel, Cursor: cursor, Limit: pageSize, IncludeAllMetadata: true})
			return err
		})
		if err != nil {
			return fmt.Errorf("history of %s: %w", channel, err)
		}
		for _, m := range resp.Messages {
			p := m.Metadata.EventPayload
			if (m.User != user && (bot == "" || m.BotID != bot)) || p == nil || p["environment"] != env {
				continue
			}
			if !fn(m, p) {
				return nil
			}
		}
		cursor = resp.ResponseMetaData.NextCursor
		if !resp.HasMore || cursor == "" {
			return nil
		}
	}
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// Restore rebuilds from Slack what the adapter keeps in memory, after a
// restart: the messages of challenges (so they are updated when the
// challenge ends; ones that ended while the service was down are updated
// now), the audit-channel threads of commands, and the last checkpoint
// posted. Run calls it before it handles notices; what it cannot read
// (no history scope, Slack down) is reported and otherwise ignored: the
// core still decides every click.
func (a *Adapter) Restore(ctx context.Context) error {
	snap := a.core.Snapshot()
	channels := []string{a.cfg.AuditChannel, a.cfg.ApproversChannel}
	for _, ch := range snap.Challenges {
		a.cache.put(ch)
		channels = append(channels, ch.Command.Channel)
	}
	var errs []error
	var stale []string
	seen := map[string]bool{"": true}
	for _, c := range channels {
		if seen[c] {
			continue
		}
		seen[c] = true
		err := a.ownMessages(ctx, c, restorePages, func(m slack.Message, p map[string]any) bool {
			if id := a.restoreOne(c, m, p); id != "" {
				stale = append(stale, id)
			}
			return true
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, id := range stale {
		a.refreshChallenge(ctx, id)
	}
	return errors.Join(errs...)
}

// restoreOne records one tagged message; it returns the challenge id when
// the message is a challenge message that may need updating.
func (a *Adapter) restoreOne(channel string, m slack.Message, p map[string]any) string {
	switch m.Metadata.EventType {
	case metaChallenge:
		id := str(p["challenge_id"])
		if id == "" || a.msgs.get(id) != nil {
			return ""
		}
		a.msgs.put(id, &msgRef{channel: channel, ts: m.Timestamp})
		if clickable(m.Blocks) {
			return id
		}
	case metaAudit:
		if id := str(p["command_id"]); channel == a.cfg.AuditChannel && id != "" && a.audit.get(id) == "" {
			a.audit.put(id, m.Timestamp)
		}
	case metaCheckpoint:
		a.ckpt.mu.Lock()
		if channel == a.cfg.AuditChannel && a.ckpt.posted == nil && str(p["note"]) != "" {
			a.ckpt.posted = []byte(str(p["note"]))
		}
		a.ckpt.mu.Unlock()
	}
	return ""
}

// clickable reports whether a message still carries buttons.
func clickable(b slack.Blocks) bool {
	for _, blk := range b.BlockSet {
		if blk.BlockType() == slack.MBTAction {
			return true
		}
	}
	return false
}

// lastCheckpointInSlack returns the newest checkpoint note the bot posted
// to the audit channel.
func (a *Adapter) lastCheckpointInSlack(ctx context.Context) ([]byte, error) {
	if a.cfg.AuditChannel == "" {
		return nil, errors.New("no audit channel configured")
	}
	var note []byte
	err := a.ownMessages(ctx, a.cfg.AuditChannel, restorePages, func(m slack.Message, p map[string]any) bool {
		if m.Metadata.EventType == metaCheckpoint && str(p["note"]) != "" {
			note = []byte(str(p["note"]))
			return false
		}
		return true
	})
	return note, err
}

// challengeCache holds the open challenges the adapter has seen, so a
// Confirm click can open its modal at once, without waiting for the core
// (whose lock a slow driver may hold past Slack's trigger_id lifetime).
// The core checks everything again on submit.
type challengeCache struct {
	mu sync.Mutex
	m  map[string]core.Challenge
}

func newChallengeCache() *challengeCache { return &challengeCache{m: map[string]core.Challenge{}} }

func (c *challengeCache) put(ch core.Challenge) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch.State == core.ChallengeOpen {
		c.m[ch.ID] = ch
	} else {
		delete(c.m, ch.ID)
	}
}

func (c *challengeCache) get(id string) (core.Challenge, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.m[id]
	return ch, ok
}
