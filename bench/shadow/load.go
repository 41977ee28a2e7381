package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// result is one load run.
type result struct {
	Sent, OK, Failed int64
	Elapsed          time.Duration
	// Latencies are per request, from the moment it was due (open loop:
	// a late send counts against the latency, no coordinated omission).
	Latencies []time.Duration
}

func (r *result) rps() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

func (r *result) pct(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(p * float64(len(r.Latencies)-1))
	return r.Latencies[i]
}

func newClient() *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: d.DialContext, MaxIdleConns: 0, MaxIdleConnsPerHost: 4096,
		IdleConnTimeout: time.Minute, DisableCompression: true,
	}}
}

func fetch(c *http.Client, url string) bool {
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// openLoop sends requests at a fixed rate for d, whatever the answers take:
// request i is due at start + i/rate and is sent then, on its own
// goroutine (at most maxInflight at once; past that a request is counted
// failed, never queued).
func openLoop(ctx context.Context, c *http.Client, url string, rate float64, d time.Duration) *result {
	const maxInflight = 20000
	res := &result{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var inflight atomic.Int64
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	n := int64(rate * d.Seconds())
	for i := int64(0); i < n && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		res.Sent++
		if inflight.Load() >= maxInflight {
			res.Failed++
			continue
		}
		inflight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inflight.Add(-1)
			ok := fetch(c, url)
			lat := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				res.OK++
				res.Latencies = append(res.Latencies, lat)
			} else {
				res.Failed++
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	sort.Slice(res.Latencies, func(i, j int) bool { return res.Latencies[i] < res.Latencies[j] })
	return res
}

// closedLoop runs conns clients back to back for d: the most the target
// sustains.
func closedLoop(ctx context.Context, c *http.Client, url string, conns int, d time.Duration) *result {
	res := &result{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	for k := 0; k < conns; k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lats []time.Duration
			var ok, failed int64
			for ctx.Err() == nil {
				t := time.Now()
				if fetch(c, url) {
					ok++
					lats = append(lats, time.Since(t))
				} else {
					failed++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.OK += ok
			res.Failed += failed
			res.Sent += ok + failed
			res.Latencies = append(res.Latencies, lats...)
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	sort.Slice(res.Latencies, func(i, j int) bool { return res.Latencies[i] < res.Latencies[j] })
	return res
}

// loadMain runs one open-loop load by hand and prints its latencies.
func loadMain(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	url := fs.String("url", "", "target URL")
	rate := fs.Float64("rate", 1000, "requests per second")
	d := fs.Duration("duration", 10*time.Second, "how long")
	_ = fs.Parse(args)
	res := openLoop(context.Background(), newClient(), *url, *rate, *d)
	fmt.Printf("%.0f req/s p50 %v p99 %v p99.9 %v max %v failed %d\n", res.rps(), res.pct(0.5), res.pct(0.99),
		res.pct(0.999), res.pct(1), res.Failed)
	return nil
}
