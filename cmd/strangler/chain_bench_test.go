package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nanopore/strangler/internal/config"
)

// discardWriter is a reusable ResponseWriter that keeps nothing, so that
// the benchmark counts the proxy's allocations, not a recorder's.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkChain serves a 1 KiB GET through the public handler of a Main
// opened with the shipped config (routing, rate limits, guard, access log
// at info, metrics: what `strangler serve` runs), and through a bare
// httputil.ReverseProxy with a tuned transport, against one loopback
// upstream in this process. The difference is what strangler adds per
// request; bench/chain.sh counts it in instructions with callgrind.
func BenchmarkChain(b *testing.B) {
	body := strings.Repeat("x", 1024)
	back := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	defer back.Close()
	cfg, err := config.Load(config.Source{Path: shippedConfig, Explicit: true, Environ: []string{
		"STRANGLER_LISTEN=127.0.0.1:0", "STRANGLER_ADMIN_LISTEN=127.0.0.1:0", "STRANGLER_DATABASE_URL=",
		"STRANGLER_FLAGS_FILE=" + filepath.Join(b.TempDir(), "flags.yaml"), "STRANGLER_LEGACY_URL=" + back.URL,
	}})
	if err != nil {
		b.Fatal(err)
	}
	m := NewMain(cfg, newLogger(io.Discard, cfg.Log.Level))
	if err := m.Open(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	u, _ := url.Parse(back.URL)
	ref := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport:  m.proxy.Transport(),
		BufferPool: copyBuffers{},
	}
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"reverseproxy", ref}, {"strangler", m.proxy}} {
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

// copyBuffers recycles ReverseProxy's 32 KiB copy buffers, as the proxy does.
type copyBuffers struct{}

var copyPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (copyBuffers) Get() []byte  { return *(copyPool.Get().(*[]byte)) }
func (copyBuffers) Put(b []byte) { copyPool.Put(&b) }
