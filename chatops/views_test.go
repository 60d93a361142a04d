package chatops

import (
	"strings"
	"testing"

	"github.com/botwarden/botwarden/internal/core"
	"github.com/botwarden/botwarden/internal/lifecycle"
)

func TestBotLine_Stuck(t *testing.T) {
	cases := []struct {
		bot       core.BotView
		want, not string
	}{
		{core.BotView{ID: "alpha", State: lifecycle.Stopping, Stuck: true}, "stuck stopping", "stop failed"},
		{core.BotView{ID: "alpha", State: lifecycle.Quarantined, Stuck: true}, "stop failed: may still be running", "stuck stopping"},
		{core.BotView{ID: "alpha", State: lifecycle.Quarantined}, "QUARANTINED", ":warning:"},
	}
	for _, tc := range cases {
		got := botLine(tc.bot)
		if !strings.Contains(got, tc.want) || strings.Contains(got, tc.not) {
			t.Errorf("%s stuck=%v: %q, want %q and not %q", tc.bot.State, tc.bot.Stuck, got, tc.want, tc.not)
		}
	}
}
