package dualwrite

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the dual writes' Prometheus metrics. The relay and the
// writer may register on one registry: each vector is registered once and
// shared.
type metrics struct {
	lag         *prometheus.GaugeVec   // group
	pending     *prometheus.GaugeVec   // group
	dead        *prometheus.GaugeVec   // group
	relayed     *prometheus.CounterVec // group, outcome
	intents     *prometheus.GaugeVec   // group, state
	converge    *prometheus.CounterVec // group, outcome
	secondary   *prometheus.CounterVec // group, procedure, outcome
	skipped     *prometheus.CounterVec // group, reason
	convergeLag prometheus.ObserverVec // group
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		lag: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_dualwrite_relay_lag_seconds",
			Help: "Age of the oldest outbox row the relay has not applied to the legacy tables (0: none).",
		}, []string{"group"})),
		pending: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_dualwrite_outbox_pending",
			Help: "Outbox rows waiting for the relay.",
		}, []string{"group"})),
		dead: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_dualwrite_outbox_dead",
			Help: "Outbox rows and intents given up after their retries (see `strangler outbox list`).",
		}, []string{"group"})),
		relayed: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_dualwrite_relay_rows_total",
			Help: "Outbox rows handled by this replica's relay, by outcome (applied, retry, dead).",
		}, []string{"group", "outcome"})),
		intents: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_dualwrite_intents",
			Help: "Intents of legacy-primary writes not yet converged, by state (pending, dead, memory: not yet stored).",
		}, []string{"group", "state"})),
		converge: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_dualwrite_converge_total",
			Help: "Converges of the new store to legacy's rows, by outcome (ok, retry, dead, recovered).",
		}, []string{"group", "outcome"})),
		secondary: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_dualwrite_secondary_total",
			Help: "Secondary executions of legacy's writes on the new service, by outcome (ok, error, skipped).",
		}, []string{"group", "procedure", "outcome"})),
		skipped: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_dualwrite_skipped_total",
			Help: "Dual writes skipped or degraded, by reason (queue_full, body_too_large, not_recorded, memory_full, ...).",
		}, []string{"group", "reason"})),
		convergeLag: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strangler_dualwrite_converge_seconds",
			Help:    "Time from legacy's answer to the new store holding its rows.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}, []string{"group"})),
	}
}

// register registers c, or returns the collector already registered under
// its name (the relay and the writer share a registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}
