package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nanopore/strangler/internal/guard"
	"github.com/nanopore/strangler/internal/routing"
	"github.com/nanopore/strangler/internal/trpc"
)

// Breaker guards a new target: Allow says whether to try it, and done
// reports how the try went. A nil Breaker allows everything.
type Breaker interface {
	Allow(target string) (done func(ok bool), allowed bool)
}

// maxFallbackBody bounds the request body kept to replay a safe request on
// legacy; a larger safe request still goes to the new side, without the
// safety net.
const maxFallbackBody = 1 << 20

type fallbackMetrics struct {
	fallbacks *prometheus.CounterVec
}

func newFallbackMetrics(reg prometheus.Registerer) *fallbackMetrics {
	m := &fallbackMetrics{fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strangler_fallbacks_total",
		Help: "Safe requests answered by legacy because the new side failed (5xx, connection failure) or its breaker was open.",
	}, []string{"route", "target", "reason"})}
	reg.MustRegister(m.fallbacks)
	return m
}

// toNew sends a request decided to the new side. A safe request (a tRPC
// query, or a route declared safe) that the new side fails with a 5xx or a
// connection failure is answered by legacy instead, and so is every safe
// request while the target's breaker is open. A write is never sent twice:
// it gets the new side's answer, or 503 at once while the breaker is open.
func (p *Proxy) toNew(w http.ResponseWriter, r *http.Request, d *routing.Decision, target string, h http.Handler) {
	safe := d.Safe()
	done, allowed := p.allow(target)
	if !allowed {
		if safe {
			p.fellBack(w, r, d, target, "breaker_open")
			return
		}
		p.refuse(w, r, http.StatusServiceUnavailable, trpc.ServiceUnavailable, "service_unavailable",
			"The service is unavailable; retry shortly.")
		return
	}
	if !safe {
		done(p.forward(w, r, d, target, h) != guard.OutcomeFailure)
		return
	}
	body, ok := keepBody(r)
	if !ok {
		done(p.forward(w, r, d, target, h) != guard.OutcomeFailure)
		return
	}
	pw := &probeWriter{w: w, header: http.Header{}}
	o := p.forward(pw, r, d, target, h)
	done(!pw.failed && o != guard.OutcomeFailure)
	if pw.failed {
		r.Body = io.NopCloser(bytes.NewReader(body))
		p.fellBack(w, r, d, target, "new_side_failed")
	}
}

func (p *Proxy) allow(target string) (func(bool), bool) {
	if p.opts.Breaker == nil {
		return func(bool) {}, true
	}
	return p.opts.Breaker.Allow(target)
}

// fellBack answers a safe request from legacy and counts why.
func (p *Proxy) fellBack(w http.ResponseWriter, r *http.Request, d *routing.Decision, target, reason string) {
	p.fallback.fallbacks.WithLabelValues(d.Label, target, reason).Inc()
	if sc := ScopeFrom(r.Context()); sc != nil {
		sc.Target = "legacy"
	}
	p.forward(w, r, d, "legacy", p.legacy)
}

// keepBody reads a small body so that it can be sent again; ok is false
// when it is too large (the body is then left intact for one use).
func keepBody(r *http.Request) ([]byte, bool) {
	if r.Body == nil || r.Body == http.NoBody {
		r.Body = http.NoBody
		return nil, true
	}
	b, whole, err := readBounded(r.Body, maxFallbackBody)
	if err != nil || !whole {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), r.Body))
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, true
}

// probeWriter holds a new-side answer back until its status is known: a 5xx
// is swallowed (the caller falls back to legacy), anything else streams on.
type probeWriter struct {
	w         http.ResponseWriter
	header    http.Header
	committed bool
	failed    bool
}

func (p *probeWriter) Header() http.Header {
	if p.committed {
		return p.w.Header()
	}
	return p.header
}

func (p *probeWriter) WriteHeader(code int) {
	if p.committed || p.failed {
		return
	}
	if code >= 500 {
		p.failed = true
		return
	}
	dst := p.w.Header()
	for k, v := range p.header {
		dst[k] = v
	}
	if code >= 200 {
		p.committed = true
	}
	p.w.WriteHeader(code)
}

func (p *probeWriter) Write(b []byte) (int, error) {
	if p.failed {
		return len(b), nil
	}
	if !p.committed {
		p.WriteHeader(http.StatusOK)
	}
	return p.w.Write(b)
}

// Flush passes through only once the answer is committed, so that a flush
// can never send a status before the probe has seen it.
func (p *probeWriter) Flush() {
	if p.committed {
		http.NewResponseController(p.w).Flush() //nolint:errcheck
	}
}

func (p *probeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(p.w).Hijack()
}

// statusOnly remembers the status of an answer it passes through.
type statusOnly struct {
	http.ResponseWriter
	status int
}

func (s *statusOnly) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusOnly) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusOnly) Flush() { http.NewResponseController(s.ResponseWriter).Flush() } //nolint:errcheck

func (s *statusOnly) Unwrap() http.ResponseWriter { return s.ResponseWriter }
