package chatops

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/botwarden/botwarden/internal/core"
)

func TestParse_Valid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		text string
		want Request
	}{
		{"empty is help", "", Request{Verb: "help"}},
		{"status fleet", "status", Request{Verb: "status", Op: core.OpStatus}},
		{"status bot", "status alpha", Request{Verb: "status", Op: core.OpStatus, Target: "alpha"}},
		{"start live quoted reason", `start alpha --mode live --reason "market open"`,
			Request{Verb: "start", Op: core.OpStart, Target: "alpha", Reason: "market open", Params: core.Params{Mode: "live"}}},
		{"flag=value and smart quotes", `start alpha --mode=paper --reason=“smoke test”`,
			Request{Verb: "start", Op: core.OpStart, Target: "alpha", Reason: "smoke test", Params: core.Params{Mode: "paper"}}},
		{"mode is case-insensitive", "resume alpha --mode PAPER",
			Request{Verb: "resume", Op: core.OpResume, Target: "alpha", Params: core.Params{Mode: "paper"}}},
		{"verb case-insensitive", "STOP alpha", Request{Verb: "stop", Op: core.OpStop, Target: "alpha"}},
		{"id override", "pause alpha --id script-42", Request{Verb: "pause", Op: core.OpPause, Target: "alpha", ID: "script-42"}},
		{"apply", "apply alpha cfg@v7", Request{Verb: "apply", Op: core.OpApply, Target: "alpha", Params: core.Params{ConfigRef: "cfg@v7"}}},
		{"apply with mode", "apply alpha cfg@v7 --mode live", Request{Verb: "apply", Op: core.OpApply, Target: "alpha", Params: core.Params{ConfigRef: "cfg@v7", Mode: "live"}}},
		{"quarantine single quotes", "quarantine alpha --reason 'odd fills'", Request{Verb: "quarantine", Op: core.OpQuarantine, Target: "alpha", Reason: "odd fills"}},
		{"release", "release alpha", Request{Verb: "release", Op: core.OpRelease, Target: "alpha"}},
		{"killswitch set", "killswitch set global halt", Request{Verb: "killswitch set", Op: core.OpKillSwitchSet, Target: "global", Params: core.Params{Level: "halt"}}},
		{"killswitch release bot prefix", "killswitch release bot:alpha", Request{Verb: "killswitch release", Op: core.OpKillSwitchRelease, Target: "alpha", Params: core.Params{Level: "off"}}},
		{"killswitch release to level", "killswitch release group:majors reduce_only", Request{Verb: "killswitch release", Op: core.OpKillSwitchRelease, Target: "group:majors", Params: core.Params{Level: "reduce_only"}}},
		{"gate override", `gate override risk_limits --for 30m --reason "vendor outage"`, Request{Verb: "gate override", Op: core.OpGateOverride, Target: "global", Reason: "vendor outage", Params: core.Params{Gate: "risk_limits", Duration: "30m0s"}}},
		{"gate override scoped", "gate override risk_limits --for 1h --scope bot:alpha", Request{Verb: "gate override", Op: core.OpGateOverride, Target: "alpha", Params: core.Params{Gate: "risk_limits", Duration: "1h0m0s"}}},
		{"monitoring", "monitoring disable alpha --for 15m", Request{Verb: "monitoring disable", Op: core.OpMonitoringDisable, Target: "alpha", Params: core.Params{Duration: "15m0s"}}},
		{"secret", "secret rotate alpha vault:kv/alpha/api", Request{Verb: "secret rotate", Op: core.OpSecretRotate, Target: "alpha", Params: core.Params{SecretRef: "vault:kv/alpha/api"}}},
		{"data", "data compact global", Request{Verb: "data compact", Op: core.OpDataOp, Target: "global", Params: core.Params{DataAction: "compact"}}},
		{"bundle", "bundle", Request{Verb: "bundle", Op: core.OpBundle}},
		{"bundle bot", "bundle beta", Request{Verb: "bundle", Op: core.OpBundle, Target: "beta"}},
		{"audit head", "audit head", Request{Verb: "audit head"}},
		{"audit export range", "audit export --from 5 --to=9", Request{Verb: "audit export", From: 5, To: 9}},
		{"quoted flag-looking arg", `quarantine alpha --reason "--mode live"`, Request{Verb: "quarantine", Op: core.OpQuarantine, Target: "alpha", Reason: "--mode live"}},
		{"escaped quote", `stop alpha --reason "say \"hi\""`, Request{Verb: "stop", Op: core.OpStop, Target: "alpha", Reason: `say "hi"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse(tc.text)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.text, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Parse(%q)\n got %+v\nwant %+v", tc.text, got, tc.want)
			}
		})
	}
}

func TestParse_Errors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, text string
		wantMsg    string // the error must contain it
	}{
		{"typo verb", "strat alpha --mode paper", "did you mean start?"},
		{"unknown verb", "launch-the-missiles", "try help"},
		{"typo flag", "start alpha --mdoe live", "did you mean --mode?"},
		{"flag not for verb", "stop alpha --mode live", "stop does not take --mode"},
		{"mode required", "start alpha", "mode is required"},
		{"mode never implied: empty", "start alpha --mode=", "mode is required"},
		{"bad mode", "start alpha --mode real", "unknown mode"},
		{"missing bot", "stop", "missing argument"},
		{"extra arg", "stop alpha beta", `unexpected "beta"`},
		{"unclosed quote", `stop alpha --reason "oops`, "quote is not closed"},
		{"flag twice", "start alpha --mode paper --mode live", "given twice"},
		{"flag without value", "start alpha --mode", "--mode needs a value"},
		{"bad level", "killswitch set global hlt", "did you mean halt?"},
		{"sub typo", "killswitch relase alpha", "did you mean killswitch release?"},
		{"sub missing", "killswitch", "killswitch needs one of"},
		{"bad duration", "gate override g --for soon", "not a positive duration"},
		{"for required", "gate override g", "--for DURATION is required"},
		{"bad target", "stop al/pha", "is not a target"},
		{"bad id", "stop alpha --id 'two words'", "--id must be"},
		{"bad export range", "audit export --from 9 --to 5", "is after"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tc.text)
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("Parse(%q) error = %v, want ErrSyntax", tc.text, err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("Parse(%q) error = %q, want it to contain %q", tc.text, err, tc.wantMsg)
			}
		})
	}
}

// FuzzParse checks that no input makes the parser panic, that errors are
// always ErrSyntax, and that what it accepts is well-formed.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "help", `start alpha --mode live --reason "x y"`, "killswitch release bot:alpha", "audit export --from=1", `“a ‘b’ c”`, `"\`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r, err := Parse(text)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error not ErrSyntax: %v", err)
			}
			return
		}
		if r.Verb == "" {
			t.Fatalf("accepted %q without a verb", text)
		}
		if (r.Op == core.OpStart || r.Op == core.OpResume) && r.Params.Mode == "" {
			t.Fatalf("accepted %q: start/resume without an explicit mode", text)
		}
		if r.Target != "" && !scopeRE.MatchString(r.Target) {
			t.Fatalf("accepted %q with target %q", text, r.Target)
		}
		if !utf8.ValidString(r.Reason) && utf8.ValidString(text) {
			t.Fatalf("reason became invalid UTF-8")
		}
	})
}
