package config

import (
	"fmt"
	"net/url"
	"path"
	"time"
)

// Guard configures automatic rollback (package guard): what each replica
// counts and how often it shares it through the database, the trip
// thresholds of every route, the errors that are normal answers, the
// circuit breaker of each new target and an optional webhook.
type Guard struct {
	// Enabled lets the guard roll routes back. Off, it still counts and
	// breakers still protect requests, but nothing is rolled back.
	Enabled bool `mapstructure:"enabled"`
	// FlushInterval is how often a replica adds its counts to
	// strangler.guard_samples.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// EvaluateInterval is how often a replica sums the windows of every
	// replica and decides.
	EvaluateInterval time.Duration `mapstructure:"evaluate_interval"`
	// Retention is how long sample rows are kept; at least the longest window.
	Retention time.Duration `mapstructure:"retention"`
	// Defaults guard every route that is not in legacy mode.
	Defaults GuardRule `mapstructure:"defaults"`
	// Routes override the defaults for the routes whose id matches Route (a
	// glob); the first match wins. Setting this key replaces the shipped list.
	Routes []GuardOverride `mapstructure:"routes"`
	// NormalErrors are tRPC errors the contract makes normal answers: they
	// never count as failures. Setting this key replaces the shipped list.
	NormalErrors []NormalError `mapstructure:"normal_errors"`
	Breaker      GuardBreaker  `mapstructure:"breaker"`
	Webhook      GuardWebhook  `mapstructure:"webhook"`
}

// GuardRule is the trip thresholds of one route. A zero threshold switches
// its signal off.
type GuardRule struct {
	// Window is how far back the counts of every replica are summed (never
	// before the route's flag last changed).
	Window time.Duration `mapstructure:"window"`
	// MinSamples new-side requests are needed before the error rate counts.
	MinSamples int `mapstructure:"min_samples"`
	// ErrorRate trips when the new side's share of failing requests reaches
	// it (HTTP 5xx, connection failures, tRPC entries of status 500 or more
	// that are not normal errors)...
	ErrorRate float64 `mapstructure:"error_rate"`
	// ErrorRateOverLegacy ... and exceeds legacy's share for the same
	// procedures (this window, or the last one legacy served) by this much.
	ErrorRateOverLegacy float64 `mapstructure:"error_rate_over_legacy"`
	// LatencyRatio trips when the new side's p99 reaches this multiple of
	// legacy's p99 for the route...
	LatencyRatio float64 `mapstructure:"latency_ratio"`
	// LatencyMin ... and is at least this long...
	LatencyMin time.Duration `mapstructure:"latency_min"`
	// LatencyMinSamples ... over at least this many new-side requests.
	LatencyMinSamples int `mapstructure:"latency_min_samples"`
	// MismatchRate trips when this share of shadow comparisons mismatch
	// (accepted differences and noise are not mismatches)...
	MismatchRate float64 `mapstructure:"mismatch_rate"`
	// MismatchMinSamples ... over at least this many comparisons.
	MismatchMinSamples int `mapstructure:"mismatch_min_samples"`
	// HealthFailures consecutive failed health checks of the new target trip.
	HealthFailures int `mapstructure:"health_failures"`
	// BreakerOpen trips as soon as the new target's breaker opens (after the
	// route's flag last changed).
	BreakerOpen bool `mapstructure:"breaker_open"`
	// BreakerProbeFailures consecutive failing half-open probes trip.
	BreakerProbeFailures int `mapstructure:"breaker_probe_failures"`
}

// GuardOverride changes some thresholds of the routes matching Route. A
// field left out keeps the default.
type GuardOverride struct {
	// Route is a route id glob ("nanopore.*").
	Route string `mapstructure:"route"`
	// Off leaves these routes unguarded.
	Off bool `mapstructure:"off"`

	Window               *time.Duration `mapstructure:"window"`
	MinSamples           *int           `mapstructure:"min_samples"`
	ErrorRate            *float64       `mapstructure:"error_rate"`
	ErrorRateOverLegacy  *float64       `mapstructure:"error_rate_over_legacy"`
	LatencyRatio         *float64       `mapstructure:"latency_ratio"`
	LatencyMin           *time.Duration `mapstructure:"latency_min"`
	LatencyMinSamples    *int           `mapstructure:"latency_min_samples"`
	MismatchRate         *float64       `mapstructure:"mismatch_rate"`
	MismatchMinSamples   *int           `mapstructure:"mismatch_min_samples"`
	HealthFailures       *int           `mapstructure:"health_failures"`
	BreakerOpen          *bool          `mapstructure:"breaker_open"`
	BreakerProbeFailures *int           `mapstructure:"breaker_probe_failures"`
}

