package proxy

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the proxy's request metrics. Labels are route ids, targets,
// methods and status classes, never raw paths.
type Metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	inFlight       prometheus.Gauge
	upstreamErrors *prometheus.CounterVec

	mu       sync.RWMutex
	children map[seriesKey]series
}

type seriesKey struct {
	route, target, method string
	class                 int
}

type series struct {
	count prometheus.Counter
	dur   prometheus.Observer
}

// NewMetrics registers the request metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	labels := []string{"route", "target", "method", "status_class"}
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_requests_total",
			Help: "Requests answered on the public listener, by route, answering target, method and status class.",
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strangler_request_duration_seconds",
			Help:    "Time from receiving a request to the end of its answer.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, labels),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "strangler_requests_in_flight",
			Help: "Requests being answered on the public listener.",
		}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_upstream_errors_total",
			Help: "Failed upstream exchanges by target and kind (connect, timeout, reset, client_gone, other).",
		}, []string{"target", "kind"}),
		children: map[seriesKey]series{},
	}
	reg.MustRegister(m.requests, m.duration, m.inFlight, m.upstreamErrors)
	return m
}

var statusClasses = [...]string{"1xx", "1xx", "2xx", "3xx", "4xx", "5xx"}

// observe counts one answered request. Children are cached so that the hot
// path does no label hashing after the first request of a series.
func (m *Metrics) observe(route, target, method string, status int, seconds float64) {
	class := status / 100
	if class < 1 || class > 5 {
		class = 5
	}
	k := seriesKey{route, target, methodLabel(method), class}
	m.mu.RLock()
	s, ok := m.children[k]
	m.mu.RUnlock()
	if !ok {
		lv := []string{k.route, k.target, k.method, statusClasses[class]}
		s = series{count: m.requests.WithLabelValues(lv...), dur: m.duration.WithLabelValues(lv...)}
		m.mu.Lock()
		m.children[k] = s
		m.mu.Unlock()
	}
	s.count.Inc()
	s.dur.Observe(seconds)
}

// methodLabel keeps the label set bounded: unknown methods count as OTHER.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}
