// Command refproxy is the benchmark's Go reference: a bare
// httputil.ReverseProxy with a transport tuned for proxying and a pool of copy
// buffers, and nothing else (no routing, logging or metrics). It is the
// yardstick strangler's passthrough is measured against.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"time"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:18081", "address to listen on")
	upstream := flag.String("upstream", "http://127.0.0.1:18080", "upstream base URL")
	idle := flag.Int("max-idle-per-host", 512, "upstream keep-alive pool size (at least the concurrency)")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil {
		log.Fatalf("upstream: %v", err)
	}
	srv := &http.Server{
		Addr:              *addr,
		Handler:           newProxy(target, *idle),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	fmt.Fprintf(os.Stderr, "refproxy listening on %s -> %s\n", *addr, target)
	log.Fatal(srv.ListenAndServe())
}

// newProxy builds the reference proxy the way a careful Go proxy would: the
// Rewrite hook with SetURL and SetXForwarded, a keep-alive pool at least as
// large as the concurrency, no transparent compression, 32 KiB I/O buffers,
// and pooled copy buffers.
func newProxy(target *url.URL, maxIdlePerHost int) *httputil.ReverseProxy {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:           d.DialContext,
		MaxIdleConnsPerHost:   maxIdlePerHost,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport:  tr,
		BufferPool: bufferPool{},
	}
}

// bufferPool recycles ReverseProxy's 32 KiB copy buffers.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(buffers.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }
