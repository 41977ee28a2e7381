package guard

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nanopore/strangler/internal/config"
)

// wantOneEvent checks that exactly one event is recorded, with signal, and
// that the route is back on legacy with a history entry by the guard.
func wantOneEvent(t *testing.T, e *env, route, signal string) Event {
	t.Helper()
	evs := e.events()
	if len(evs) != 1 || evs[0].Route != route || evs[0].Signal != signal {
		t.Fatalf("events: %+v, want one %s on %s", evs, signal, route)
	}
	if m := e.mode(route); m != "legacy" {
		t.Fatalf("%s is %s after the trip", route, m)
	}
	h, err := e.flags.History(context.Background(), route, 1)
	if err != nil || len(h) != 1 || h[0].Source != "guard" || !strings.Contains(h[0].Reason, signal) {
		t.Fatalf("history of %s: %+v %v", route, h, err)
	}
	return evs[0]
}

func TestTripsOnEachSignal(t *testing.T) {
	t.Parallel()
	var healthFailures atomic.Int64 // of files.list's target
	cases := []struct {
		name, route, mode, signal string
		opt                       func(*Options, *config.Guard)
		feed                      func(t *testing.T, g *Guard)
		value, threshold          float64
	}{
		{name: "error rate", route: "nanopore.getAll", mode: "new", signal: SignalErrorRate, value: 1, threshold: 0.25,
			feed: func(t *testing.T, g *Guard) {
				observe(g, "nanopore.getAll", SideNew, OutcomeFailure, time.Millisecond, 10)
			}},
		{name: "p99 latency against legacy", route: "nanopore.getAll", mode: "shadow", signal: SignalLatency, value: 200, threshold: 4,
			feed: func(t *testing.T, g *Guard) {
				observe(g, "nanopore.getAll", SideLegacy, OutcomeOK, 9*time.Millisecond, 60)
				observe(g, "nanopore.getAll", SideNew, OutcomeOK, 1900*time.Millisecond, 60)
			}},
		{name: "shadow mismatch rate", route: "nanopore.getAll", mode: "shadow", signal: SignalMismatch, value: 0.4, threshold: 0.25,
			feed: func(t *testing.T, g *Guard) {
				for range 5 {
					g.ObserveComparison("nanopore.getAll", "mismatch")
				}
				for _, o := range []string{"mismatch", "accepted", "noise", "match", "skipped", "error"} {
					for range 5 {
						g.ObserveComparison("nanopore.getAll", o)
					}
				}
			}},
		{name: "consecutive health failures", route: "files.list", mode: "canary", signal: SignalHealth, value: 3, threshold: 3,
			opt: func(o *Options, _ *config.Guard) {
				o.Health = func(target string) (int, bool) {
					if target == "https://files.internal" {
						return int(healthFailures.Load()), true
					}
					return 0, true
				}
			},
			feed: func(t *testing.T, g *Guard) { healthFailures.Store(3) }},
		{name: "failing half-open probes", route: "files.list", mode: "new", signal: SignalBreakerProbes, value: 3, threshold: 3,
			opt:  func(_ *Options, c *config.Guard) { c.Breaker.OpenTimeout = 20 * time.Millisecond },
			feed: func(t *testing.T, g *Guard) { failProbes(t, g, "https://files.internal", 3) }},
		{name: "open breaker", route: "files.list", mode: "new", signal: SignalBreakerOpen, value: 1, threshold: 1,
			opt: func(_ *Options, c *config.Guard) {
				on := true
				c.Routes = []config.GuardOverride{{Route: "files.*", BreakerOpen: &on}}
			},
			feed: func(t *testing.T, g *Guard) { failProbes(t, g, "https://files.internal", 0) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.flip(tc.route, tc.mode)
			g := e.guard(tc.opt)
			if evs := evaluate(t, g); len(evs) != 0 {
				t.Fatalf("tripped before any sample: %+v", evs)
			}
			if tc.feed != nil {
				tc.feed(t, g)
			}
			evs := evaluate(t, g)
			if len(evs) != 1 {
				t.Fatalf("trips: %+v", evs)
			}
			ev := wantOneEvent(t, e, tc.route, tc.signal)
			if ev.Value != tc.value || ev.Threshold != tc.threshold || ev.Replica != "r1" || !ev.At.Equal(e.clock.Now()) {
				t.Fatalf("event %+v: want value %g, threshold %g at %s", ev, tc.value, tc.threshold, e.clock.Now())
			}
			if n := testutil.ToFloat64(g.metrics.trips.WithLabelValues(tc.route, tc.signal)); n != 1 {
				t.Fatalf("strangler_guard_trips_total = %v", n)
			}
		})
	}
}

