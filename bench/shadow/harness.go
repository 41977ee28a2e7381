package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	_ "net/http/pprof"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/proxy"
	"github.com/nanopore/strangler/internal/routing"
	"github.com/nanopore/strangler/internal/shadow"
)

// proxyMain runs the proxy as the executor will run it with shadowing:
// the real route table and router (nanopore.getAll towards a remote new
// side, in the mode given), the real proxy (legacy passthrough), and the
// shadower wired around the primary exactly as the executor wiring does
// (Begin, Wrap, Submit; callers reusing one transport per upstream).
func proxyMain(args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ExitOnError)
	addr := fs.String("listen", "127.0.0.1:0", "public address")
	statsAddr := fs.String("stats", "127.0.0.1:0", "stats address (/stats)")
	legacyRaw := fs.String("legacy", "", "legacy base URL")
	newRaw := fs.String("new", "", "new side base URL")
	mode := fs.String("mode", "shadow", "mode of the route: legacy or shadow")
	workers := fs.Int("workers", 0, "shadow workers (0: default)")
	queue := fs.Int("queue", 0, "shadow queue (0: default)")
	_ = fs.Parse(args)
	legacyURL, err := url.Parse(*legacyRaw)
	if err != nil {
		return err
	}
	newURL, err := url.Parse(*newRaw)
	if err != nil {
		return err
	}
	rt, err := benchRouter(*newRaw, *mode)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	p := proxy.New(proxy.Options{Legacy: legacyURL, Router: rt, Registerer: prometheus.NewRegistry()})
	cfg := config.DefaultShadow()
	if *workers > 0 {
		cfg.Workers = *workers
	}
	if *queue > 0 {
		cfg.Queue = *queue
	}
	sh := shadow.New(shadow.Options{Config: &cfg, Registerer: reg})
	go sh.Run(context.Background())
	legacyC, newC := shadow.Upstream(legacyURL, p.Transport()), shadow.Upstream(newURL, p.Transport())
	front := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := rt.Decide(r)
		pending := sh.Begin(r, proxy.ShadowInfo(&d))
		p.ServeHTTP(pending.Wrap(w), r)
		pending.Submit(legacyC, newC)
	})
	// /stats for the driver, /debug/pprof for a person looking into a run.
	http.Handle("/stats", statsHandler(reg))
	go func() { _ = http.ListenAndServe(*statsAddr, nil) }()
	srv := &http.Server{Addr: *addr, Handler: front, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(os.Stderr, "proxy listening on %s, stats on %s\n", *addr, *statsAddr)
	return srv.ListenAndServe()
}

func benchRouter(target, mode string) (*routing.Router, error) {
	routes := []config.Route{{ID: "nanopore.getAll", Target: target, DefaultMode: mode,
		Match: config.Match{Procedures: []config.Procedure{{Name: "nanopore.getAll", Kind: "query"}}}}}
	table, err := routing.Compile(routes, routing.CompileOptions{})
	if err != nil {
		return nil, err
	}
	return routing.NewRouter(table, routing.Options{CanaryCookie: "strangler_bucket"})
}

// stats is what the driver samples from a proxy.
type stats struct {
	Goroutines int                `json:"goroutines"`
	HeapInuse  uint64             `json:"heap_inuse"`
	RSS        int64              `json:"rss"`
	Outcomes   map[string]float64 `json:"outcomes"`
	Skipped    map[string]float64 `json:"skipped"`
	Queue      float64            `json:"queue"`
	Inflight   float64            `json:"inflight_bytes"`
}

func statsHandler(reg *prometheus.Registry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st := stats{Goroutines: runtime.NumGoroutine(), HeapInuse: ms.HeapInuse, RSS: rss(),
			Outcomes: map[string]float64{}, Skipped: map[string]float64{}}
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				switch mf.GetName() {
				case "strangler_shadow_comparisons_total":
					st.Outcomes[labels["outcome"]] += m.GetCounter().GetValue()
				case "strangler_shadow_skipped_total":
					st.Skipped[labels["reason"]] += m.GetCounter().GetValue()
				case "strangler_shadow_queue_length":
					st.Queue = m.GetGauge().GetValue()
				case "strangler_shadow_inflight_bytes":
					st.Inflight = m.GetGauge().GetValue()
				}
			}
		}
		_ = json.NewEncoder(w).Encode(st)
	})
}

// rss reads the resident set size from /proc/self/statm.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
