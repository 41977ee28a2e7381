package guard

import (
	"fmt"
	"time"

	"github.com/nanopore/strangler/internal/config"
)

// verdict is one signal measured on one route; trip says it crossed its
// threshold with enough samples.
type verdict struct {
	signal           string
	value, threshold float64
	window           time.Duration
	samples          int64
	detail           string
	trip             bool
}

// legacyRate is legacy's error rate for one procedure: from this window
// when legacy served enough of it, else the last recorded baseline, else 0.
func legacyRate(min int, c *counts, b baseline, known bool) (float64, string) {
	switch {
	case c != nil && c.requests >= int64(min):
		return float64(c.failures) / float64(c.requests), "this window"
	case known && b.requests > 0:
		return float64(b.failures) / float64(b.requests), "baseline of " + b.at.UTC().Format(time.RFC3339)
	}
	return 0, "no legacy measure"
}

// errorRate compares the new side's failure share with legacy's for the
// same procedures, weighted by the new side's mix of procedures.
func errorRate(r config.GuardRule, w *window, base map[string]baseline) (verdict, bool) {
	var n, f int64
	var expected float64
	source := ""
	for proc, c := range w.new {
		b, known := base[proc]
		rate, src := legacyRate(r.MinSamples, w.legacy[proc], b, known)
		n += c.requests
		f += c.failures
		expected += float64(c.requests) * rate
		if source == "" || src == "this window" {
			source = src
		}
	}
	if n == 0 {
		return verdict{}, false
	}
	rate, legacy := float64(f)/float64(n), expected/float64(n)
	v := verdict{signal: SignalErrorRate, value: rate, threshold: max(r.ErrorRate, legacy+r.ErrorRateOverLegacy),
		window: w.span(), samples: n,
		detail: fmt.Sprintf("new side: %d failures in %d requests; legacy's rate for the same procedures: %.3f (%s)",
			f, n, legacy, source)}
	v.trip = r.ErrorRate > 0 && n >= int64(r.MinSamples) && rate >= v.threshold
	return v, true
}

// latency compares the new side's p99 with legacy's for the route.
func latency(r config.GuardRule, w *window, base map[string]baseline) (verdict, bool) {
	var nc, lc counts
	for _, c := range w.new {
		nc.add(c)
	}
	for _, c := range w.legacy {
		lc.add(c)
	}
	np99, ok := nc.p99()
	if !ok {
		return verdict{}, false
	}
	lp99, source := time.Duration(0), ""
	if p, ok := lc.p99(); ok && lc.requests >= int64(r.LatencyMinSamples) {
		lp99, source = p, "this window"
	} else if b, ok := base[""]; ok && b.p99 > 0 {
		lp99, source = b.p99, "baseline of "+b.at.UTC().Format(time.RFC3339)
	}
	if lp99 == 0 {
		return verdict{}, false
	}
	ratio := float64(np99) / float64(lp99)
	v := verdict{signal: SignalLatency, value: ratio, threshold: r.LatencyRatio, window: w.span(), samples: nc.requests,
		detail: fmt.Sprintf("new side p99 %s over %d requests; legacy p99 %s (%s)", np99, nc.requests, lp99, source)}
	v.trip = r.LatencyRatio > 0 && nc.requests >= int64(r.LatencyMinSamples) && ratio >= r.LatencyRatio && np99 >= r.LatencyMin
	return v, true
}

// mismatch is the share of the route's shadow comparisons that mismatched.
func mismatch(r config.GuardRule, w *window) (verdict, bool) {
	c := &w.shadow
	if c.compared == 0 {
		return verdict{}, false
	}
	rate := float64(c.mismatched) / float64(c.compared)
	v := verdict{signal: SignalMismatch, value: rate, threshold: r.MismatchRate, window: w.span(), samples: c.compared,
		detail: fmt.Sprintf("%d mismatches in %d comparisons (accepted differences and noise are not mismatches)", c.mismatched, c.compared)}
	v.trip = r.MismatchRate > 0 && c.compared >= int64(r.MismatchMinSamples) && rate >= r.MismatchRate
	return v, true
}

// health trips on consecutive failed health checks of the new target.
func health(r config.GuardRule, target string, failures int) verdict {
	return verdict{signal: SignalHealth, value: float64(failures), threshold: float64(r.HealthFailures),
		samples: int64(failures), trip: r.HealthFailures > 0 && failures >= r.HealthFailures,
		detail: fmt.Sprintf("%d consecutive failed health checks of %s", failures, target)}
}

// breakerSignals trip on the new target's breaker: open (when configured)
// or failing its half-open probes, counting only what happened after the
// route's flag last changed, so that a person's flip starts afresh.
func breakerSignals(r config.GuardRule, st BreakerStatus, since time.Time) []verdict {
	var out []verdict
	if r.BreakerOpen && st.State == BreakerOpen && !st.OpenedAt.Before(since) {
		out = append(out, verdict{signal: SignalBreakerOpen, value: 1, threshold: 1, samples: 1, trip: true,
			detail: fmt.Sprintf("circuit breaker of %s opened at %s", st.Target, st.OpenedAt.UTC().Format(time.RFC3339Nano))})
	}
	if n := r.BreakerProbeFailures; n > 0 && st.ProbeFailures >= n && !st.LastProbeFailure.Before(since) {
		out = append(out, verdict{signal: SignalBreakerProbes, value: float64(st.ProbeFailures), threshold: float64(n),
			samples: int64(st.ProbeFailures), trip: true,
			detail: fmt.Sprintf("%d half-open probes of %s failed in a row", st.ProbeFailures, st.Target)})
	}
	return out
}

// span is the window's length in whole seconds.
func (w *window) span() time.Duration {
	return time.Duration(w.until-w.since+1) * time.Second
}