// Apply returns r with the override's fields set.
func (o GuardOverride) Apply(r GuardRule) GuardRule {
	overrideField(&r.Window, o.Window)
	overrideField(&r.MinSamples, o.MinSamples)
	overrideField(&r.ErrorRate, o.ErrorRate)
	overrideField(&r.ErrorRateOverLegacy, o.ErrorRateOverLegacy)
	overrideField(&r.LatencyRatio, o.LatencyRatio)
	overrideField(&r.LatencyMin, o.LatencyMin)
	overrideField(&r.LatencyMinSamples, o.LatencyMinSamples)
	overrideField(&r.MismatchRate, o.MismatchRate)
	overrideField(&r.MismatchMinSamples, o.MismatchMinSamples)
	overrideField(&r.HealthFailures, o.HealthFailures)
	overrideField(&r.BreakerOpen, o.BreakerOpen)
	overrideField(&r.BreakerProbeFailures, o.BreakerProbeFailures)
	return r
}

func overrideField[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// NormalError declares error messages that are normal answers of the
// procedures matching Procedure (a glob), on one side or both.
type NormalError struct {
	Procedure string   `mapstructure:"procedure"`
	Messages  []string `mapstructure:"messages"`
	// Side is legacy, new, or empty for both.
	Side   string `mapstructure:"side"`
	Reason string `mapstructure:"reason"`
}

// GuardBreaker configures the circuit breaker of each new target. It counts
// the new side's answers on this replica; open, safe requests go to legacy.
type GuardBreaker struct {
	// ConsecutiveFailures open the breaker...
	ConsecutiveFailures int `mapstructure:"consecutive_failures"`
	// FailureRatio ... as does this share of failures over at least
	// MinRequests requests within Interval (a rolling window).
	FailureRatio float64       `mapstructure:"failure_ratio"`
	MinRequests  int           `mapstructure:"min_requests"`
	Interval     time.Duration `mapstructure:"interval"`
	// OpenTimeout is how long it stays open before letting probes through.
	OpenTimeout time.Duration `mapstructure:"open_timeout"`
	// HalfOpenRequests probes must succeed to close it again.
	HalfOpenRequests int `mapstructure:"half_open_requests"`
}

// GuardWebhook is called (POST, JSON) after each automatic rollback, off the
// hot path. Empty URL: no call.
type GuardWebhook struct {
	URL     string        `mapstructure:"url"`
	Timeout time.Duration `mapstructure:"timeout"`
	// Retries after the first attempt, on network errors, 429 and 5xx.
	Retries int           `mapstructure:"retries"`
	Backoff time.Duration `mapstructure:"backoff"`
}

// DefaultGuard guards every route: a new side failing every request at 10
// requests/s is rolled back within 30 s (10 failures take one second, the
// counts reach the database within a flush and the next evaluation trips),
// and a handful of requests never trips anything.
func DefaultGuard() Guard {
	return Guard{
		Enabled:       true,
		FlushInterval: time.Second, EvaluateInterval: time.Second, Retention: 10 * time.Minute,
		Defaults: GuardRule{
			Window: 30 * time.Second, MinSamples: 10, ErrorRate: 0.25, ErrorRateOverLegacy: 0.10,
			LatencyRatio: 4, LatencyMin: 500 * time.Millisecond, LatencyMinSamples: 50,
			MismatchRate: 0.25, MismatchMinSamples: 20,
			HealthFailures: 3, BreakerProbeFailures: 3,
		},
		Routes:       []GuardOverride{},
		NormalErrors: defaultNormalErrors(),
		Breaker: GuardBreaker{ConsecutiveFailures: 10, FailureRatio: 0.5, MinRequests: 20,
			Interval: 10 * time.Second, OpenTimeout: 5 * time.Second, HalfOpenRequests: 1},
		Webhook: GuardWebhook{Timeout: 5 * time.Second, Retries: 3, Backoff: time.Second},
	}
}

// defaultNormalErrors are the contract's 500s that answer a request well.
func defaultNormalErrors() []NormalError {
	return []NormalError{
		{Procedure: "nanopore.*", Messages: []string{"Sample not found"},
			Reason: "contract 4.4-4.6: an unknown sample id answers 500 Sample not found"},
		{Procedure: "nanopore.*ProcessingStep*", Messages: []string{"Step not found"},
			Reason: "samples service: an unknown step id answers 500 Step not found"},
		{Procedure: "nanopore.*ProcessingStep*", Side: "legacy", Messages: []string{"timer.done is not a function"},
			Reason: "contract 4.8: legacy's step procedures always fail; the Go service fixes them, so these failures are no baseline"},
	}
}

// Problems checks the guard section; keys are prefixed "guard.".
func (g *Guard) Problems() Problems {
	var ps Problems
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: "guard." + key, Reason: fmt.Sprintf(format, args...)})
	}
	for key, d := range map[string]time.Duration{"flush_interval": g.FlushInterval,
		"evaluate_interval": g.EvaluateInterval, "retention": g.Retention,
		"breaker.interval": g.Breaker.Interval, "breaker.open_timeout": g.Breaker.OpenTimeout} {
		if d <= 0 {
			add(key, "must be a positive duration, got %s", d)
		}
	}
	ps = append(ps, g.Defaults.problems("guard.defaults", g.Retention)...)
	for i, o := range g.Routes {
		key := fmt.Sprintf("guard.routes[%d]", i)
		if _, err := path.Match(o.Route, ""); err != nil || o.Route == "" {
			ps = append(ps, Problem{Key: key + ".route", Reason: fmt.Sprintf("must be a route id glob, got %q", o.Route)})
		}
		ps = append(ps, o.Apply(g.Defaults).problems(key, g.Retention)...)
	}
	for i, n := range g.NormalErrors {
		key := fmt.Sprintf("normal_errors[%d]", i)
		if _, err := path.Match(n.Procedure, ""); err != nil || n.Procedure == "" {
			add(key+".procedure", "must be a procedure glob, got %q", n.Procedure)
		}
		if len(n.Messages) == 0 {
			add(key+".messages", "list at least one error message")
		}
		if n.Side != "" && n.Side != "legacy" && n.Side != "new" {
			add(key+".side", "must be legacy, new or empty (both), got %q", n.Side)
		}
	}
	ps = append(ps, g.Breaker.problems()...)
	if w := g.Webhook; w.URL != "" {
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("webhook.url", "must be an http(s) URL, got %q", w.URL)
		}
		if w.Timeout <= 0 || w.Retries < 0 || w.Backoff < 0 {
			add("webhook", "timeout must be positive, retries and backoff not negative")
		}
	}
	return ps
}

