package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
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

// trpcCodes are tRPC 11's names for the proxy's own statuses.
var trpcCodes = map[int]string{
	http.StatusBadGateway:          "BAD_GATEWAY",
	http.StatusGatewayTimeout:      "GATEWAY_TIMEOUT",
	http.StatusInternalServerError: "INTERNAL_SERVER_ERROR",
	http.StatusServiceUnavailable:  "SERVICE_UNAVAILABLE",
}

// writeError answers with the proxy's own error: a tRPC error envelope on
// tRPC paths (so that the browser's tRPC client can read it), a short JSON
// body elsewhere. Neither names an internal address.
func (p *Proxy) writeError(w http.ResponseWriter, r *http.Request, status int) {
	m, ok := errorMessages[status]
	if !ok {
		m = errorMessages[http.StatusBadGateway]
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	var body []byte
	if names, batch, ok := trpcCall(r); ok {
		body = trpcErrorBody(names, batch, m.text, status)
	} else {
		body = []byte(`{"error":"` + m.code + `","message":"` + m.text + `","request_id":` + strconv.Quote(w.Header().Get(RequestIDHeader)) + `}`)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// trpcCall says whether r is a tRPC request and, if so, which procedures it
// names and whether it is a batch.
func trpcCall(r *http.Request) (names []string, batch bool, ok bool) {
	const base = "/api/trpc"
	p := r.URL.Path
	if p != base && !strings.HasPrefix(p, base+"/") {
		return nil, false, false
	}
	seg := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(p, base), "/"), "/")
	batch = r.URL.Query().Get("batch") == "1"
	if !batch {
		return []string{seg}, false, true
	}
	return strings.Split(seg, ","), true, true
}

func trpcErrorBody(names []string, batch bool, msg string, status int) []byte {
	code := trpcCodes[status]
	one := func(name string) string {
		return `{"error":{"message":` + strconv.Quote(msg) + `,"code":-32603,"data":{"code":"` + code +
			`","httpStatus":` + strconv.Itoa(status) + `,"path":` + strconv.Quote(name) + `}}}`
	}
	if !batch {
		return []byte(one(names[0]))
	}
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = one(n)
	}
	return []byte("[" + strings.Join(parts, ",") + "]")
}
