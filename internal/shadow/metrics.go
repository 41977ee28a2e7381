package shadow

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the shadower's Prometheus series. Labels are route ids and
// procedure names from the route table, outcomes and reasons: never raw
// request text.
type metrics struct {
	comparisons *prometheus.CounterVec   // route, procedure, outcome
	skipped     *prometheus.CounterVec   // route, reason
	delta       *prometheus.HistogramVec // route: new minus legacy latency
	rate        *prometheus.GaugeVec     // route: mismatch share over the window
	records     *prometheus.CounterVec   // route, result
	noise       *prometheus.CounterVec   // route: paths learnt
	queue       prometheus.GaugeFunc
	inflight    prometheus.GaugeFunc
	workers     prometheus.GaugeFunc
}

// deltaBuckets are symmetric around zero: the new side may be faster.
var deltaBuckets = func() []float64 {
	pos := []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	out := make([]float64, 0, 2*len(pos)+1)
	for i := len(pos) - 1; i >= 0; i-- {
		out = append(out, -pos[i])
	}
	out = append(out, 0)
	return append(out, pos...)
}()

func newMetrics(reg prometheus.Registerer, queueLen, inflight, workers func() float64) *metrics {
	m := &metrics{
		comparisons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_shadow_comparisons_total",
			Help: "Shadow comparisons per route, tRPC procedure and outcome (match, mismatch, accepted, noise, skipped, error).",
		}, []string{"route", "procedure", "outcome"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_shadow_skipped_total",
			Help: "Requests whose comparison was skipped, per route and reason.",
		}, []string{"route", "reason"}),
		delta: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "strangler_shadow_latency_delta_seconds",
			Help:    "Paired latency of one request on both sides: new minus legacy.",
			Buckets: deltaBuckets,
		}, []string{"route"}),
		rate: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "strangler_shadow_mismatch_ratio",
			Help: "Share of compared calls that mismatched over the last window, per route.",
		}, []string{"route"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_shadow_records_total",
			Help: "Mismatch records per route: stored, sampled_out, capped or failed.",
		}, []string{"route", "result"}),
		noise: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_shadow_noise_learned_total",
			Help: "Paths learnt as noise (they differ between two legacy answers), per route.",
		}, []string{"route"}),
		queue: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "strangler_shadow_queue_length", Help: "Comparisons waiting for a worker.",
		}, queueLen),
		inflight: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "strangler_shadow_inflight_bytes", Help: "Bodies held by queued and running comparisons.",
		}, inflight),
		workers: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "strangler_shadow_workers", Help: "Workers running (they start on demand, up to shadow.workers, and leave when idle).",
		}, workers),
	}
	for _, c := range []prometheus.Collector{m.comparisons, m.skipped, m.delta, m.rate, m.records, m.noise, m.queue, m.inflight, m.workers} {
		reg.MustRegister(c)
	}
	return m
}

// rateWindow is the mismatch share of one route over the last few minutes,
// in one-minute buckets: the guard of a later issue reads it.
type rateWindow struct {
	mu      sync.Mutex
	buckets map[string]*[windowMinutes]minuteCount
}

const windowMinutes = 5

type minuteCount struct {
	minute               int64
	compared, mismatched int64
}

func newRateWindow() *rateWindow {
	return &rateWindow{buckets: map[string]*[windowMinutes]minuteCount{}}
}

// add counts one compared call and returns the route's current share.
func (w *rateWindow) add(route string, now time.Time, mismatch bool) float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.buckets[route]
	if b == nil {
		b = new([windowMinutes]minuteCount)
		w.buckets[route] = b
	}
	m := now.Unix() / 60
	c := &b[m%windowMinutes]
	if c.minute != m {
		*c = minuteCount{minute: m}
	}
	c.compared++
	if mismatch {
		c.mismatched++
	}
	r, _ := sum(b, m)
	return r
}

// ratio returns the share and the number of compared calls in the window.
func (w *rateWindow) ratio(route string, now time.Time) (float64, int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.buckets[route]
	if b == nil {
		return 0, 0
	}
	return sum(b, now.Unix()/60)
}

func sum(b *[windowMinutes]minuteCount, m int64) (float64, int64) {
	var compared, mismatched int64
	for _, c := range b {
		if m-c.minute < windowMinutes {
			compared += c.compared
			mismatched += c.mismatched
		}
	}
	if compared == 0 {
		return 0, 0
	}
	return float64(mismatched) / float64(compared), compared
}
