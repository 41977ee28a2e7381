package proxy

import (
	"bufio"
	"net"
	"net/http"
	"time"

	"github.com/nanopore/strangler/internal/guard"
	"github.com/nanopore/strangler/internal/routing"
)

// Observer counts answers per route and side for the automatic-rollback
// guard (package guard's Guard).
type Observer interface {
	ObserveHTTP(route string, side guard.Side, status int, latency time.Duration) guard.Outcome
	ObserveTRPC(side guard.Side, routes, procs []string, batch bool, status int, body []byte, latency time.Duration) guard.Outcome
}

var _ Observer = (*guard.Guard)(nil)

// captureLimit is how much of a tRPC answer is kept for classification: the
// entries of a batch come early; a long getAll only needs its first bytes.
const captureLimit = 16 << 10

// capture passes an answer through while keeping its status and, for tRPC,
// its first bytes.
type capture struct {
	http.ResponseWriter
	status int
	limit  int
	buf    []byte
}

func (c *capture) WriteHeader(code int) {
	if c.status == 0 && code >= 200 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if room := c.limit - len(c.buf); room > 0 {
		c.buf = append(c.buf, b[:min(room, len(b))]...)
	}
	return c.ResponseWriter.Write(b)
}

func (c *capture) Flush() { http.NewResponseController(c.ResponseWriter).Flush() } //nolint:errcheck

func (c *capture) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(c.ResponseWriter).Hijack()
}

func (c *capture) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// observed serves h and reports the answer to the Observer; it returns the
// outcome (OutcomeOK without an Observer).
func (p *Proxy) observed(w http.ResponseWriter, r *http.Request, d *routing.Decision, target string, h http.Handler) guard.Outcome {
	if d.Plain() {
		// Plain passthrough: no route to count, no breaker to feed.
		h.ServeHTTP(w, r)
		return guard.OutcomeOK
	}
	if p.opts.Observer == nil {
		rec := &statusOnly{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if gone(r) {
			return guard.OutcomeOK
		}
		return guard.ClassifyHTTP(rec.status)
	}
	c := &capture{ResponseWriter: w}
	if d.TRPC != nil {
		c.limit = captureLimit
	}
	start := p.opts.Now()
	h.ServeHTTP(c, r)
	if gone(r) {
		return guard.OutcomeOK // the client left: says nothing about the side
	}
	return p.report(d, sideOf(target), nil, c.status, c.buf, p.opts.Now().Sub(start))
}

// report counts one answer: per call for tRPC (calls selects the calls of a
// split part; nil means all), per route otherwise.
func (p *Proxy) report(d *routing.Decision, side guard.Side, calls []int, status int, body []byte, latency time.Duration) guard.Outcome {
	if p.opts.Observer == nil {
		return guard.ClassifyHTTP(status)
	}
	if d.TRPC == nil {
		if d.Route == nil {
			return guard.ClassifyHTTP(status)
		}
		return p.opts.Observer.ObserveHTTP(d.Route.ID, side, status, latency)
	}
	n := len(d.Calls)
	if calls != nil {
		n = len(calls)
	}
	routes, procs := make([]string, n), make([]string, n)
	for i := 0; i < n; i++ {
		ci := i
		if calls != nil {
			ci = calls[i]
		}
		if c := d.Calls[ci]; c.Route != nil {
			routes[i] = c.Route.ID
		}
		procs[i] = d.TRPC.Names[ci]
	}
	batch := d.TRPC.Batch || calls != nil
	return p.opts.Observer.ObserveTRPC(side, routes, procs, batch, status, body, latency)
}

// gone says whether the client went away before its answer: whatever the
// side answered then (an in-process service's cancelled query answers 500 to
// nobody) says nothing about that side's health.
func gone(r *http.Request) bool {
	if r.Context().Err() != nil {
		return true
	}
	sc := ScopeFrom(r.Context())
	return sc != nil && sc.Status == StatusClientClosed
}

func sideOf(target string) guard.Side {
	if target == "legacy" {
		return guard.SideLegacy
	}
	return guard.SideNew
}
