package chatops

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"sync"

	"github.com/slack-go/slack"

	"github.com/botwarden/botwarden/internal/core"
)

// msgRef is where a challenge's message is. Updates to one message are
// serialised by its lock and always render the core's current state, so
// the last update shows the final outcome whatever order clicks arrive in.
type msgRef struct {
	mu          sync.Mutex
	channel, ts string
	responseURL string // fallback when the bot could not post in the channel
	last        [32]byte
}

// messages maps challenge ids to their messages. Each message carries
// its challenge id as metadata, so Restore finds it again after a
// restart.
type messages struct {
	mu sync.Mutex
	m  map[string]*msgRef
}

func newMessages() *messages { return &messages{m: map[string]*msgRef{}} }

func (ms *messages) get(id string) *msgRef {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return ms.m[id]
}

// ids returns the challenge ids with a message.
func (ms *messages) ids() []string {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	out := make([]string, 0, len(ms.m))
	for id := range ms.m {
		out = append(out, id)
	}
	return out
}

func (ms *messages) put(id string, r *msgRef) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.m[id] = r
}

// postChallenge posts the challenge message to channel; if the bot cannot
// post there it answers through responseURL instead.
func (a *Adapter) postChallenge(ctx context.Context, channel string, ch core.Challenge, snap core.Snapshot, responseURL string) {
	a.cache.put(ch)
	blocks := challengeBlocks(ch, snap)
	ref := &msgRef{channel: channel, last: digest(blocks)}
	// Registered and locked before posting: a click or notice racing the
	// post waits for it, then renders the state as it is by then.
	ref.mu.Lock()
	a.msgs.put(ch.ID, ref)
	err := a.call(ctx, "chat.postMessage", func(ctx context.Context) error {
		_, ts, err := a.api.PostMessageContext(ctx, channel, slack.MsgOptionBlocks(blocks...), slack.MsgOptionText(challengeText(ch), false),
			a.meta(metaChallenge, "challenge_id", ch.ID, "command_id", ch.Command.CommandID))
		ref.ts = ts
		return err
	})
	if err != nil {
		a.log.Warn().Err(err).Str("challenge", ch.ID).Str("channel", channel).Msg("post challenge failed; answering in place")
		ref.responseURL = responseURL
		a.respond(ctx, responseURL, slack.ResponseTypeInChannel, blocks)
	}
	ref.mu.Unlock()
	a.refreshChallenge(ctx, ch.ID)
}

// refreshChallenge re-renders a challenge's message from the core's
// current view of it, if it changed.
func (a *Adapter) refreshChallenge(ctx context.Context, id string) {
	ref := a.msgs.get(id)
	if ref == nil {
		if ch, ok := a.core.Challenge(id); ok {
			a.cache.put(ch) // e.g. issued through the operator API: Home shows it
		}
		return
	}
	ref.mu.Lock()
	defer ref.mu.Unlock()
	ch, ok := a.core.Challenge(id)
	if ok {
		a.cache.put(ch)
	}
	if !ok || (ref.ts == "" && ref.responseURL == "") {
		return
	}
	blocks := challengeBlocks(ch, a.core.Snapshot())
	d := digest(blocks)
	if d == ref.last {
		return
	}
	err := a.call(ctx, "chat.update", func(ctx context.Context) error {
		if ref.ts == "" {
			_, _, err := a.api.PostMessageContext(ctx, "", slack.MsgOptionReplaceOriginal(ref.responseURL),
				slack.MsgOptionBlocks(blocks...), slack.MsgOptionText(challengeText(ch), false))
			return err
		}
		_, _, _, err := a.api.UpdateMessageContext(ctx, ref.channel, ref.ts, slack.MsgOptionBlocks(blocks...), slack.MsgOptionText(challengeText(ch), false),
			a.meta(metaChallenge, "challenge_id", ch.ID, "command_id", ch.Command.CommandID))
		return err
	})
	if err != nil {
		a.log.Warn().Err(err).Str("challenge", id).Msg("update challenge message failed")
		return
	}
	ref.last = d
}

func digest(blocks []slack.Block) [32]byte {
	b, _ := json.Marshal(blocks)
	return sha256.Sum256(b)
}
