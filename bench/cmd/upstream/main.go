// Command upstream is the benchmark's stand-in for the legacy app: a tiny,
// cheap HTTP server whose answers are built once at start, so that every proxy
// under test sees the same upstream cost.
//
//	GET  /1k      1 KiB JSON, Content-Length set
//	GET  /64k     64 KiB JSON, Content-Length set
//	POST /echo1k  reads the body and answers 1 KiB JSON
//	GET  /health  200 (strangler's health checker polls it)
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:18080", "address to listen on")
	flag.Parse()
	srv := &http.Server{
		Addr:              *addr,
		Handler:           newHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
	}
	fmt.Fprintf(os.Stderr, "upstream listening on %s\n", *addr)
	log.Fatal(srv.ListenAndServe())
}

// jsonBody returns a JSON document of exactly n bytes: an object with one
// string field padded to size.
func jsonBody(n int) []byte {
	const head, tail = `{"data":"`, `"}`
	pad := n - len(head) - len(tail)
	return []byte(head + string(bytes.Repeat([]byte("x"), pad)) + tail)
}

// newHandler serves the fixed answers. Headers are set by direct map
// assignment of pre-built slices so that the upstream stays as cheap as
// possible: its CPU is shared with the load generator.
func newHandler() http.Handler {
	b1k, b64k := jsonBody(1<<10), jsonBody(64<<10)
	ctype := []string{"application/json"}
	len1k, len64k := []string{strconv.Itoa(len(b1k))}, []string{strconv.Itoa(len(b64k))}
	fixed := func(body []byte, length []string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h["Content-Type"], h["Content-Length"] = ctype, length
			_, _ = w.Write(body)
		}
	}
	get1k, get64k := fixed(b1k, len1k), fixed(b64k, len64k)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/1k" && r.Method == http.MethodGet:
			get1k(w, r)
		case r.URL.Path == "/64k" && r.Method == http.MethodGet:
			get64k(w, r)
		case r.URL.Path == "/echo1k" && r.Method == http.MethodPost:
			// Drain the body so that the request is really read, as an
			// application would.
			_, _ = io.Copy(io.Discard, r.Body)
			get1k(w, r)
		case r.URL.Path == "/health":
			w.WriteHeader(http.StatusOK)
		default:
			http.NotFound(w, r)
		}
	})
}
