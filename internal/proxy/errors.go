package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/nanopore/strangler/internal/trpc"
)

// StatusClientClosed is logged when the client went away before its answer
// (nginx's 499); nothing is sent, since nobody is listening.
const StatusClientClosed = 499

// Upstream error kinds, the `kind` label of strangler_upstream_errors_total.
const (
	kindConnect    = "connect"
	kindTimeout    = "timeout"
	kindReset      = "reset"
	kindClientGone = "client_gone"
	kindOther      = "other"
)

// classify maps an upstream error to the status the client gets and the
// metric kind: client cancel 499, answer timeout 504, anything else 502
// (caddy's statusError).
func classify(ctx context.Context, err error) (status int, kind string) {
	if errors.Is(err, context.Canceled) || ctx.Err() == context.Canceled {
		return StatusClientClosed, kindClientGone
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return http.StatusBadGateway, kindConnect
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return http.StatusGatewayTimeout, kindTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return http.StatusGatewayTimeout, kindTimeout
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return http.StatusBadGateway, kindReset
	}
	return http.StatusBadGateway, kindOther
}

// errorMessages are the short, address-free texts of the proxy's own answers.
var errorMessages = map[int]struct{ code, text string }{
	http.StatusBadGateway:          {"bad_gateway", "The service behind this address could not be reached."},
	http.StatusGatewayTimeout:      {"gateway_timeout", "The service behind this address did not answer in time."},
	http.StatusInternalServerError: {"internal_error", "The proxy failed to handle this request."},
	http.StatusServiceUnavailable:  {"service_unavailable", "The service is overloaded; try again shortly."},
}

// writeError answers with the proxy's own error: a tRPC error envelope on
// tRPC paths (so that the browser's tRPC client can read it: an array with
// one element per procedure for batches), a short JSON body elsewhere.
// Neither names an internal address.
func (p *Proxy) writeError(w http.ResponseWriter, r *http.Request, status int) {
	m, ok := errorMessages[status]
	if !ok {
		status, m = http.StatusBadGateway, errorMessages[http.StatusBadGateway]
	}
	if req, ok := p.trpcRequest(r); ok {
		st, body := trpc.ErrorResponse(req, trpcErrorFor(status), m.text)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(st)
		_, _ = w.Write(body)
		return
	}
	p.writeJSON(w, r, status, m.code, m.text)
}

// trpcRequest parses r as a tRPC request, if it is one.
func (p *Proxy) trpcRequest(r *http.Request) (trpc.Request, bool) {
	path := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(path, p.opts.TRPCEndpoint)
	if !ok || rest != "" && rest[0] != '/' {
		return trpc.Request{}, false
	}
	req, err := trpc.ParseURL(rest, r.URL.RawQuery)
	return req, err == nil
}
