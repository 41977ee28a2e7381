// Package proxy is the public side of strangler: middleware, the legacy
// passthrough and the executor that sends a decided request to its sides. It
// forwards; it never decides (package routing does).
package proxy

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/nanopore/strangler/internal/dualwrite"
	"github.com/nanopore/strangler/internal/limit"
	"github.com/nanopore/strangler/internal/shadow"
	"github.com/nanopore/strangler/internal/trpc"
)

// Options configure a Proxy; zero fields take the defaults named.
type Options struct {
	// Legacy is the monolith's base URL. Required.
	Legacy *url.URL
	// MoreLegacy are further legacy instances, load-balanced with Legacy
	// (sessions stick to one instance).
	MoreLegacy []*url.URL
	// DialTimeout bounds connecting to an upstream (default 5s).
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds waiting for answer headers (default 30s).
	ResponseHeaderTimeout time.Duration
	// IdleConnTimeout closes idle upstream connections (default 90s).
	IdleConnTimeout time.Duration
	// MaxIdleConnsPerHost sizes each upstream's keep-alive pool (default 512).
	MaxIdleConnsPerHost int
	// TrustedProxies are the networks whose X-Forwarded-For is kept.
	TrustedProxies []netip.Prefix
	// AccessLog writes one line per request to Logger.
	AccessLog bool
	// Logger receives the access log and errors (default: discard).
	Logger zerolog.Logger
	// Registerer receives the metrics (default: a private registry).
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Router decides each request; nil passes everything to legacy.
	Router Decider
	// Services are the in-process Go services by name ("samples").
	Services map[string]http.Handler
	// Shadow compares the answers of routes in shadow and canary mode off
	// the hot path (nil: no comparison).
	Shadow *shadow.Shadower
	// DualWrite converges into the new store the writes of a write group
	// that legacy answers (shadow, canary, legacy mode); nil: none.
	DualWrite *dualwrite.Writer
	// TRPCEndpoint is the tRPC base path (default /api/trpc).
	TRPCEndpoint string
	// CanaryCookie and CanaryCookieMaxAge describe the bucket cookie.
	CanaryCookie       string
	CanaryCookieMaxAge time.Duration
	// Limiter applies rate limits (nil: none).
	Limiter *limit.Limiter
	// MaxInFlightPerTarget sheds requests beyond this many in flight to one
	// target (0: no cap).
	MaxInFlightPerTarget int
	// Breaker guards the new targets (nil: always try them).
	Breaker Breaker
	// Observer counts answers per route and side for the guard (nil: none).
	Observer Observer
}

func (o *Options) fill() {
	if o.DialTimeout == 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.ResponseHeaderTimeout == 0 {
		o.ResponseHeaderTimeout = 30 * time.Second
	}
	if o.IdleConnTimeout == 0 {
		o.IdleConnTimeout = 90 * time.Second
	}
	if o.MaxIdleConnsPerHost == 0 {
		o.MaxIdleConnsPerHost = 512
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TRPCEndpoint == "" {
		o.TRPCEndpoint = trpc.Endpoint
	}
	if o.CanaryCookie == "" {
		o.CanaryCookie = "strangler_bucket"
	}
	if o.CanaryCookieMaxAge == 0 {
		o.CanaryCookieMaxAge = 365 * 24 * time.Hour
	}
}

// Proxy is the public listener's handler.
type Proxy struct {
	opts      Options
	ids       *idSource
	metrics   *Metrics
	legacy    *instances
	remotes   remoteCache
	flight    *inflight
	fallback  *fallbackMetrics
	verifiers verifiers
	// rateLimited counts refusals by rule (nil without a Limiter).
	rateLimited *prometheus.CounterVec
}

var _ http.Handler = (*Proxy)(nil)

// New builds a Proxy in front of opts.Legacy.
func New(opts Options) *Proxy {
	opts.fill()
	p := &Proxy{opts: opts, ids: newIDSource(), metrics: NewMetrics(opts.Registerer)}
	p.flight = newInflight(opts.MaxInFlightPerTarget, opts.Registerer)
	p.fallback = newFallbackMetrics(opts.Registerer)
	p.legacy = p.newInstances("legacy", append([]*url.URL{opts.Legacy}, opts.MoreLegacy...))
	p.rateLimited = newRateLimited(opts.Limiter, opts.Registerer)
	return p
}

// Transport returns an upstream transport tuned for a proxy: a large
// keep-alive pool, no transparent compression (the client's Accept-Encoding
// passes through untouched), bounded dial and header waits.
func (p *Proxy) Transport() *http.Transport {
	d := &net.Dialer{Timeout: p.opts.DialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   p.opts.MaxIdleConnsPerHost,
		IdleConnTimeout:       p.opts.IdleConnTimeout,
		ResponseHeaderTimeout: p.opts.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		// 16 KiB: large answers still move in few syscalls, and 64
		// connections hold 2 MB less than with 32 KiB.
		WriteBufferSize:        16 << 10,
		ReadBufferSize:         16 << 10,
		MaxResponseHeaderBytes: 1 << 20,
	}
}

// reverseProxy forwards to base, keeping the client's Host (the legacy app's
// origin check compares Origin with Host) and setting X-Forwarded-*.
func (p *Proxy) reverseProxy(base *url.URL, target string) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(base)
			pr.Out.Host = pr.In.Host
			if sc := ScopeFrom(pr.In.Context()); sc != nil {
				pr.Out.Header[RequestIDHeader] = sc.idHeader
			}
			p.forwarded(pr)
		},
		Transport:  p.Transport(),
		BufferPool: bufferPool{},
		ErrorLog:   nil,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.upstreamError(w, r, target, err)
		},
	}
}

// forwarded sets X-Forwarded-For/-Host/-Proto. A trusted proxy's values are
// kept (For is appended to; Host, Proto and Port describe what the browser
// used, which Astro's origin check compares with Origin); anyone else's are
// replaced, and an untrusted X-Forwarded-Port is dropped, since Astro would
// build the origin from it.
func (p *Proxy) forwarded(pr *httputil.ProxyRequest) {
	if !p.trusted(pr.In.RemoteAddr) {
		delete(pr.Out.Header, "X-Forwarded-Port") // canonical, as net/http keeps keys
		pr.SetXForwarded()
		return
	}
	in := pr.In.Header
	if prior, ok := in["X-Forwarded-For"]; ok {
		pr.Out.Header["X-Forwarded-For"] = prior
	}
	pr.SetXForwarded()
	for _, h := range []string{"X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v := in.Get(h); v != "" {
			pr.Out.Header.Set(h, v)
		}
	}
}

// upstreamError answers a failed exchange with an upstream.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, target string, err error) {
	status, kind := classify(r.Context(), err)
	p.metrics.upstreamErrors.WithLabelValues(target, kind).Inc()
	if sc := ScopeFrom(r.Context()); sc != nil {
		sc.Err = err
		if status == StatusClientClosed {
			sc.Status = status
		}
	}
	if status == StatusClientClosed {
		return
	}
	p.writeError(w, r, status)
}

// trusted says whether a peer's forwarding headers are believed.
func (p *Proxy) trusted(remoteAddr string) bool {
	if len(p.opts.TrustedProxies) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	for _, n := range p.opts.TrustedProxies {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// bufferPool recycles the 32 KiB copy buffers of ReverseProxy.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(buffers.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }
