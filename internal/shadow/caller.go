package shadow

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
)

// Caller sends a shadow request to one side and buffers its answer, at
// most limit bytes of body (Exchange.Truncated past it). An error means
// the side could not answer (refused, timed out, panicked): that is the
// outcome "error", not a difference.
type Caller interface {
	Call(req *http.Request, limit int) (Exchange, error)
}

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

// Upstream returns a Caller that forwards to base over rt (the proxy's own
// transport, so that connections to the upstream are reused) as the proxy
// forwards: the client's Host kept, X-Forwarded-* set. Build one per
// upstream and keep it.
func Upstream(base *url.URL, rt http.RoundTripper) Caller {
	return upstreamCaller{rp: &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(base)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport: rt,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			w.(*bufWriter).err = err
		},
	}}
}

type upstreamCaller struct{ rp *httputil.ReverseProxy }

func (c upstreamCaller) Call(req *http.Request, limit int) (Exchange, error) {
	bw := newBufWriter(limit)
	c.rp.ServeHTTP(bw, req)
	if bw.err != nil {
		return Exchange{}, bw.err
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
