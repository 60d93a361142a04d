package operations

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// repoRoot is the repository root, two folders up from this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s: %v", root, err)
	}
	return root
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	// promString is a quoted string in PromQL: label values, never names.
	promString = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	// promIdent is any identifier: metric, label, function or keyword.
	promIdent = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// servicePrefixes are the metric name prefixes of series the service
// exposes itself (its own, and the Go and process collectors'). Other
// identifiers in an expression are functions, labels, keywords or
// Prometheus's own series (up).
var servicePrefixes = []string{"botwarden_", "process_", "go_"}

// metricNames returns the service metric names an expression references.
func metricNames(expr string) []string {
	var out []string
	for _, id := range promIdent.FindAllString(promString.ReplaceAllString(expr, `""`), -1) {
		for _, p := range servicePrefixes {
			if strings.HasPrefix(id, p) {
				out = append(out, id)
				break
			}
		}
	}
	return out
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		name, expr string
		want       []string
	}{
		{"plain", `botwarden_ledger_available == 0`, []string{"botwarden_ledger_available"}},
		{"selector and function", `increase(botwarden_unaudited_effects_total{instance=~"$instance"}[15m]) > 0`, []string{"botwarden_unaudited_effects_total"}},
		{"label value is not a name", `up{job="botwarden_x"} == 0`, nil},
		{"histogram and process", `histogram_quantile(0.99, sum by (le) (rate(botwarden_ledger_append_seconds_bucket[5m]))) / process_cpu_seconds_total`,
			[]string{"botwarden_ledger_append_seconds_bucket", "process_cpu_seconds_total"}},
		{"label names are not names", `sum by (op, outcome) (go_goroutines)`, []string{"go_goroutines"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := metricNames(tc.expr)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("metricNames(%q) = %v, want %v", tc.expr, got, tc.want)
			}
		})
	}
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
