package shadow

import (
	"bufio"
	"errors"
	"net"
	"net/http"
)

// Tee is an http.ResponseWriter that streams the primary answer to the
// client unchanged and keeps a copy of its first bytes, its status and
// headers for the comparison. Flush, Hijack and Unwrap pass through, so
// ReverseProxy's streaming and upgrades reach the connection.
type Tee struct {
	w      http.ResponseWriter
	limit  int
	status int
	buf    []byte
	// truncated: the answer went past limit (the copy is incomplete).
	truncated bool
	hijacked  bool
}

var _ http.ResponseWriter = (*Tee)(nil)

// NewTee wraps w, keeping at most limit bytes of the body.
func NewTee(w http.ResponseWriter, limit int) *Tee {
	return &Tee{w: w, limit: limit}
}

// Header returns the client's header map.
func (t *Tee) Header() http.Header { return t.w.Header() }

// WriteHeader sends the status to the client and notes it.
func (t *Tee) WriteHeader(code int) {
	if t.status == 0 && code >= 200 || code == http.StatusSwitchingProtocols {
		t.status = code
	}
	t.w.WriteHeader(code)
}

// Write sends p to the client first, then copies what fits.
func (t *Tee) Write(p []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	n, err := t.w.Write(p)
	t.keep(p[:n])
	return n, err
}

func (t *Tee) keep(p []byte) {
	if t.truncated {
		return
	}
	room := t.limit - len(t.buf)
	if len(p) > room {
		t.truncated = true
		return
	}
	if t.buf == nil {
		t.buf = make([]byte, 0, min(t.limit, max(len(p), 512)))
	}
	t.buf = append(t.buf, p...)
}

// Flush flushes the client's writer.
func (t *Tee) Flush() {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	_ = http.NewResponseController(t.w).Flush()
}

// Hijack hands the connection over (an upgrade); the answer is then not
// comparable.
func (t *Tee) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	t.hijacked = true
	return http.NewResponseController(t.w).Hijack()
}

// Unwrap returns the client's writer (for http.ResponseController).
func (t *Tee) Unwrap() http.ResponseWriter { return t.w }

// Status is the status sent (0 before anything was written).
func (t *Tee) Status() int { return t.status }

// errNotComparable explains why a tee's copy cannot be compared.
var (
	errTruncated = errors.New("response_too_large")
	errHijacked  = errors.New("upgrade")
	errNoAnswer  = errors.New("no_answer")
)

// exchange returns the copy, or why it cannot be compared. The header map
// is cloned: the client's writer keeps its own.
func (t *Tee) exchange() (Exchange, error) {
	switch {
	case t.hijacked:
		return Exchange{}, errHijacked
	case t.truncated:
		return Exchange{}, errTruncated
	case t.status == 0:
		return Exchange{}, errNoAnswer
	}
	return Exchange{Status: t.status, Header: t.w.Header().Clone(), Body: t.buf}, nil
}
