package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"

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
	if d.TRPC != nil {
		pw.hold = maxHeldAnswer
	}
	o := p.forward(pw, r, d, target, h)
	if pw.holding && o == guard.OutcomeFailure {
		pw.failed = true // a call failed inside a 200/207 answer nobody saw yet
	}
	pw.release()
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

// maxHeldAnswer bounds the new side's JSON answer to a safe tRPC request
// that is held back until it is complete, so that a call failing inside a
// 200 or 207 batch answer (an INTERNAL_SERVER_ERROR entry) can still be
// answered by legacy. It is the guard's classification window
// (captureLimit): holding more would not let it see more. A longer answer
// streams on once it passes the bound (a large getAll), and so do JSONL
// answers: those go out as they come.
const maxHeldAnswer = captureLimit

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
// With hold set, a successful JSON answer is also held, up to hold bytes,
// until the caller has classified it (release sends it on).
type probeWriter struct {
	w         http.ResponseWriter
	header    http.Header
	committed bool
	failed    bool
	hold      int
	holding   bool
	status    int
	held      []byte
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
	if p.hold > 0 && code >= 200 && code < 300 && !p.holding &&
		strings.HasPrefix(p.header.Get("Content-Type"), "application/json") {
		p.holding, p.status = true, code
		return
	}
	p.commit(code)
}

// commit sends the held header and status on.
func (p *probeWriter) commit(code int) {
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
	if !p.committed && !p.holding {
		p.WriteHeader(http.StatusOK)
	}
	if p.holding {
		if len(p.held)+len(b) <= p.hold {
			p.held = append(p.held, b...)
			return len(b), nil
		}
		if err := p.sendHeld(); err != nil {
			return 0, err
		}
	}
	return p.w.Write(b)
}

// release sends on what is held, unless the answer failed.
func (p *probeWriter) release() {
	if p.holding && !p.failed {
		_ = p.sendHeld()
	}
	p.holding, p.held = false, nil
}

func (p *probeWriter) sendHeld() error {
	p.holding = false
	p.commit(p.status)
	held := p.held
	p.held = nil
	if len(held) > 0 {
		if _, err := p.w.Write(held); err != nil {
			return err
		}
	}
	if p.w.Header().Get("Content-Length") == "" {
		// Framed as the side framed it: an answer of unknown length goes
		// out chunked, as it would have streamed unheld.
		_ = http.NewResponseController(p.w).Flush()
	}
	return nil
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