// failProbes opens target's breaker (10 failures in a row), then fails n
// half-open probes, waiting for the breaker's own timer, never sleeping.
func failProbes(t *testing.T, g *Guard, target string, n int) {
	t.Helper()
	for range 10 {
		report(t, g.breakers, target, OutcomeFailure)
	}
	for range n {
		waitState(t, g.breakers, target, BreakerHalfOpen)
		report(t, g.breakers, target, OutcomeFailure)
	}
}

// TestMinimumSamples: a handful of failures never trips a route.
func TestMinimumSamples(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.flip("nanopore.getAll", "shadow")
	g := e.guard(nil)
	observe(g, "nanopore.getAll", SideNew, OutcomeFailure, 2*time.Second, 9)
	observe(g, "nanopore.getAll", SideLegacy, OutcomeOK, time.Millisecond, 49)
	for range 19 {
		g.ObserveComparison("nanopore.getAll", "mismatch")
	}
	if evs := evaluate(t, g); len(evs) != 0 {
		t.Fatalf("9 failures, 19 mismatches, 9 slow answers tripped: %+v", evs)
	}
	observe(g, "nanopore.getAll", SideNew, OutcomeFailure, 2*time.Second, 1)
	evs := evaluate(t, g)
	if len(evs) != 1 || evs[0].Signal != SignalErrorRate || evs[0].Samples != 10 {
		t.Fatalf("the 10th failure: %+v", evs)
	}
}

// TestErrorsLegacyAlsoGives: the new side failing where legacy fails as
// much, or with the contract's normal errors, is not rolled back; legacy's
// rate is remembered for when legacy no longer serves the route.
func TestErrorsLegacyAlsoGives(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.flip("nanopore.update", "shadow")
	g := e.guard(nil)
	// A normal answer of the contract, all of them.
	observe(g, "nanopore.update", SideNew, OutcomeNormalError, time.Millisecond, 50)
	observe(g, "nanopore.update", SideLegacy, OutcomeNormalError, time.Millisecond, 50)
	if evs := evaluate(t, g); len(evs) != 0 {
		t.Fatalf("normal errors tripped: %+v", evs)
	}
	// Both sides fail 30% (a shared database in trouble).
	e.clock.Advance(time.Minute)
	observe(g, "nanopore.update", SideNew, OutcomeFailure, time.Millisecond, 6)
	observe(g, "nanopore.update", SideNew, OutcomeOK, time.Millisecond, 14)
	observe(g, "nanopore.update", SideLegacy, OutcomeFailure, time.Millisecond, 6)
	observe(g, "nanopore.update", SideLegacy, OutcomeOK, time.Millisecond, 14)
	if evs := evaluate(t, g); len(evs) != 0 {
		t.Fatalf("failing as much as legacy tripped: %+v", evs)
	}
	// Legacy no longer serves it: its recorded rate (30%) is the baseline.
	e.flip("nanopore.update", "new")
	e.clock.Advance(time.Minute)
	g.Evaluate(context.Background()) // sees the flip: counts from the next second on belong to it
	e.clock.Advance(time.Second)
	observe(g, "nanopore.update", SideNew, OutcomeFailure, time.Millisecond, 7)
	observe(g, "nanopore.update", SideNew, OutcomeOK, time.Millisecond, 13)
	if evs := evaluate(t, g); len(evs) != 0 {
		t.Fatalf("35%% against legacy's 30%% baseline tripped: %+v", evs)
	}
	observe(g, "nanopore.update", SideNew, OutcomeFailure, time.Millisecond, 10)
	evs := evaluate(t, g)
	if len(evs) != 1 || evs[0].Signal != SignalErrorRate || !strings.Contains(evs[0].Detail, "baseline of") ||
		evs[0].Threshold < 0.399 || evs[0].Threshold > 0.401 {
		t.Fatalf("57%% against the 30%% baseline: %+v", evs)
	}
	if got := evs[0].RolledBack; !slices.Equal(got, []string{"nanopore.update", "nanopore.create"}) {
		t.Fatalf("rolled back %v, want the whole write group", got)
	}
}

