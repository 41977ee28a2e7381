package shadow

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Caller sends a shadow request to one side and buffers its answer, at
// most limit bytes of body (Exchange.Truncated past it). An error means
// the side could not answer (refused, timed out, panicked): that is the
// outcome "error", not a difference.
type Caller interface {
	Call(req *http.Request, limit int) (Exchange, error)
}

// CallerFunc is a function used as a Caller (for example to pick one of a
// target's instances per call, then call its Upstream caller).
type CallerFunc func(req *http.Request, limit int) (Exchange, error)

// Call calls f.
func (f CallerFunc) Call(req *http.Request, limit int) (Exchange, error) { return f(req, limit) }

// Handler returns a Caller that runs an in-process handler (a Go service)
// into a buffer, on the worker's goroutine. The handler must honour the
// request's context, as the services do through pgx.
func Handler(h http.Handler) Caller { return handlerCaller{h} }

type handlerCaller struct{ h http.Handler }

func (c handlerCaller) Call(req *http.Request, limit int) (ex Exchange, err error) {
	bw := newBufWriter(limit)
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("shadow: handler panicked: %v", v)
		}
	}()
	c.h.ServeHTTP(bw, req)
	if cerr := req.Context().Err(); cerr != nil {
		return Exchange{}, cerr
	}
	return bw.exchange(), nil
}

// Upstream returns a Caller that sends to base over rt (the proxy's own
// transport, so that connections to the upstream are reused) as the proxy
// forwards: the client's Host kept, X-Forwarded-For, -Host and -Proto set
// (hop-by-hop headers were dropped when the request was captured). It
// reads the whole answer, past the limit too, so that the connection stays
// reusable.
func Upstream(base *url.URL, rt http.RoundTripper) Caller {
	return upstreamCaller{base: base, rt: rt}
}

type upstreamCaller struct {
	base *url.URL
	rt   http.RoundTripper
}

func (c upstreamCaller) Call(req *http.Request, limit int) (Exchange, error) {
	proto := req.URL.Scheme
	req.URL.Scheme, req.URL.Host = c.base.Scheme, c.base.Host
	if prefix := strings.TrimSuffix(c.base.Path, "/"); prefix != "" {
		// A base URL with a path prefixes it, as ReverseProxy's SetURL does.
		req.URL.Path = prefix + req.URL.Path
		if req.URL.RawPath != "" {
			req.URL.RawPath = strings.TrimSuffix(c.base.EscapedPath(), "/") + req.URL.RawPath
		}
	}
	if ip, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
		req.Header.Set("X-Forwarded-For", ip)
	}
	req.Header.Set("X-Forwarded-Host", req.Host)
	req.Header.Set("X-Forwarded-Proto", proto)
	req.RemoteAddr = ""
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		return Exchange{}, err
	}
	defer resp.Body.Close()
	bw := newBufWriter(limit)
	bw.header, bw.status = resp.Header, resp.StatusCode
	if _, err := io.Copy(bw, resp.Body); err != nil {
		return Exchange{}, err
	}
	return bw.exchange(), nil
}

// errNoSide is the error of a comparison whose side has no caller.
var errNoSide = errors.New("shadow: no caller for this side")

// bufWriter buffers one side's answer. Past the limit it keeps reading
// (and dropping) the body, so that the upstream connection stays reusable.
type bufWriter struct {
	header    http.Header
	status    int
	body      []byte
	limit     int
	truncated bool
	err       error
}

func newBufWriter(limit int) *bufWriter { return &bufWriter{header: http.Header{}, limit: limit} }

func (b *bufWriter) Header() http.Header { return b.header }

func (b *bufWriter) WriteHeader(code int) {
	if b.status == 0 && code >= 200 {
		b.status = code
	}
}

func (b *bufWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	if !b.truncated {
		if len(b.body)+len(p) > b.limit {
			b.truncated = true
		} else {
			b.body = append(b.body, p...)
		}
	}
	return len(p), nil
}

// Flush lets streaming handlers write into the buffer.
func (b *bufWriter) Flush() {}

func (b *bufWriter) exchange() Exchange {
	st := b.status
	if st == 0 {
		st = http.StatusOK
	}
	return Exchange{Status: st, Header: b.header, Body: b.body, Truncated: b.truncated}
}
