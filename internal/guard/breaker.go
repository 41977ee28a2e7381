package guard

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/nanopore/strangler/internal/config"
)

// Breaker states, as the strangler_guard_breaker_state gauge shows them.
const (
	BreakerClosed   = "closed"
	BreakerHalfOpen = "half-open"
	BreakerOpen     = "open"
)

// Breakers hold one circuit breaker (sony/gobreaker) per new target. They
// hear the new side's answers on this replica only: each replica protects
// its own requests.
type Breakers struct {
	cfg   config.GuardBreaker
	now   func() time.Time
	state *prometheus.GaugeVec

	mu sync.Mutex
	m  map[string]*breaker
}

// breaker is one target's breaker and what the guard needs to know of its
// history: when it last opened, and how many half-open probes failed in a
// row (gobreaker resets its counts on every state change).
type breaker struct {
	cb *gobreaker.TwoStepCircuitBreaker[struct{}]

	mu            sync.Mutex
	openedAt      time.Time
	probeFailures int
	lastProbeFail time.Time
}

// BreakerStatus is one target's breaker as the evaluator and the admin API
// see it.
type BreakerStatus struct {
	Target   string    `json:"target"`
	State    string    `json:"state"`
	OpenedAt time.Time `json:"opened_at,omitzero"`
	// ProbeFailures counts the half-open probes that failed in a row.
	ProbeFailures    int       `json:"probe_failures"`
	LastProbeFailure time.Time `json:"last_probe_failure,omitzero"`
}

func newBreakers(cfg config.GuardBreaker, now func() time.Time, reg prometheus.Registerer) *Breakers {
	b := &Breakers{cfg: cfg, now: now, m: map[string]*breaker{},
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_guard_breaker_state",
			Help: "Circuit breaker of each new target on this replica: 0 closed, 1 half-open, 2 open.",
		}, []string{"target"})}
	reg.MustRegister(b.state)
	return b
}

func (b *Breakers) get(target string) *breaker {
	b.mu.Lock()
	defer b.mu.Unlock()
	if br := b.m[target]; br != nil {
		return br
	}
	br := &breaker{}
	cfg := b.cfg
	br.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         target,
		MaxRequests:  uint32(cfg.HalfOpenRequests),
		Interval:     cfg.Interval,
		BucketPeriod: time.Second,
		Timeout:      cfg.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= uint32(cfg.ConsecutiveFailures) ||
				c.Requests >= uint32(cfg.MinRequests) && float64(c.TotalFailures) >= cfg.FailureRatio*float64(c.Requests)
		},
		OnStateChange: func(_ string, from, to gobreaker.State) { b.changed(target, br, from, to) },
	})
	b.m[target] = br
	b.state.WithLabelValues(target).Set(0)
	return br
}

// changed follows the breaker's history (gobreaker calls it under its own
// lock, so it must not call back into the breaker).
func (b *Breakers) changed(target string, br *breaker, from, to gobreaker.State) {
	now := b.now()
	br.mu.Lock()
	switch {
	case to == gobreaker.StateOpen && from == gobreaker.StateHalfOpen:
		br.probeFailures++
		br.lastProbeFail = now
		br.openedAt = now
	case to == gobreaker.StateOpen:
		br.openedAt = now
	case to == gobreaker.StateClosed:
		br.probeFailures = 0
	}
	br.mu.Unlock()
	b.state.WithLabelValues(target).Set(float64(to))
}

// Allow asks target's breaker for a request (package proxy's Breaker).
// When allowed, call done with whether the new side answered well: a 5xx,
// a connection failure or a failing tRPC entry is not ok; normal and
// validation errors are. Not allowed: send a safe request to legacy; an
// unsafe one gets the proxy's 503.
func (b *Breakers) Allow(target string) (done func(ok bool), allowed bool) {
	report, err := b.get(target).cb.Allow()
	if err != nil {
		return nil, false
	}
	return func(ok bool) {
		if ok {
			report(nil)
		} else {
			report(errFailed)
		}
	}, true
}

var errFailed = errors.New("new side failed")

// Status returns one target's breaker (closed when it never saw a request).
func (b *Breakers) Status(target string) BreakerStatus {
	b.mu.Lock()
	br := b.m[target]
	b.mu.Unlock()
	if br == nil {
		return BreakerStatus{Target: target, State: BreakerClosed}
	}
	st := br.cb.State() // may move open to half-open, calling changed
	br.mu.Lock()
	defer br.mu.Unlock()
	return BreakerStatus{Target: target, State: st.String(), OpenedAt: br.openedAt,
		ProbeFailures: br.probeFailures, LastProbeFailure: br.lastProbeFail}
}

// Statuses returns every breaker that has seen a request.
func (b *Breakers) Statuses() []BreakerStatus {
	b.mu.Lock()
	targets := make([]string, 0, len(b.m))
	for t := range b.m {
		targets = append(targets, t)
	}
	b.mu.Unlock()
	out := make([]BreakerStatus, len(targets))
	for i, t := range targets {
		out[i] = b.Status(t)
	}
	return out
}
