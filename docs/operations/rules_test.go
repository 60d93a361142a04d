package operations

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// ruleFile is the part of a Prometheus rule file the tests read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// alertRule is one alert of alerts.yml, flattened.
type alertRule struct {
	Name, Expr  string
	Labels      map[string]string
	Annotations map[string]string
}

func loadAlerts(t testing.TB) []alertRule {
	t.Helper()
	var f ruleFile
	if err := yaml.Unmarshal(readFile(t, filepath.Join("prometheus", "alerts.yml")), &f); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	var out []alertRule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out = append(out, alertRule{Name: r.Alert, Expr: r.Expr, Labels: r.Labels, Annotations: r.Annotations})
		}
	}
	if len(out) == 0 {
		t.Fatal("alerts.yml has no rules")
	}
	return out
}

// requiredAlerts are the conditions the operations kit must alert on
// (issue 9): alert name -> a metric its expression must use.
var requiredAlerts = map[string]string{
	"BotwardenLedgerUnavailable":           "botwarden_ledger_available",
	"BotwardenNotReady":                    "botwarden_ledger_available",
	"BotwardenChallengeExpiringUnanswered": "botwarden_challenge_expiry_timestamp_seconds",
	"BotwardenBotError":                    "botwarden_bots",
	"BotwardenBotStuckStopping":            "botwarden_bots_stuck_stopping",
	"BotwardenSafetyNotNormal":             "botwarden_safety_mode",
	"BotwardenSlackPostingFailing":         "botwarden_slack_api_calls_total",
}

func TestAlerts_Shape(t *testing.T) {
	byName := map[string]alertRule{}
	for _, a := range loadAlerts(t) {
		if a.Name == "" {
			t.Errorf("rule %q is not an alert", a.Expr)
			continue
		}
		if _, dup := byName[a.Name]; dup {
			t.Errorf("alert %s defined twice", a.Name)
		}
		byName[a.Name] = a
		switch a.Labels["severity"] {
		case "critical", "warning":
		default:
			t.Errorf("%s: severity %q, want critical or warning", a.Name, a.Labels["severity"])
		}
		for _, k := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(a.Annotations[k]) == "" {
				t.Errorf("%s: annotation %s is missing", a.Name, k)
			}
		}
		page, ok := strings.CutPrefix(a.Annotations["runbook_url"], runbookBaseURL)
		if !ok {
			t.Errorf("%s: runbook_url %q is not under %s", a.Name, a.Annotations["runbook_url"], runbookBaseURL)
		} else if _, err := os.Stat(filepath.Join("runbooks", page)); err != nil {
			t.Errorf("%s: runbook page: %v", a.Name, err)
		}
	}
	for name, metric := range requiredAlerts {
		a, ok := byName[name]
		if !ok {
			t.Errorf("required alert %s is missing", name)
			continue
		}
		if !contains(metricNames(a.Expr), metric) {
			t.Errorf("%s: expression %q does not use %s", name, a.Expr, metric)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// promtool returns promtool's path, or skips (fails in CI) without it.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("promtool not found: .ci/run must install Debian's prometheus package")
	}
	t.Skip("promtool not found; to run this test: apt-get install prometheus")
	return ""
}

func TestAlerts_Promtool(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = "prometheus"
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestAlerts_UnitTestsCover makes sure the promtool unit tests exercise
// the alerts that matter most, so a rule cannot silently lose its test.
func TestAlerts_UnitTestsCover(t *testing.T) {
	var f struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			AlertRuleTest []struct {
				Alertname string           `yaml:"alertname"`
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(readFile(t, filepath.Join("prometheus", "alerts_test.yml")), &f); err != nil {
		t.Fatalf("alerts_test.yml: %v", err)
	}
	if !contains(f.RuleFiles, "alerts.yml") {
		t.Fatalf("alerts_test.yml does not load alerts.yml: %v", f.RuleFiles)
	}
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range f.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	for name := range requiredAlerts {
		if name == "BotwardenSlackPostingFailing" || name == "BotwardenNotReady" {
			if !firing[name] {
				t.Errorf("no promtool unit test where %s fires", name)
			}
			continue
		}
		if !firing[name] || !quiet[name] {
			t.Errorf("%s needs a promtool unit test where it fires and one where it does not (fires %v, quiet %v)", name, firing[name], quiet[name])
		}
	}
}
