package deploy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metricsql"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricUse is one metric selector of a PromQL expression.
type metricUse struct {
	name string
	// labels are the label names its matchers test.
	labels []string
	// funcs are the enclosing functions, innermost first.
	funcs []string
}

// rangeFuncs take a range vector: PromQL refuses them without [window]
// (MetricsQL, the parser used here, would accept it).
var rangeFuncs = map[string]bool{"rate": true, "irate": true, "increase": true, "delta": true,
	"idelta": true, "deriv": true, "changes": true, "resets": true, "avg_over_time": true,
	"max_over_time": true, "min_over_time": true, "sum_over_time": true, "count_over_time": true,
	"last_over_time": true, "quantile_over_time": true}

// grafanaVars are Grafana's built-in interval variables, replaced by a
// duration before parsing; every other $variable is a label regex.
var (
	grafanaVars = strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$__range", "1h")
	userVar     = regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`)
)

// parsePromQL returns the metric selectors of expr (Grafana variables
// allowed).
func parsePromQL(expr string) ([]metricUse, error) {
	q := userVar.ReplaceAllString(grafanaVars.Replace(expr), ".*")
	e, err := metricsql.Parse(q)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", expr, err)
	}
	var uses []metricUse
	var walk func(e metricsql.Expr, funcs []string) error
	walk = func(e metricsql.Expr, funcs []string) error {
		switch x := e.(type) {
		case *metricsql.MetricExpr:
			uses = append(uses, selectorUse(x, funcs))
		case *metricsql.RollupExpr:
			return walk(x.Expr, funcs)
		case *metricsql.FuncExpr:
			inner := append([]string{x.Name}, funcs...)
			for _, a := range x.Args {
				if r, ok := a.(*metricsql.RollupExpr); rangeFuncs[x.Name] && (!ok || r.Window == nil) {
					return fmt.Errorf("%s needs a range vector ([window]) in %q", x.Name, expr)
				}
				if err := walk(a, inner); err != nil {
					return err
				}
			}
		case *metricsql.AggrFuncExpr:
			for _, a := range x.Args {
				if err := walk(a, append([]string{x.Name}, funcs...)); err != nil {
					return err
				}
			}
		case *metricsql.BinaryOpExpr:
			if err := walk(x.Left, funcs); err != nil {
				return err
			}
			return walk(x.Right, funcs)
		}
		return nil
	}
	return uses, walk(e, nil)
}

func selectorUse(m *metricsql.MetricExpr, funcs []string) metricUse {
	u := metricUse{funcs: funcs}
	for _, group := range m.LabelFilterss {
		for _, f := range group {
			if f.Label == "__name__" {
				u.name = f.Value
			} else if !slices.Contains(u.labels, f.Label) {
				u.labels = append(u.labels, f.Label)
			}
		}
	}
	return u
}

// scraped is a /metrics exposition by family name.
type scraped map[string]*dto.MetricFamily

// scrapeLabels are added by Prometheus or by Kubernetes service discovery
// relabelling, never by the proxy.
var scrapeLabels = map[string]bool{"instance": true, "job": true, "pod": true, "namespace": true}

// check says what is wrong with one use of a metric against the scrape:
// the name must be a family (or a histogram's _bucket/_sum/_count, or a
// summary's _sum/_count), its matchers must name labels the family has,
// rates apply to counters only, and histogram_quantile to buckets.
func (s scraped) check(u metricUse) error {
	fam, series := s.family(u.name)
	if fam == nil {
		return fmt.Errorf("%s is not exported", u.name)
	}
	have := map[string]bool{}
	for _, m := range fam.Metric {
		for _, lp := range m.Label {
			have[lp.GetName()] = true
		}
	}
	if series == "_bucket" {
		have["le"] = true
	}
	for _, l := range u.labels {
		if !have[l] && !scrapeLabels[l] {
			return fmt.Errorf("%s has no label %s (it has %v)", u.name, l, keys(have))
		}
	}
	typ := fam.GetType()
	rated := slices.ContainsFunc(u.funcs, func(f string) bool { return f == "rate" || f == "irate" || f == "increase" })
	counterLike := typ == dto.MetricType_COUNTER || series != ""
	if rated && !counterLike {
		return fmt.Errorf("%s is a %s: rate and increase apply to counters", u.name, typ)
	}
	if series == "_bucket" && !slices.Contains(u.funcs, "histogram_quantile") {
		return fmt.Errorf("%s is read outside histogram_quantile", u.name)
	}
	return nil
}

// family finds the family a series name belongs to, and which of a
// histogram's or summary's series it is ("" for the family itself).
func (s scraped) family(name string) (*dto.MetricFamily, string) {
	if f, ok := s[name]; ok && f.GetType() != dto.MetricType_HISTOGRAM {
		return f, ""
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		f := s[base]
		switch {
		case f == nil:
		case f.GetType() == dto.MetricType_HISTOGRAM:
			return f, suffix
		case f.GetType() == dto.MetricType_SUMMARY && suffix != "_bucket":
			return f, suffix
		}
	}
	return nil, ""
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestMetricCheckCatchesMistakes proves the live check refuses what it
// should, on a small exposition.
func TestMetricCheckCatchesMistakes(t *testing.T) {
	const text = `# TYPE x_requests_total counter
x_requests_total{route="a",status_class="2xx"} 1
# TYPE x_in_flight gauge
x_in_flight 2
# TYPE x_duration_seconds histogram
x_duration_seconds_bucket{route="a",le="+Inf"} 1
x_duration_seconds_sum{route="a"} 1
x_duration_seconds_count{route="a"} 1
`
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	s := scraped(fams)
	cases := map[string]bool{
		`sum by (route) (rate(x_requests_total{status_class="5xx", instance=~"$instance"}[$__rate_interval]))`: true,
		`histogram_quantile(0.99, sum by (le) (rate(x_duration_seconds_bucket[5m])))`:                          true,
		`rate(x_duration_seconds_count[5m])`:                                                                   true,
		`x_in_flight`:                                                                                          true,
		`rate(x_request_total[5m])`:                                                                            false, // misspelt
		`rate(x_requests_total{status="5xx"}[5m])`:                                                             false, // no such label
		`rate(x_in_flight[5m])`:                                                                                false, // a gauge
		`sum(rate(x_duration_seconds_bucket[5m]))`:                                                             false, // buckets alone
		`x_duration_seconds`:                                                                                   false, // a histogram's bare name
		`x_requests_total_count`:                                                                               false, // no such series
	}
	for expr, ok := range cases {
		uses, err := parsePromQL(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		var bad error
		for _, u := range uses {
			if err := s.check(u); err != nil {
				bad = err
			}
		}
		if (bad == nil) != ok {
			t.Errorf("%s: accepted %v, want %v (%v)", expr, bad == nil, ok, bad)
		}
	}
	if _, err := parsePromQL(`rate(x_requests_total)`); err == nil {
		t.Error("rate without a range was accepted")
	}
}
