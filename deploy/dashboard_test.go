package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const dashboardFile = "grafana/strangler-dashboard.json"

// dashboard is the part of a Grafana dashboard JSON the tests read.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name string `json:"name"`
			Expr string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
}

type panel struct {
	ID         int     `json:"id"`
	Type       string  `json:"type"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
}

func readDashboard(tb testing.TB) dashboard {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir(tb), dashboardFile))
	if err != nil {
		tb.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		tb.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// allPanels flattens rows' nested panels.
func (d dashboard) allPanels() []panel {
	var out []panel
	var add func(ps []panel)
	add = func(ps []panel) {
		for _, p := range ps {
			out = append(out, p)
			add(p.Panels)
		}
	}
	add(d.Panels)
	return out
}

var labelValues = regexp.MustCompile(`^label_values\((\w+),\s*(\w+)\)$`)

// expressions returns every PromQL expression of the dashboard, named by
// where it is: panel targets, annotations, and the metric of each
// label_values() variable (with the label it reads as a selector).
func (d dashboard) expressions(tb testing.TB) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for _, p := range d.allPanels() {
		for _, t := range p.Targets {
			out["panel "+p.Title+" "+t.RefID] = t.Expr
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			out["annotation "+a.Name] = a.Expr
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			tb.Fatalf("variable %s: %v", v.Name, err)
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil {
			tb.Fatalf("variable %s: query %q is not label_values(metric, label)", v.Name, q.Query)
		}
		out["variable "+v.Name] = m[1] + `{` + m[2] + `=~".+"}`
	}
	return out
}

func TestDashboardIsWellFormed(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("uid and title are required (provisioning keys on the uid)")
	}
	ids := map[int]bool{}
	queries := 0
	for _, p := range d.allPanels() {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
			t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" || p.Type == "text" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || len(p.Targets) == 0 {
			t.Errorf("panel %q: needs targets on the ${datasource} variable", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if refs[tg.RefID] || strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q: empty expression or refId %s twice", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			queries++
		}
	}
	for where, expr := range d.expressions(t) {
		if _, err := parsePromQL(expr); err != nil {
			t.Errorf("%s: %v", where, err)
		}
	}
	// The panels the brief names, by the metric each must show.
	all := strings.Join(values(d.expressions(t)), "\n")
	for _, m := range []string{"strangler_requests_total", "strangler_request_duration_seconds_bucket",
		"strangler_requests_in_flight", "strangler_upstream_errors_total", "strangler_shadow_comparisons_total",
		"strangler_shadow_mismatch_ratio", "strangler_shadow_latency_delta_seconds_bucket", "strangler_guard_trips_total",
		"strangler_guard_breaker_state", "strangler_fallbacks_total", "strangler_rate_limited_total", "strangler_shed_total",
		"strangler_dualwrite_relay_lag_seconds", "strangler_dualwrite_outbox_dead", "strangler_target_healthy"} {
		if !strings.Contains(all, m) {
			t.Errorf("no panel shows %s", m)
		}
	}
	t.Logf("%d panels, %d queries", len(ids), queries)
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
