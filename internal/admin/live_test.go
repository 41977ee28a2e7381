package admin

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestLiveFiguresFromTheMetrics: requests/s, error rate and p99 per side,
// mismatch rate and drift come from this replica's own metrics, over the
// samples of the last window.
func TestLiveFiguresFromTheMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	labels := []string{"route", "target", "method", "status_class"}
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strangler_requests_total"}, labels)
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "strangler_request_duration_seconds",
		Buckets: []float64{.01, .1, 1}}, labels)
	cmp := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "strangler_shadow_comparisons_total"}, []string{"route", "procedure", "outcome"})
	lag := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "strangler_dualwrite_relay_lag_seconds"}, []string{"group"})
	reg.MustRegister(reqs, dur, cmp, lag)
	now := time.Unix(1000, 0)
	l := newLiveStats(reg, func() time.Time { return now })
	if live, secs := l.figures(nil); secs != 0 || len(live) != 0 {
		t.Fatalf("one sample gives figures: %v %v", live, secs)
	}
	// Two seconds: legacy answers 10 requests (1 failing, one slow), new 4.
	for i := 0; i < 10; i++ {
		class, d := "2xx", 0.005
		if i == 0 {
			class = "5xx"
		}
		if i == 9 {
			d = 0.5
		}
		reqs.WithLabelValues("getAll", "legacy", "GET", class).Inc()
		dur.WithLabelValues("getAll", "legacy", "GET", class).Observe(d)
	}
	for i := 0; i < 4; i++ {
		reqs.WithLabelValues("getAll", "service:samples", "GET", "2xx").Inc()
		dur.WithLabelValues("getAll", "service:samples", "GET", "2xx").Observe(0.05)
	}
	cmp.WithLabelValues("getAll", "getAll", "match").Add(3)
	cmp.WithLabelValues("getAll", "getAll", "mismatch").Add(1)
	cmp.WithLabelValues("getAll", "getAll", "skipped").Add(9)
	lag.WithLabelValues("samples").Set(1.5)
	now = now.Add(2 * time.Second)
	live, secs := l.figures(map[string]string{"getAll": "samples"})
	g := live["getAll"]
	if secs != 2 || g.Legacy.RPS != 5 || g.New.RPS != 2 || *g.Legacy.ErrorRate != 0.1 || *g.New.ErrorRate != 0 {
		t.Fatalf("figures over %vs: %+v", secs, g)
	}
	if p := *g.Legacy.P99; p < 0.1 || p > 1 {
		t.Errorf("legacy p99 %v, want within the slow request's bucket (0.1, 1]", p)
	}
	if p := *g.New.P99; p < 0.01 || p > 0.1 {
		t.Errorf("new p99 %v", p)
	}
	if g.Compared != 4 || *g.MismatchRate != 0.25 || g.Drift == nil || g.Drift.LagSeconds != 1.5 {
		t.Errorf("comparisons and drift: %+v %+v", g, g.Drift)
	}
	// Nothing more: the rates fall to zero once the window has moved on.
	for i := 0; i < 7; i++ {
		now = now.Add(time.Second)
		live, _ = l.figures(nil)
	}
	if g := live["getAll"]; g.Legacy.RPS != 0 || g.Legacy.ErrorRate != nil {
		t.Errorf("after the window: %+v", g)
	}
}

func TestQuantileInterpolatesWithinTheBucket(t *testing.T) {
	bounds := []float64{1, 2, 4}
	if q := *quantile(0.5, bounds, []float64{0, 10, 10}, 10); math.Abs(q-1.5) > 1e-9 {
		t.Errorf("median %v, want 1.5", q)
	}
	if q := *quantile(0.99, bounds, []float64{5, 5, 5}, 10); q != 4 {
		t.Errorf("in +Inf: %v, want the last bound", q)
	}
}
