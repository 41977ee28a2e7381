package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// discardWriter is a reusable ResponseWriter that keeps nothing, so that
// the benchmark counts the proxy's allocations, not a recorder's.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkChain serves a 1 KiB GET through strangler's whole public chain
// (request id, scope, access log, metrics, executor) and through a bare
// httputil.ReverseProxy with the same transport, against one loopback
// upstream. The difference in allocs/op is what strangler adds per request;
// time/op includes the loopback round trip.
func BenchmarkChain(b *testing.B) {
	body := strings.Repeat("x", 1024)
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	defer back.Close()
	u, _ := url.Parse(back.URL)
	p := New(Options{Legacy: u, AccessLog: true, Logger: zerolog.New(io.Discard).With().Timestamp().Logger(),
		Registerer: prometheus.NewRegistry(), Router: passthroughDecider{}})
	ref := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport:  p.Transport(),
		BufferPool: bufferPool{},
	}
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"reverseproxy", ref}, {"strangler", p}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			w := &discardWriter{}
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, "http://app.test/1k", nil)
				r.RemoteAddr = "192.0.2.1:1234"
				w.h = http.Header{}
				c.h.ServeHTTP(w, r)
			}
		})
	}
}
