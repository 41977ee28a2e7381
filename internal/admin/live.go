package admin

import (
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// liveWindow is how far back the console's live figures look.
const liveWindow = 5 * time.Second

// liveStats turns this replica's own Prometheus metrics into the console's
// live figures: requests/s, error rate and p99 per route and side, the
// shadow mismatch rate and the dual-write drift. It samples only while
// someone asks (at most once a second), so an unwatched replica pays
// nothing.
type liveStats struct {
	g   prometheus.Gatherer
	now func() time.Time

	mu   sync.Mutex
	ring []*liveSample // oldest first, the last minute
}

type sideKey struct{ route, side string }

type sideCounts struct {
	total, errors float64
	bounds        []float64 // histogram upper bounds
	cum           []float64 // cumulative counts per bound
}

type liveSample struct {
	at     time.Time
	sides  map[sideKey]*sideCounts
	cmp    map[string]*[2]float64 // route -> compared, mismatched
	gauges map[string]*Drift      // write group -> drift
}

// SideLive is one side of a route over the live window.
type SideLive struct {
	RPS       float64  `json:"rps"`
	ErrorRate *float64 `json:"error_rate"`
	P99       *float64 `json:"p99_seconds"`
}

// Drift is a write group's dual-write backlog: what the new or the legacy
// store still has to receive.
type Drift struct {
	Group      string  `json:"group"`
	LagSeconds float64 `json:"relay_lag_seconds"`
	Outbox     float64 `json:"outbox_pending"`
	Intents    float64 `json:"intents_pending"`
	Dead       float64 `json:"dead"`
}

// RouteLive is a route's live figures.
type RouteLive struct {
	Legacy       SideLive `json:"legacy"`
	New          SideLive `json:"new"`
	Compared     float64  `json:"compared"`
	MismatchRate *float64 `json:"mismatch_rate"`
	Drift        *Drift   `json:"drift,omitempty"`
}

func newLiveStats(g prometheus.Gatherer, now func() time.Time) *liveStats {
	return &liveStats{g: g, now: now}
}

// figures samples (at most once a second) and returns the figures per
// route over the window, and the window's length in seconds (0 until two
// samples exist).
func (l *liveStats) figures(groups map[string]string) (map[string]RouteLive, float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if n := len(l.ring); n == 0 || now.Sub(l.ring[n-1].at) >= 900*time.Millisecond {
		if s := l.gather(now); s != nil {
			l.ring = append(l.ring, s)
		}
	}
	for len(l.ring) > 1 && now.Sub(l.ring[0].at) > time.Minute {
		l.ring = l.ring[1:]
	}
	out := map[string]RouteLive{}
	if len(l.ring) < 2 {
		return out, 0
	}
	cur := l.ring[len(l.ring)-1]
	old := l.ring[len(l.ring)-2]
	for _, s := range l.ring[:len(l.ring)-1] {
		if cur.at.Sub(s.at) <= liveWindow {
			old = s
			break
		}
	}
	secs := cur.at.Sub(old.at).Seconds()
	for k, c := range cur.sides {
		rl := out[k.route]
		side := sideFigures(c, old.sides[k], secs)
		if k.side == "legacy" {
			rl.Legacy = side
		} else {
			rl.New = side
		}
		out[k.route] = rl
	}
	for route, c := range cur.cmp {
		rl := out[route]
		var prev [2]float64
		if o := old.cmp[route]; o != nil {
			prev = *o
		}
		if rl.Compared = c[0] - prev[0]; rl.Compared > 0 {
			rl.MismatchRate = ptr((c[1] - prev[1]) / rl.Compared)
		}
		out[route] = rl
	}
	for route, group := range groups {
		if d := cur.gauges[group]; d != nil {
			rl := out[route]
			rl.Drift = d
			out[route] = rl
		}
	}
	return out, secs
}

func sideFigures(cur, old *sideCounts, secs float64) SideLive {
	if old == nil {
		old = &sideCounts{}
	}
	n := cur.total - old.total
	out := SideLive{RPS: n / secs}
	if n <= 0 {
		return out
	}
	out.ErrorRate = ptr((cur.errors - old.errors) / n)
	delta := make([]float64, len(cur.cum))
	for i := range cur.cum {
		delta[i] = cur.cum[i]
		if i < len(old.cum) {
			delta[i] -= old.cum[i]
		}
	}
	out.P99 = quantile(0.99, cur.bounds, delta, n)
	return out
}

// quantile estimates a quantile from cumulative bucket counts as
// Prometheus's histogram_quantile does (linear within the bucket).
func quantile(q float64, bounds, cum []float64, total float64) *float64 {
	rank := q * total
	lower, below := 0.0, 0.0
	for i, b := range bounds {
		if cum[i] >= rank {
			if cum[i] == below {
				return ptr(b)
			}
			return ptr(lower + (b-lower)*(rank-below)/(cum[i]-below))
		}
		lower, below = b, cum[i]
	}
	if len(bounds) == 0 {
		return nil
	}
	return ptr(bounds[len(bounds)-1]) // in the +Inf bucket: at least the last bound
}

func ptr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// gather reads the families the figures need; nil when gathering fails.
func (l *liveStats) gather(now time.Time) *liveSample {
	if l.g == nil {
		return nil
	}
	fams, err := l.g.Gather()
	if err != nil && len(fams) == 0 {
		return nil
	}
	s := &liveSample{at: now, sides: map[sideKey]*sideCounts{}, cmp: map[string]*[2]float64{}, gauges: map[string]*Drift{}}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			s.add(f.GetName(), labels(m), m)
		}
	}
	return s
}

