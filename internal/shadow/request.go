package shadow

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Header marks a shadow copy. A request that already carries it is never
// shadowed again, so that two proxies (or a proxy and a legacy app calling
// back through it) cannot loop.
const Header = "X-Strangler-Shadow"

// Marked reports whether a request is itself a shadow copy. The proxy
// strips X-Strangler-* headers from client requests, so it must ask before
// stripping.
func Marked(h http.Header) bool { return h.Get(Header) != "" }

// Request is a snapshot of a client request, taken before the primary
// runs: enough to send the same request again, off the hot path.
type Request struct {
	Method     string
	Host       string
	Path       string // escaped path
	RawQuery   string
	Header     http.Header
	Body       []byte
	RemoteAddr string
	TLS        bool
	// ID is the proxy's request id (X-Request-Id).
	ID string
}

// Skip reasons counted in strangler_shadow_skipped_total.
const (
	SkipLoop          = "loop"
	SkipUnsafe        = "unsafe"
	SkipSplit         = "split"
	SkipUpgrade       = "upgrade"
	SkipStreaming     = "streaming"
	SkipBodyTooLarge  = "body_too_large"
	SkipBodyRead      = "body_read_error"
	SkipQueueFull     = "queue_full"
	SkipMemory        = "memory"
	SkipSecondaryDown = "secondary_down"
	SkipMixedTargets  = "mixed_targets"
	SkipResponseLarge = "response_too_large"
	SkipNoAnswer      = "no_answer"
	SkipShutdown      = "shutdown"
)

// hopHeaders are not copied into a shadow request (RFC 9110 7.6.1), nor
// are the proxy's own X-Strangler-* headers.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// capture snapshots r, buffering its body up to limit bytes. r.Body is
// replaced so that the primary still reads the whole body. A body over the
// limit (by Content-Length, or once read) is not kept: the request is
// served and the comparison skipped with the reason returned.
func capture(r *http.Request, limit int64) (*Request, string) {
	q := &Request{
		Method: r.Method, Host: r.Host, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
		Header: cleanHeader(r.Header), RemoteAddr: r.RemoteAddr, TLS: r.TLS != nil,
		ID: r.Header.Get("X-Request-Id"),
	}
	if r.Body == nil || r.Body == http.NoBody {
		return q, ""
	}
	if r.ContentLength > limit {
		return nil, SkipBodyTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	switch {
	case err != nil:
		r.Body = readCloser{io.MultiReader(bytes.NewReader(body), errReader{err}), r.Body}
		return nil, SkipBodyRead
	case int64(len(body)) > limit:
		r.Body = readCloser{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		return nil, SkipBodyTooLarge
	}
	r.Body = readCloser{bytes.NewReader(body), r.Body}
	q.Body = body
	return q, ""
}

func cleanHeader(h http.Header) http.Header {
	out := h.Clone()
	for _, k := range hopHeaders {
		delete(out, k)
	}
	for k := range out {
		if strings.HasPrefix(k, "X-Strangler-") {
			delete(out, k)
		}
	}
	return out
}

// readCloser reads from r and closes the original body.
type readCloser struct {
	io.Reader
	c io.Closer
}

func (rc readCloser) Close() error { return rc.c.Close() }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// build makes the shadow request: the snapshot, or the given path, query
// and body in its place (a part of a tRPC batch), marked with Header, on
// ctx (the shadower's own, never the client's).
func (q *Request) build(ctx context.Context, path, rawQuery string, body []byte) (*http.Request, error) {
	u := &url.URL{Scheme: "http", Host: q.Host, RawQuery: rawQuery}
	if q.TLS {
		u.Scheme = "https"
	}
	p, err := url.PathUnescape(path)
	if err != nil {
		return nil, errors.New("shadow: bad path")
	}
	u.Path, u.RawPath = p, path
	req, err := http.NewRequestWithContext(ctx, q.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body == nil {
		req.Body = http.NoBody
	}
	req.Header = q.Header.Clone()
	req.Header.Set(Header, "1")
	req.Host = q.Host
	req.RemoteAddr = q.RemoteAddr
	req.RequestURI = ""
	req.ContentLength = int64(len(body))
	if len(body) > 0 {
		req.Header.Set("Content-Length", strconv.Itoa(len(body)))
	} else {
		req.Header.Del("Content-Length")
	}
	return req, nil
}

// size is the memory the snapshot holds.
func (q *Request) size() int64 { return int64(len(q.Body)) }