func (r GuardRule) problems(key string, retention time.Duration) Problems {
	var ps Problems
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Key: key + "." + field, Reason: fmt.Sprintf(format, args...)})
	}
	if r.Window <= 0 || r.Window > retention {
		add("window", "must be a positive duration no longer than guard.retention (%s), got %s", retention, r.Window)
	}
	for field, f := range map[string]float64{"error_rate": r.ErrorRate, "error_rate_over_legacy": r.ErrorRateOverLegacy,
		"mismatch_rate": r.MismatchRate} {
		if f < 0 || f > 1 {
			add(field, "must be a share from 0 to 1, got %g", f)
		}
	}
	for field, n := range map[string]int{"min_samples": r.MinSamples, "latency_min_samples": r.LatencyMinSamples,
		"mismatch_min_samples": r.MismatchMinSamples} {
		if n < 1 {
			add(field, "must be at least 1 (a handful of requests must never trip a route), got %d", n)
		}
	}
	for field, n := range map[string]int{"health_failures": r.HealthFailures, "breaker_probe_failures": r.BreakerProbeFailures} {
		if n < 0 {
			add(field, "must not be negative (0 switches the signal off), got %d", n)
		}
	}
	if r.LatencyRatio != 0 && r.LatencyRatio < 1 {
		add("latency_ratio", "must be at least 1 (or 0: off), got %g", r.LatencyRatio)
	}
	if r.LatencyMin < 0 {
		add("latency_min", "must not be negative, got %s", r.LatencyMin)
	}
	return ps
}

func (b GuardBreaker) problems() Problems {
	var ps Problems
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Key: "guard.breaker." + field, Reason: fmt.Sprintf(format, args...)})
	}
	if b.ConsecutiveFailures < 1 {
		add("consecutive_failures", "must be at least 1, got %d", b.ConsecutiveFailures)
	}
	if b.FailureRatio <= 0 || b.FailureRatio > 1 {
		add("failure_ratio", "must be a share above 0 and at most 1, got %g", b.FailureRatio)
	}
	if b.MinRequests < 1 {
		add("min_requests", "must be at least 1, got %d", b.MinRequests)
	}
	if b.HalfOpenRequests < 1 {
		add("half_open_requests", "must be at least 1, got %d", b.HalfOpenRequests)
	}
	return ps
}

// Rule returns the thresholds of a route and whether it is guarded.
func (g *Guard) Rule(route string) (GuardRule, bool) {
	for _, o := range g.Routes {
		if ok, _ := path.Match(o.Route, route); ok {
			return o.Apply(g.Defaults), !o.Off
		}
	}
	return g.Defaults, true
}
