package guard

import "github.com/prometheus/client_golang/prometheus"

// metrics are the guard's Prometheus series, labelled by route ids from the
// route table, signal names and results: never raw request text.
type metrics struct {
	trips        *prometheus.CounterVec // route, signal
	tripFailures *prometheus.CounterVec // route
	value        *prometheus.GaugeVec   // route, signal: last measured value
	dbUp         prometheus.Gauge
	flushErrors  prometheus.Counter
	webhook      *prometheus.CounterVec // result
}

func newMetrics(reg prometheus.Registerer, obs *observer) *metrics {
	m := &metrics{
		trips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_guard_trips_total",
			Help: "Automatic rollbacks to legacy, by the route that tripped and the signal.",
		}, []string{"route", "signal"}),
		tripFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_guard_trip_failures_total",
			Help: "Trips whose rollback failed or was refused, by route.",
		}, []string{"route"}),
		value: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_guard_signal_value",
			Help: "Last value of each guard signal per route (rates 0-1, p99 ratio, consecutive failures).",
		}, []string{"route", "signal"}),
		dbUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strangler_guard_database_up",
			Help: "1 when the last evaluation read every replica's windows from the database.",
		}),
		flushErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "strangler_guard_flush_errors_total",
			Help: "Flushes of this replica's counts that the database did not take (they are kept and retried).",
		}),
		webhook: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_guard_webhook_total",
			Help: "Webhook calls after a trip, by result (sent, failed, dropped).",
		}, []string{"result"}),
	}
	dropped := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "strangler_guard_samples_dropped_total",
		Help: "Counts lost because the database stayed down longer than the in-memory ring, or too many series.",
	}, func() float64 { return float64(obs.dropped.Load()) })
	for _, c := range []prometheus.Collector{m.trips, m.tripFailures, m.value, m.dbUp, m.flushErrors, m.webhook, dropped} {
		reg.MustRegister(c)
	}
	return m
}
