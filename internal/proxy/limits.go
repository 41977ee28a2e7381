package proxy

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nanopore/strangler/internal/limit"
	"github.com/nanopore/strangler/internal/routing"
	"github.com/nanopore/strangler/internal/trpc"
)

// newRateLimited counts the requests refused by a rate limit; nil without a
// Limiter.
func newRateLimited(l *limit.Limiter, reg prometheus.Registerer) *prometheus.CounterVec {
	if l == nil {
		return nil
	}
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strangler_rate_limited_total",
		Help: "Requests refused by a rate limit, by rule (per_client, per_user, login_per_client, login_per_username).",
	}, []string{"rule"})
	reg.MustRegister(c)
	return c
}

// admit refuses a request over a rate limit with 429 and Retry-After (a tRPC
// envelope on tRPC paths, short JSON elsewhere) before anything is decided
// or forwarded; it returns false when it answered.
func (p *Proxy) admit(w http.ResponseWriter, r *http.Request) bool {
	if p.opts.Limiter == nil {
		return true
	}
	norm := routing.Normalize(rawPathOf(r))
	if !p.opts.Limiter.Applies(r, norm) {
		return true
	}
	client := routing.ClientAddr(r.RemoteAddr, r.Header, p.opts.TrustedProxies)
	v := p.opts.Limiter.Check(r.Context(), r, norm, client)
	if v.Allowed {
		return true
	}
	p.rateLimited.WithLabelValues(v.Rule).Inc()
	if sc := ScopeFrom(r.Context()); sc != nil {
		sc.Route, sc.Target = "limit."+v.Rule, "proxy"
	}
	w.Header().Set("Retry-After", strconv.Itoa(limit.RetryAfterSeconds(v.RetryAfter)))
	p.refuse(w, r, http.StatusTooManyRequests, trpc.TooManyRequests, "too_many_requests",
		"Too many requests; retry after the time in Retry-After.")
	return false
}

// refuse answers a request the proxy itself turns away.
func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, status int, code trpc.Code, jsonCode, msg string) {
	if req, ok := p.trpcRequest(r); ok {
		st, body := trpc.ErrorResponse(req, code, msg)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(st)
		_, _ = w.Write(body)
		return
	}
	p.writeJSON(w, r, status, jsonCode, msg)
}

// inflight counts requests in flight per target and sheds those beyond the
// cap.
type inflight struct {
	limit   int64
	targets sync.Map // target name -> *atomic.Int64
	shed    *prometheus.CounterVec
}

func newInflight(limit int, reg prometheus.Registerer) *inflight {
	f := &inflight{limit: int64(limit),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "strangler_shed_total",
			Help: "Requests shed (503) because a target had too many requests in flight.",
		}, []string{"target"})}
	reg.MustRegister(f.shed)
	return f
}

// acquire takes a slot for target. On success the slot must be given back
// with release(slot); slot is nil when there is no cap.
func (f *inflight) acquire(target string) (slot *atomic.Int64, ok bool) {
	if f.limit <= 0 {
		return nil, true
	}
	c, found := f.targets.Load(target)
	if !found {
		c, _ = f.targets.LoadOrStore(target, &atomic.Int64{})
	}
	slot = c.(*atomic.Int64)
	if slot.Add(1) > f.limit {
		slot.Add(-1)
		f.shed.WithLabelValues(target).Inc()
		return nil, false
	}
	return slot, true
}

// release gives back a slot taken by acquire.
func (f *inflight) release(slot *atomic.Int64) {
	if slot != nil {
		slot.Add(-1)
	}
}

// shed answers a request refused for load.
func (p *Proxy) shed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "1")
	p.refuse(w, r, http.StatusServiceUnavailable, trpc.ServiceUnavailable, "service_unavailable",
		"The service is overloaded; retry shortly.")
}

// rawPathOf is the path as the client sent it.
func rawPathOf(r *http.Request) string {
	if u := r.RequestURI; u != "" && u[0] == '/' {
		for i := 0; i < len(u); i++ {
			if u[i] == '?' {
				return u[:i]
			}
		}
		return u
	}
	return r.URL.EscapedPath()
}
