package deploy

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/nanopore/strangler/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite deploy/monitoring/prometheusrule.yaml from the rule file")

const (
	ruleFile       = "prometheus/strangler-rules.yaml"
	ruleTests      = "prometheus/strangler-rules.test.yaml"
	prometheusRule = "monitoring/prometheusrule.yaml"
)

// readRules decodes the rule file strictly into the Prometheus Operator's
// rule group type, which mirrors Prometheus' rule file format.
func readRules(tb testing.TB) monitoringv1.PrometheusRuleSpec {
	tb.Helper()
	var spec monitoringv1.PrometheusRuleSpec
	decodeStrict(tb, readDocs(tb, ruleFile)[0], &spec)
	return spec
}

// alertRules lists every alert rule of the rule file.
func alertRules(tb testing.TB) []monitoringv1.Rule {
	tb.Helper()
	var out []monitoringv1.Rule
	for _, g := range readRules(tb).Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r)
			}
		}
	}
	return out
}

func TestAlertRulesAreWellFormed(t *testing.T) {
	headings := runbookAnchors(t)
	seen := map[string]bool{}
	rules := alertRules(t)
	if len(rules) < 10 {
		t.Fatalf("%d alert rules", len(rules))
	}
	for _, r := range rules {
		if seen[r.Alert] {
			t.Errorf("alert %s defined twice", r.Alert)
		}
		seen[r.Alert] = true
		if _, err := parsePromQL(r.Expr.String()); err != nil {
			t.Errorf("%s: %v", r.Alert, err)
		}
		if r.For != nil {
			if _, err := time.ParseDuration(string(*r.For)); err != nil {
				t.Errorf("%s: for %q: %v", r.Alert, *r.For, err)
			}
		}
		if s := r.Labels["severity"]; s != "warning" && s != "critical" {
			t.Errorf("%s: severity %q", r.Alert, s)
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s: summary and description are required", r.Alert)
		}
		doc, anchor, _ := strings.Cut(r.Annotations["runbook"], "#")
		if doc != "docs/runbook.md" || !headings[anchor] {
			t.Errorf("%s: runbook %q names no heading of docs/runbook.md", r.Alert, r.Annotations["runbook"])
		}
	}
	for _, signal := range []string{"strangler_guard_trips_total", "strangler_guard_breaker_state",
		"strangler_dualwrite_relay_lag_seconds", "strangler_dualwrite_outbox_dead", "strangler_shadow_mismatch_ratio",
		"strangler_target_healthy", "strangler_requests_total"} {
		found := false
		for _, r := range rules {
			found = found || strings.Contains(r.Expr.String(), signal)
		}
		if !found {
			t.Errorf("no alert on %s", signal)
		}
	}
}

var heading = regexp.MustCompile(`(?m)^#{2,4} (.+)$`)

// runbookAnchors are the GitHub-style anchors of docs/runbook.md's headings.
func runbookAnchors(tb testing.TB) map[string]bool {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(tb), "docs", "runbook.md"))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]bool{}
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	for _, m := range heading.FindAllStringSubmatch(string(b), -1) {
		a := drop.ReplaceAllString(strings.ToLower(m[1]), "")
		out[strings.ReplaceAll(a, " ", "-")] = true
	}
	return out
}

// TestPromtoolChecksAndUnitTestsRules runs Prometheus' own rule checker
// and the alert unit tests (Debian/Ubuntu: apt-get install prometheus).
func TestPromtoolChecksAndUnitTestsRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is needed to check the alert rules (apt-get install prometheus; .ci/run installs it)")
	}
	for _, args := range [][]string{{"check", "rules", ruleFile}, {"test", "rules", ruleTests}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = deployDir(t)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			continue
		}
		t.Logf("promtool %s: %s", strings.Join(args, " "), bytes.TrimSpace(out))
	}
}

// TestPrometheusRuleMatchesRuleFile keeps the PrometheusRule resource equal
// to the rule file; -update rewrites it.
func TestPrometheusRuleMatchesRuleFile(t *testing.T) {
	want := monitoringv1.PrometheusRule{Spec: readRules(t)}
	want.APIVersion = monitoringv1.SchemeGroupVersion.String()
	want.Kind = monitoringv1.PrometheusRuleKind
	want.Name = "strangler"
	want.Labels = map[string]string{"app.kubernetes.io/name": "strangler"}
	path := filepath.Join(deployDir(t), prometheusRule)
	if *update {
		b, err := sigsyaml.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		head := "# Generated from deploy/" + ruleFile + " by\n" +
			"#   go test ./deploy -run TestPrometheusRuleMatchesRuleFile -update\n# Edit the rule file, not this one.\n"
		if err := os.WriteFile(path, append([]byte(head), b...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var got monitoringv1.PrometheusRule
	decodeStrict(t, readDocs(t, prometheusRule)[0], &got)
	if !reflect.DeepEqual(roundTrip(t, got), roundTrip(t, want)) {
		t.Errorf("%s differs from %s: run go test ./deploy -run TestPrometheusRuleMatchesRuleFile -update", prometheusRule, ruleFile)
	}
}
