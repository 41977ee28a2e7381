package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/rs/zerolog"
)

// recorder remembers the status and size of an answer. It unwraps to the
// real writer so that http.ResponseController (used by ReverseProxy to flush
// streams and hijack upgrades) reaches the connection.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 || code == http.StatusSwitchingProtocols {
		w.status = code
	}
	w.keepContentType()
	w.ResponseWriter.WriteHeader(code)
}

// keepContentType stops net/http from adding a Content-Type of its own
// (it sniffs one when the header is missing): an upstream answer without
// one must reach the client without one.
func (w *recorder) keepContentType() {
	h := w.ResponseWriter.Header()
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil
	}
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
		w.keepContentType()
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

func (w *recorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
		w.keepContentType()
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestState is one request's scope and the recorder of its answer, in
// one allocation.
type requestState struct {
	Scope
	rec recorder
}

// ServeHTTP answers one public request. The steps, outermost first, are
// plain calls rather than nested handlers, so that the stack of every
// request in flight (which each garbage collection scans) stays short:
//  1. here: the request id and scope, panic recovery, and the access log
//     line and metrics when the answer is done;
//  2. admit: rate limits per client, user and login (429 before any work);
//  3. execute, which decides and forwards to the decided side (and sheds
//     load per target).
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := &requestState{Scope: Scope{ID: p.ids.requestID(r), Start: p.opts.Now()}}
	sc, rec := &st.Scope, &st.rec
	rec.ResponseWriter = w
	// The answer's header and, later, the upstream request's share the
	// one value slice, which nothing writes into (Set replaces, Add
	// appends). The client request itself gets the id only once the
	// executor knows it goes beyond a plain passthrough (see
	// execute); the reverse proxy adds it to what it sends upstream.
	sc.idHeader = []string{sc.ID}
	w.Header()[RequestIDHeader] = sc.idHeader
	p.metrics.inFlight.Inc()
	defer func() {
		p.metrics.inFlight.Dec()
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				// The answer broke mid-stream (an upstream died after
				// its headers): log it, then let net/http abort the
				// connection so that the client sees a truncated
				// answer, never a clean end.
				if sc.Err == nil {
					sc.Err = errors.New("answer aborted mid-stream")
				}
				p.finish(rec, r, sc)
				panic(v)
			} else {
				sc.Err = fmt.Errorf("panic: %v", v)
				p.opts.Logger.Error().Str("request_id", sc.ID).Interface("panic", v).Msg("handler panicked")
				if rec.status == 0 {
					p.writeError(rec, r, http.StatusInternalServerError)
				}
			}
		}
		p.finish(rec, r, sc)
	}()
	r = withScope(r, sc)
	if p.admit(rec, r) {
		p.execute(rec, r)
	}
}

// finish logs and counts one answered request.
func (p *Proxy) finish(rec *recorder, r *http.Request, sc *Scope) {
	status := rec.status
	if sc.Status != 0 {
		status = sc.Status
	}
	if status == 0 {
		status = http.StatusOK
	}
	d := p.opts.Now().Sub(sc.Start)
	p.metrics.observe(sc.Route, sc.Target, r.Method, status, d.Seconds())
	if !p.opts.AccessLog {
		return
	}
	var ev *zerolog.Event
	if status >= 500 || sc.Err != nil {
		ev = p.opts.Logger.Warn()
	} else {
		ev = p.opts.Logger.Info()
	}
	ev = ev.Str("request_id", sc.ID).Str("method", r.Method).Str("path", r.URL.Path).
		Str("route", sc.Route).Str("target", sc.Target).Int("status", status).
		Int64("bytes", rec.bytes).Float64("duration_ms", float64(d.Microseconds())/1000)
	if sc.Err != nil {
		ev = ev.Str("error", sc.Err.Error())
	}
	ev.Msg("request")
}
