package faultproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Proxy.
type Options struct {
	// Upstream is where requests go when no terminal fault hits them.
	Upstream *url.URL
	// MaxEvents bounds the recorded requests (default 1<<20); the oldest
	// are dropped first.
	MaxEvents int
	// Now is the clock of the recorded events (default time.Now).
	Now func() time.Time
}

// Event is one request the proxy handled.
type Event struct {
	Seq    int64     `json:"seq"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Method string    `json:"method"`
	// Target is the path and query as sent.
	Target string `json:"target"`
	// RequestID is the request's X-Request-Id (the strangler proxy sets it).
	RequestID string `json:"request_id,omitempty"`
	// Shadow says the request was the proxy's shadow copy (it carried
	// X-Strangler-Shadow), not a user's.
	Shadow bool `json:"shadow,omitempty"`
	// Fault lists the faults applied, joined by "+" ("" = none).
	Fault string `json:"fault,omitempty"`
	// Status is the status sent (0: reset, hang, or the client left).
	Status int `json:"status"`
	// ClientGone says the client gave up before an answer (End is when).
	ClientGone bool `json:"client_gone,omitempty"`
}

// Proxy forwards HTTP requests to one upstream, injecting its faults.
type Proxy struct {
	opts    Options
	forward *httputil.ReverseProxy
	rules   atomic.Pointer[[]*rule]
	quit    chan struct{}
	closed  sync.Once

	mu     sync.Mutex
	events []Event
	seq    int64
}

// New builds a Proxy with no faults.
func New(opts Options) *Proxy {
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = 1 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p := &Proxy{opts: opts, quit: make(chan struct{})}
	p.rules.Store(&[]*rule{})
	up := opts.Upstream
	p.forward = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(up)
			pr.Out.Host = pr.In.Host
			// Transparent: the forwarding headers are the client's, not ours.
			for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
				if v, ok := pr.In.Header[h]; ok {
					pr.Out.Header[h] = v
				}
			}
		},
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		},
		FlushInterval:  -1,
		ModifyResponse: corruptBody,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	return p
}

// Set replaces the faults (none: plain forwarding). Counting for the even
// spread starts afresh.
func (p *Proxy) Set(faults ...Fault) error {
	rules := make([]*rule, 0, len(faults))
	for _, f := range faults {
		if err := f.Validate(); err != nil {
			return err
		}
		rules = append(rules, newRule(f))
	}
	p.rules.Store(&rules)
	return nil
}

// Faults returns the faults in force.
func (p *Proxy) Faults() []Fault {
	rules := *p.rules.Load()
	out := make([]Fault, len(rules))
	for i, r := range rules {
		out[i] = r.Fault
	}
	return out
}

// Events returns the recorded requests with a sequence number above since.
func (p *Proxy) Events(since int64) []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Event
	for _, e := range p.events {
		if e.Seq > since {
			out = append(out, e)
		}
	}
	return out
}

// Close releases hanging requests; the proxy forwards no more.
func (p *Proxy) Close() { p.closed.Do(func() { close(p.quit) }) }

func (p *Proxy) record(e Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	e.Seq = p.seq
	if len(p.events) >= p.opts.MaxEvents {
		p.events = append(p.events[:0], p.events[len(p.events)/2:]...)
	}
	p.events = append(p.events, e)
}

// ServeHTTP applies the faults that hit the request, then forwards it or
// answers instead of the upstream.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := Event{Start: p.opts.Now(), Method: r.Method, Target: r.URL.RequestURI(), RequestID: r.Header.Get("X-Request-Id"),
		Shadow: r.Header.Get("X-Strangler-Shadow") != ""}
	pl := planFor(*p.rules.Load(), r)
	e.Fault = strings.Join(pl.applied, "+")
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		e.End, e.Status = p.opts.Now(), sw.status
		p.record(e)
	}()
	if pl.delay > 0 && !p.wait(r.Context(), pl.delay) {
		e.ClientGone = true
		return
	}
	if pl.terminal == KindError || pl.terminal == KindTRPCError {
		// As a tRPC server does: the input is read before the answer.
		_, _ = io.Copy(io.Discard, r.Body)
	}
	switch pl.terminal {
	case KindError:
		writeError(sw, r, http.StatusInternalServerError)
	case KindTRPCError:
		writeError(sw, r, http.StatusOK)
	case KindReset:
		reset(w)
	case KindHang:
		_, _ = io.Copy(io.Discard, r.Body) // so that net/http notices the client leaving
		e.ClientGone = !p.wait(r.Context(), -1)
	default:
		if pl.corrupt != nil {
			r = r.WithContext(context.WithValue(r.Context(), corruptKey{}, pl.corrupt))
		}
		p.forward.ServeHTTP(sw, r)
		e.ClientGone = r.Context().Err() != nil && sw.status == 0
	}
}

// wait waits d (forever when negative); false when the client left first
// or the proxy closed.
func (p *Proxy) wait(ctx context.Context, d time.Duration) bool {
	var timeout <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
		return true
	case <-ctx.Done():
		return false
	case <-p.quit:
		return false
	}
}

// reset closes the client's connection with a TCP reset (SO_LINGER 0).
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// writeError answers a failure: on tRPC paths one INTERNAL_SERVER_ERROR
// entry per call (an array for ?batch=1), elsewhere a short text.
func writeError(w http.ResponseWriter, r *http.Request, status int) {
	_, rest, isTRPC := strings.Cut(r.URL.Path, "/api/trpc/")
	if !isTRPC {
		http.Error(w, "fault injected", status)
		return
	}
	procs := strings.Split(rest, ",")
	entries := make([]json.RawMessage, len(procs))
	for i, proc := range procs {
		path, _ := json.Marshal(strings.TrimSuffix(proc, "/"))
		entries[i] = json.RawMessage(`{"error":{"message":"fault injected","code":-32603,"data":{"code":"INTERNAL_SERVER_ERROR","httpStatus":500,"path":` + string(path) + `}}}`)
	}
	body := []byte(entries[0])
	if r.URL.Query().Get("batch") == "1" {
		body, _ = json.Marshal(entries)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Vary", "trpc-accept")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

type corruptKey struct{}

// corruptBody applies a corrupt fault to the upstream's answer.
func corruptBody(resp *http.Response) error {
	f, _ := resp.Request.Context().Value(corruptKey{}).(*Fault)
	if f == nil {
		return nil
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	b = bytes.ReplaceAll(b, []byte(f.Old), []byte(f.New))
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
	resp.Header.Del("Transfer-Encoding")
	resp.TransferEncoding = nil
	return nil
}

// statusWriter remembers the status sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