// TestBaselineRecordedBeforeTheFirstFlip: legacy's rate and p99 are
// recorded while the route is still in legacy mode, so the first cutover
// already compares with them.
func TestBaselineRecordedBeforeTheFirstFlip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.guard(nil)
	observe(g, "nanopore.getAll", SideLegacy, OutcomeFailure, 40*time.Millisecond, 20)
	observe(g, "nanopore.getAll", SideLegacy, OutcomeOK, 40*time.Millisecond, 80)
	if evs := evaluate(t, g); len(evs) != 0 {
		t.Fatalf("a legacy route tripped: %+v", evs)
	}
	e.flip("nanopore.getAll", "new")
	e.clock.Advance(time.Minute)
	g.Evaluate(context.Background()) // sees the flip
	e.clock.Advance(time.Second)
	observe(g, "nanopore.getAll", SideNew, OutcomeFailure, 100*time.Millisecond, 6)
	observe(g, "nanopore.getAll", SideNew, OutcomeOK, 100*time.Millisecond, 24)
	if evs := evaluate(t, g); len(evs) != 0 {
		t.Fatalf("failing as often as legacy did tripped: %+v", evs)
	}
	observe(g, "nanopore.getAll", SideNew, OutcomeOK, 2*time.Second, 30)
	evs := evaluate(t, g)
	if len(evs) != 1 || evs[0].Signal != SignalLatency || !strings.Contains(evs[0].Detail, "legacy p99 50ms (baseline of") {
		t.Fatalf("p99 against legacy's recorded 50ms: %+v", evs)
	}
}

// TestThreeReplicasSeeWhatOneWould: three replicas each see 4 failures, too
// few alone; their windows are summed through the database, and exactly
// one of them trips and records it, however many evaluate at once.
func TestThreeReplicasSeeWhatOneWould(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.flip("nanopore.getAll", "new")
	gs := e.guards("a", "b", "c")
	for _, g := range gs {
		observe(g, "nanopore.getAll", SideNew, OutcomeFailure, time.Millisecond, 4)
	}
	if evs := evaluate(t, gs[0]); len(evs) != 0 {
		t.Fatalf("one replica's 4 failures tripped: %+v", evs)
	}
	mustFlush(t, gs[1], gs[2])
	all := evaluateAtOnce(gs)
	if len(all) != 1 || all[0].Samples != 12 || all[0].Value != 1 {
		t.Fatalf("trips across replicas: %+v", all)
	}
	wantOneEvent(t, e, "nanopore.getAll", SignalErrorRate)
}

// evaluateAtOnce runs Evaluate on every guard concurrently.
func evaluateAtOnce(gs []*Guard) []Event {
	out := make(chan []Event, len(gs))
	for _, g := range gs {
		go func() { out <- g.Evaluate(context.Background()) }()
	}
	var all []Event
	for range gs {
		all = append(all, <-out...)
	}
	return all
}

// TestWriteGroupTripsOnce: two mutations of a write group fail on three
// replicas at once; the group is rolled back whole, with one event.
func TestWriteGroupTripsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.flip("samples", "new")
	gs := e.guards("a", "b", "c")
	for _, g := range gs {
		observe(g, "nanopore.update", SideNew, OutcomeFailure, time.Millisecond, 10)
		observe(g, "nanopore.create", SideNew, OutcomeFailure, time.Millisecond, 10)
	}
	mustFlush(t, gs...)
	if all := evaluateAtOnce(gs); len(all) != 1 {
		t.Fatalf("trips: %+v", all)
	}
	evs := e.events()
	if len(evs) != 1 || evs[0].TripKey != "samples" || !slices.Equal(evs[0].RolledBack, []string{"nanopore.update", "nanopore.create"}) {
		t.Fatalf("events: %+v", evs)
	}
	for _, r := range []string{"nanopore.update", "nanopore.create"} {
		h, _ := e.flags.History(context.Background(), r, 10)
		if len(h) != 2 || h[0].Source != "guard" || h[0].After.Mode != "legacy" {
			t.Fatalf("history of %s: %+v", r, h)
		}
	}
}

