package guard

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nanopore/strangler/internal/config"
	tu "github.com/nanopore/strangler/internal/testutil"
)

// testBreakers opens after 3 consecutive failures and lets one probe
// through 20 ms after opening (gobreaker reads the wall clock itself; the
// tests wait for its state, they never sleep).
func testBreakers(t *testing.T, reg prometheus.Registerer) *Breakers {
	t.Helper()
	cfg := config.GuardBreaker{ConsecutiveFailures: 3, FailureRatio: 0.5, MinRequests: 100,
		Interval: 10 * time.Second, OpenTimeout: 20 * time.Millisecond, HalfOpenRequests: 1}
	return newBreakers(cfg, time.Now, reg)
}

func report(t *testing.T, b *Breakers, target string, o Outcome) {
	t.Helper()
	done, allowed := b.Allow(target)
	if !allowed {
		t.Fatal("breaker refused a request")
	}
	done(o != OutcomeFailure)
}

func waitState(t *testing.T, b *Breakers, target, state string) {
	t.Helper()
	tu.Eventually(t, 10*time.Second, "breaker "+state, func() bool { return b.Status(target).State == state })
}

func TestBreakerOpensProbesAndCloses(t *testing.T) {
	reg := prometheus.NewRegistry()
	b := testBreakers(t, reg)
	const target = "service:samples"
	for _, o := range []Outcome{OutcomeFailure, OutcomeNormalError, OutcomeFailure, OutcomeFailure} {
		report(t, b, target, o)
	}
	if st := b.Status(target).State; st != BreakerClosed {
		t.Fatalf("a normal error must break the run of failures; state %s", st)
	}
	report(t, b, target, OutcomeFailure)
	st := b.Status(target)
	if st.State != BreakerOpen || st.OpenedAt.IsZero() {
		t.Fatalf("after 3 failures in a row: %+v", st)
	}
	if _, allowed := b.Allow(target); allowed {
		t.Fatal("open breaker allowed a request")
	}
	if v := testutil.ToFloat64(b.state.WithLabelValues(target)); v != 2 {
		t.Fatalf("state gauge %v, want 2 (open)", v)
	}
	for i := 1; i <= 2; i++ {
		waitState(t, b, target, BreakerHalfOpen)
		report(t, b, target, OutcomeFailure)
		if st := b.Status(target); st.ProbeFailures != i || st.LastProbeFailure.IsZero() {
			t.Fatalf("after failed probe %d: %+v", i, st)
		}
	}
	waitState(t, b, target, BreakerHalfOpen)
	report(t, b, target, OutcomeOK)
	if st := b.Status(target); st.State != BreakerClosed || st.ProbeFailures != 0 {
		t.Fatalf("a good probe closes and forgets failed probes: %+v", st)
	}
	if other := b.Status("https://elsewhere"); other.State != BreakerClosed {
		t.Fatalf("breakers are per target: %+v", other)
	}
}

func TestBreakerFailureRatio(t *testing.T) {
	b := newBreakers(config.GuardBreaker{ConsecutiveFailures: 100, FailureRatio: 0.5, MinRequests: 10,
		Interval: time.Minute, OpenTimeout: time.Minute, HalfOpenRequests: 1}, time.Now, prometheus.NewRegistry())
	for i := range 10 {
		o := OutcomeOK
		if i%2 == 1 {
			o = OutcomeFailure
		}
		report(t, b, "t", o)
	}
	if st := b.Status("t").State; st != BreakerOpen {
		t.Fatalf("half of 10 requests failed: state %s, want open", st)
	}
}
