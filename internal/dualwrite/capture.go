package dualwrite

import (
	"net/http"
)

// capture is an http.ResponseWriter that passes the primary's answer to
// the client unchanged and keeps its status and the first limit bytes of
// its body, from which the dual write learns what legacy did.
type capture struct {
	w         http.ResponseWriter
	limit     int
	status    int
	body      []byte
	truncated bool
}

var _ http.ResponseWriter = (*capture)(nil)

func (c *capture) Header() http.Header { return c.w.Header() }

func (c *capture) WriteHeader(code int) {
	if c.status == 0 && code >= 200 {
		c.status = code
	}
	c.w.WriteHeader(code)
}

func (c *capture) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.w.Write(p)
	if !c.truncated {
		if len(c.body)+n > c.limit {
			c.truncated = true
		} else {
			c.body = append(c.body, p[:n]...)
		}
	}
	return n, err
}

// Flush passes a flush on (ReverseProxy flushes streamed answers).
func (c *capture) Flush() {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	_ = http.NewResponseController(c.w).Flush()
}

// Unwrap returns the client's writer, for http.ResponseController.
func (c *capture) Unwrap() http.ResponseWriter { return c.w }
