// Command faultproxy runs a fault proxy (package faultproxy) as its own
// process: requests on -listen go to -upstream, faults are set through the
// control API on -control. When both listeners are bound it prints one JSON
// line: {"message":"faultproxy listening","listen":ADDR,"control":ADDR}.
//
//	faultproxy -upstream http://127.0.0.1:3002 -listen 127.0.0.1:0 -control 127.0.0.1:0
//	curl -X PUT -d '[{"kind":"error","rate":0.2}]' http://CONTROL/faults
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nanopore/strangler/internal/faultproxy"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "faultproxy:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:0", "address to proxy on")
	control := flag.String("control", "127.0.0.1:0", "address of the control API")
	upstream := flag.String("upstream", "", "upstream base URL (required)")
	flag.Parse()
	up, err := url.Parse(*upstream)
	if err != nil || up.Host == "" {
		return fmt.Errorf("-upstream: need a base URL such as http://127.0.0.1:3002 (got %q)", *upstream)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	cln, err := net.Listen("tcp", *control)
	if err != nil {
		return err
	}
	p := faultproxy.New(faultproxy.Options{Upstream: up})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	servers := []*http.Server{
		{Handler: p, ReadHeaderTimeout: 10 * time.Second},
		{Handler: p.Control(), ReadHeaderTimeout: 10 * time.Second},
	}
	line, _ := json.Marshal(map[string]string{"message": "faultproxy listening",
		"listen": ln.Addr().String(), "control": cln.Addr().String(), "upstream": up.String()})
	fmt.Println(string(line))
	g, gctx := errgroup.WithContext(ctx)
	for i, l := range []net.Listener{ln, cln} {
		g.Go(func() error {
			if err := servers[i].Serve(l); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		p.Close() // hanging requests end, so that Shutdown does not wait for them
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.Shutdown(sctx)
		}
		return nil
	})
	return g.Wait()
}
