package chatops

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

// Action ids of the interactive elements the adapter renders.
const (
	actionConfirm = "challenge_confirm"
	actionReject  = "challenge_reject"
	callbackModal = "challenge_confirm_modal"
	blockTyped    = "typed_target"
	blockReason   = "reason"
	inputAction   = "value"
)

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}
func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

// esc escapes text for mrkdwn so user input cannot forge links or mentions.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackTime renders t in the reader's time zone, with a UTC fallback.
func slackTime(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time_secs}|%s>", t.Unix(), t.UTC().Format(time.RFC3339))
}

// contextLine is the compact state every response carries: environment,
// safety mode, gate summary, kill-switch level.
func contextLine(s core.Snapshot) slack.Block {
	return slack.NewContextBlock("state", mrkdwn(stateSummary(s)))
}

func stateSummary(s core.Snapshot) string {
	counts := map[core.GateStatus]int{}
	for _, g := range s.Gates {
		counts[g.Status]++
	}
	gates := fmt.Sprintf("%d pass", counts[core.GatePass])
	if n := counts[core.GateFail]; n > 0 {
		gates += fmt.Sprintf(" · *%d FAIL*", n)
	}
	if n := counts[core.GateUnknown]; n > 0 {
		gates += fmt.Sprintf(" · *%d UNKNOWN*", n)
	}
	if len(s.Gates) == 0 {
		gates = "*none reported*"
	}
	return fmt.Sprintf("env *%s* | safety %s | gates %s | kill-switch %s",
		esc(s.Environment), safetyBadge(s.Safety.Mode), gates, killSummary(s.KillSwitch))
}

func safetyBadge(m core.SafetyMode) string {
	switch m {
	case core.SafetyNormal:
		return ":large_green_circle: *NORMAL*"
	case core.SafetySafe:
		return ":large_orange_circle: *SAFE*"
	case core.SafetyEmergencyStop:
		return ":red_circle: *EMERGENCY_STOP*"
	}
	return ":white_circle: *UNKNOWN*"
}

// killSummary is the global level plus the scopes that are engaged.
func killSummary(ks map[string]core.Level) string {
	global := ks["global"]
	if global == "" {
		global = core.LevelOff
	}
	out := "*" + string(global) + "*"
	var scoped []string
	for scope, l := range ks {
		if scope != "global" && l != "" && l != core.LevelOff {
			scoped = append(scoped, esc(scope)+"="+string(l))
		}
	}
	sort.Strings(scoped)
	if len(scoped) > 0 {
		out += " (" + strings.Join(scoped, ", ") + ")"
	}
	return out
}

// liveMarker is how anything touching live is made visually distinct.
const liveMarker = ":red_circle: *LIVE*"

func modeBadge(m lifecycle.Mode) string {
	if m == lifecycle.Live {
		return liveMarker
	}
	return string(m)
}

// describe names a command for people: "start alpha (live)".
func describe(op core.Op, target string, p core.Params) string {
	s := string(op) + " " + target
	switch {
	case p.Mode != "":
		s += " --mode " + string(p.Mode)
	case p.Level != "":
		s += " " + p.Level
	case p.Gate != "":
		s = string(op) + " " + p.Gate + " on " + target
	}
	return s
}

// outcomeBlocks renders the answer to a command, confirm or reject.
// outcomeBlocks renders an outcome, with the state line under it when s
// is not nil (the reader may see status: Adapter.contextFor).
func outcomeBlocks(o core.Outcome, s *core.Snapshot, runbookBase string) []slack.Block {
	icon := map[core.Status]string{
		core.StatusApplied: ":white_check_mark:", core.StatusDenied: ":no_entry:",
		core.StatusChallenged: ":hourglass_flowing_sand:", core.StatusRejected: ":x:", core.StatusFailed: ":warning:",
	}[o.Status]
	text := fmt.Sprintf("%s `%s` *%s*", icon, esc(string(o.Op)+" "+o.Target), strings.ReplaceAll(string(o.Status), "_", " "))
	if o.Reason != "" {
		text += fmt.Sprintf(" (`%s`)", o.Reason)
	}
	if o.From != "" && o.To != "" {
		text += fmt.Sprintf(": %s → %s", stateBadge(o.From), stateBadge(o.To))
	}
	if o.Detail != "" {
		text += "\n" + esc(o.Detail)
	}
	if o.Duplicate {
		text += "\n_This request was already received; it had no second effect._"
	}
	if link := runbookFor(o, runbookBase); link != "" {
		text += fmt.Sprintf("\nNext step: <%s|runbook>", link)
	}
	text += fmt.Sprintf("\n_command_id_ `%s`", esc(o.CommandID))
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}
	if s != nil {
		blocks = append(blocks, contextLine(*s))
	}
	return blocks
}

func stateBadge(st lifecycle.State) string {
	if st == lifecycle.RunningLive {
		return ":red_circle: *" + string(st) + "*"
	}
	return "`" + string(st) + "`"
}

// runbookFor is the core's runbook link, else one built from the base URL
// for outcomes that need a next step.
func runbookFor(o core.Outcome, base string) string {
	if o.Runbook != "" {
		return o.Runbook
	}
	if base == "" || o.Reason == "" || o.Status == core.StatusApplied {
		return ""
	}
	return base + string(o.Reason) + ".md"
}

// errorBlocks renders an error the user must fix: what was wrong, what to
// do next.
func errorBlocks(msg, next string, s *core.Snapshot) []slack.Block {
	text := ":warning: " + esc(msg)
	if next != "" {
		text += "\n" + next
	}
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil)}
	if s != nil {
		blocks = append(blocks, contextLine(*s))
	}
	return blocks
}

// transitionText is "FROM → TO" of a challenge's command, or its op.
func transitionText(c core.Command) string {
	if from, to, ok := strings.Cut(c.RequestedTransition, "->"); ok {
		return stateBadge(lifecycle.State(from)) + " → " + stateBadge(lifecycle.State(to))
	}
	return "`" + esc(c.RequestedTransition) + "`"
}
