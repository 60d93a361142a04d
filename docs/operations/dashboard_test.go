package operations

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// dashboard is the part of the Grafana dashboard model the tests read.
type dashboard struct {
	Title  string `json:"title"`
	UID    string `json:"uid"`
	Inputs []struct {
		Name     string `json:"name"`
		PluginID string `json:"pluginId"`
	} `json:"__inputs"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ X, Y, W, H int } `json:"gridPos"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
}

func loadDashboard(t *testing.T) (dashboard, map[string]any) {
	t.Helper()
	b := readFile(t, filepath.Join("grafana", "botwarden.json"))
	var d dashboard
	var raw map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/botwarden.json: %v", err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	return d, raw
}

// dashboardExprs returns every PromQL string in the dashboard: panel
// targets and template variable queries.
func dashboardExprs(t *testing.T) map[string]string {
	_, raw := loadDashboard(t)
	out := map[string]string{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "definition" || (k == "query" && strings.Contains(path, "templating"))) {
					out[s] = "dashboard " + path + "." + k
				}
				walk(path+"."+k, x)
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), x)
			}
		}
	}
	walk("", raw)
	return out
}

func TestDashboard_Shape(t *testing.T) {
	d, _ := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: both are needed for provisioning", d.UID, d.Title)
	}
	if len(d.Inputs) != 1 || d.Inputs[0].Name != "DS_PROMETHEUS" || d.Inputs[0].PluginID != "prometheus" {
		t.Errorf("__inputs = %+v, want one Prometheus data source DS_PROMETHEUS (import prompts for it)", d.Inputs)
	}
	ids := map[int]string{}
	var cells []panel
	for _, p := range d.Panels {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panel id %d used by %q and %q", p.ID, prev, p.Title)
		}
		ids[p.ID] = p.Title
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("%q: gridPos %+v outside the 24-column grid", p.Title, p.GridPos)
		}
		for _, q := range cells {
			if overlap(p, q) {
				t.Errorf("panels %q and %q overlap", p.Title, q.Title)
			}
		}
		cells = append(cells, p)
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${DS_PROMETHEUS}" {
			t.Errorf("%q: datasource must be ${DS_PROMETHEUS}", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%q: no queries", p.Title)
		}
		for _, q := range p.Targets {
			if strings.TrimSpace(q.Expr) == "" || q.RefID == "" {
				t.Errorf("%q: empty query or refId", p.Title)
			}
		}
	}
	if len(cells) < 10 {
		t.Errorf("only %d panels", len(cells))
	}
}

func overlap(a, b panel) bool {
	ga, gb := a.GridPos, b.GridPos
	return ga.X < gb.X+gb.W && gb.X < ga.X+ga.W && ga.Y < gb.Y+gb.H && gb.Y < ga.Y+ga.H
}

// TestDashboard_CoversAlerts makes the dashboard show every metric an
// alert fires on, so whoever is paged can see it.
func TestDashboard_CoversAlerts(t *testing.T) {
	shown := map[string]bool{}
	for expr := range dashboardExprs(t) {
		for _, n := range metricNames(expr) {
			shown[n] = true
		}
	}
	for _, a := range loadAlerts(t) {
		for _, n := range metricNames(a.Expr) {
			if !shown[n] {
				t.Errorf("alert %s uses %s, which no dashboard panel shows", a.Name, n)
			}
		}
	}
}