func labels(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		out[lp.GetName()] = lp.GetValue()
	}
	return out
}

// add folds one series into the sample.
func (s *liveSample) add(name string, l map[string]string, m *dto.Metric) {
	switch name {
	case "strangler_requests_total":
		if c := s.side(l); c != nil {
			c.total += m.GetCounter().GetValue()
			if l["status_class"] == "5xx" {
				c.errors += m.GetCounter().GetValue()
			}
		}
	case "strangler_request_duration_seconds":
		if c := s.side(l); c != nil {
			addBuckets(c, m.GetHistogram())
		}
	case "strangler_shadow_comparisons_total":
		c := s.cmp[l["route"]]
		if c == nil {
			c = &[2]float64{}
			s.cmp[l["route"]] = c
		}
		switch l["outcome"] {
		case "mismatch":
			c[0] += m.GetCounter().GetValue()
			c[1] += m.GetCounter().GetValue()
		case "match", "accepted", "noise":
			c[0] += m.GetCounter().GetValue()
		}
	case "strangler_dualwrite_relay_lag_seconds":
		s.drift(l["group"]).LagSeconds = m.GetGauge().GetValue()
	case "strangler_dualwrite_outbox_pending":
		s.drift(l["group"]).Outbox = m.GetGauge().GetValue()
	case "strangler_dualwrite_outbox_dead":
		s.drift(l["group"]).Dead += m.GetGauge().GetValue()
	case "strangler_dualwrite_intents":
		switch l["state"] {
		case "dead":
			s.drift(l["group"]).Dead += m.GetGauge().GetValue()
		default:
			s.drift(l["group"]).Intents += m.GetGauge().GetValue()
		}
	}
}

// side returns the counts of a request series' route and side: target
// legacy is the legacy side, any other target the new side.
func (s *liveSample) side(l map[string]string) *sideCounts {
	if l["route"] == "" || l["target"] == "" {
		return nil
	}
	k := sideKey{route: l["route"], side: "new"}
	if l["target"] == "legacy" {
		k.side = "legacy"
	}
	c := s.sides[k]
	if c == nil {
		c = &sideCounts{}
		s.sides[k] = c
	}
	return c
}

func (s *liveSample) drift(group string) *Drift {
	d := s.gauges[group]
	if d == nil {
		d = &Drift{Group: group}
		s.gauges[group] = d
	}
	return d
}

// addBuckets adds a histogram's cumulative counts; every series of the
// request histogram has the same bounds.
func addBuckets(c *sideCounts, h *dto.Histogram) {
	bs := h.GetBucket()
	if len(c.bounds) == 0 {
		c.bounds = make([]float64, len(bs))
		c.cum = make([]float64, len(bs))
		for i, b := range bs {
			c.bounds[i] = b.GetUpperBound()
		}
	}
	for i, b := range bs {
		if i < len(c.cum) {
			c.cum[i] += float64(b.GetCumulativeCount())
		}
	}
}