// TestOnlyAPersonReenables: a tripped route stays on legacy however long
// its failures stay in the window; a person's flip starts afresh (the old
// failures do not trip it again), and new failures trip it again.
func TestOnlyAPersonReenables(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.flip("nanopore.getAll", "new")
	g := e.guard(nil)
	observe(g, "nanopore.getAll", SideNew, OutcomeFailure, time.Millisecond, 20)
	if evs := evaluate(t, g); len(evs) != 1 {
		t.Fatalf("first trip: %+v", evs)
	}
	for range 5 {
		e.clock.Advance(time.Second)
		if evs := evaluate(t, g); len(evs) != 0 || e.mode("nanopore.getAll") != "legacy" {
			t.Fatalf("after the trip: %+v, mode %s", evs, e.mode("nanopore.getAll"))
		}
	}
	e.flip("nanopore.getAll", "new")
	for range 3 {
		e.clock.Advance(time.Second)
		if evs := evaluate(t, g); len(evs) != 0 {
			t.Fatalf("the failures before the person's flip tripped again: %+v", evs)
		}
	}
	observe(g, "nanopore.getAll", SideNew, OutcomeFailure, time.Millisecond, 10)
	evs := evaluate(t, g)
	if len(evs) != 1 || evs[0].Samples != 10 {
		t.Fatalf("new failures after the flip: %+v", evs)
	}
	if all := e.events(); len(all) != 2 || all[0].FlagVersion == all[1].FlagVersion {
		t.Fatalf("two trips, two flag versions: %+v", all)
	}
}

// TestShippedDefaultsRollBackWithin30s: a new side failing every request at
// 10 requests/s, spread over three replicas whose breakers open and send
// safe requests to legacy, is rolled back within 30 s of the first failure
// (read off the recorded event; each replica flushes and evaluates every
// second, as guard.flush_interval and guard.evaluate_interval ship).
func TestShippedDefaultsRollBackWithin30s(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.flip("nanopore.getAll", "new")
	gs := e.guards("a", "b", "c")
	start := e.clock.Now()
	var trip []Event
	for tick := 0; len(trip) == 0 && tick < 600; tick++ {
		g := gs[tick%3]
		if done, allowed := g.Allow("service:samples"); allowed {
			g.Observe("nanopore.getAll", "nanopore.getAll", SideNew, OutcomeFailure, 2*time.Millisecond)
			done(false)
		} else {
			g.Observe("nanopore.getAll", "nanopore.getAll", SideLegacy, OutcomeOK, 2*time.Millisecond)
		}
		e.clock.Advance(100 * time.Millisecond)
		if tick%10 == 9 {
			mustFlush(t, gs...)
			for _, g := range gs {
				trip = append(trip, g.Evaluate(context.Background())...)
			}
		}
	}
	if len(trip) != 1 {
		t.Fatalf("trips: %+v", trip)
	}
	if took := trip[0].At.Sub(start); took > 30*time.Second {
		t.Fatalf("rolled back %s after the first failure, want within 30s", took)
	} else {
		t.Logf("rolled back %s after the first failure (%s %.2f over %d samples)", took, trip[0].Signal, trip[0].Value, trip[0].Samples)
	}
}

// TestNoRouteOutOfLegacyNoWork: routes in legacy mode are not evaluated.
func TestNoRouteOutOfLegacyNoWork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.guard(func(o *Options, _ *config.Guard) {
		o.Health = func(string) (int, bool) { return 100, true }
	})
	observe(g, "nanopore.getAll", SideNew, OutcomeFailure, time.Millisecond, 100)
	if evs := evaluate(t, g); len(evs) != 0 || len(e.events()) != 0 {
		t.Fatalf("a legacy route tripped: %+v", evs)
	}
}
