package proxy

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Scope is the one typed request scope the middleware keeps in the context.
// The executor fills Route and Target once it knows them, so that the access
// log and metrics can name them.
type Scope struct {
	ID     string
	Start  time.Time
	Route  string
	Target string
	// Status overrides the logged status (499 when the client went away).
	Status int
	// Err is the upstream error, if any, for the access log.
	Err error

	// idHeader is ID as a header value (net/http's []string form).
	idHeader []string
}

type scopeKey struct{}

// ScopeFrom returns the request's scope, or nil outside the middleware.
func ScopeFrom(ctx context.Context) *Scope {
	s, _ := ctx.Value(scopeKey{}).(*Scope)
	return s
}

func withScope(r *http.Request, s *Scope) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), scopeKey{}, s))
}

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-Id"

// idSource makes request ids: a random per-process prefix and a counter,
// unique across replicas and cheap enough for the hot path.
type idSource struct {
	prefix string
	n      atomic.Uint64
}

func newIDSource() *idSource {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return &idSource{prefix: base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])}
}

func (s *idSource) next() string {
	n := s.n.Add(1)
	buf := make([]byte, 0, len(s.prefix)+1+16)
	buf = append(buf, s.prefix...)
	buf = append(buf, '-')
	buf = strconv.AppendUint(buf, n, 36)
	return string(buf)
}

// requestID keeps a client's id when it is short printable ASCII (so that it
// cannot inject into logs or headers), and makes a new one otherwise.
func (s *idSource) requestID(r *http.Request) string {
	var id string
	if v := r.Header[RequestIDHeader]; len(v) > 0 { // net/http canonicalised the key
		id = v[0]
	}
	if id == "" || len(id) > 128 {
		return s.next()
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return s.next()
		}
	}
	return id
}
