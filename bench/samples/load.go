package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// scenario is one kind of request. open > 0 makes an open-loop run at that
// many requests/s instead of a closed loop.
type scenario struct {
	name, method, path string
	// body makes request i's body ("" for none); ids are the seeded samples.
	body func(i int64, ids []string) string
	open float64
}

const createBody = `{"sampleName":"Bench Sample","projectId":"PRJ-7","submitterName":"Ann O'Neil",` +
	`"submitterEmail":"ann.oneil@lab.org","labName":"Genomics Lab","sampleType":"DNA","sampleBuffer":"TE",` +
	`"concentration":12.5,"volume":20,"totalAmount":250,"flowCellType":"R10.4.1","flowCellCount":2,` +
	`"priority":"high","assignedTo":"Kim Park","libraryPrepBy":"Lee Wong","chartField":"HTSF-001"}`

var statuses = []string{"prep", "sequencing", "analysis", "completed", "archived", "submitted"}

// selected are the scenarios the run measures (-only picks some).
func selected(o options) []scenario {
	var out []scenario
	for _, sc := range scenarios(o) {
		if o.only == "" || slices.Contains(strings.Split(o.only, ","), sc.name) {
			out = append(out, sc)
		}
	}
	return out
}

func scenarios(o options) []scenario {
	return []scenario{
		{name: "getAll", method: http.MethodGet, path: "/api/trpc/nanopore.getAll"},
		{name: "create", method: http.MethodPost, path: "/api/trpc/nanopore.create",
			body: func(int64, []string) string { return createBody }},
		{name: "updateStatus", method: http.MethodPost, path: "/api/trpc/nanopore.updateStatus",
			body: func(i int64, ids []string) string {
				return `{"id":"` + ids[i%int64(len(ids))] + `","status":"` + statuses[i%int64(len(statuses))] + `"}`
			}},
		{name: "health", method: http.MethodGet, path: "/api/trpc/health"},
		{name: fmt.Sprintf("getAll at %g/s", o.getAllRate), method: http.MethodGet, path: "/api/trpc/nanopore.getAll", open: o.getAllRate},
	}
}

// loadResult is one measured run.
type loadResult struct {
	ok, failed int64
	elapsed    time.Duration
	lat        []time.Duration // sorted
	bytes      int64           // response bytes of the last good answer
}

func (r *loadResult) rps() float64 { return float64(r.ok) / r.elapsed.Seconds() }

func (r *loadResult) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, int(p*float64(len(r.lat))))]
}

func newClient(conns int) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		DialContext: d.DialContext, MaxIdleConnsPerHost: conns + 64, MaxConnsPerHost: 0,
		IdleConnTimeout: time.Minute, DisableCompression: true,
	}}
}

// do sends request i of sc to t and reports whether it answered 200.
func do(ctx context.Context, c *http.Client, t *target, sc scenario, ids []string, i int64) (bool, int64) {
	var body io.Reader
	if sc.body != nil {
		body = strings.NewReader(sc.body(i, ids))
	}
	req, err := http.NewRequestWithContext(ctx, sc.method, t.base+sc.path, body)
	if err != nil {
		return false, 0
	}
	for k, v := range t.header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return false, 0
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, n
}

// closedLoop runs conns clients back to back for d. Requests still in
// flight at the end are waited for, never cancelled: a client that gives up
// would count as a failure of the service in the proxy's breaker and guard
// (see the report of issue 4), and would end the measurement early.
func closedLoop(ctx context.Context, c *http.Client, t *target, sc scenario, ids []string, conns int, d time.Duration) *loadResult {
	res := &loadResult{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var next atomic.Int64
	start := time.Now()
	end := start.Add(d)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			var ok, failed, size int64
			for time.Now().Before(end) && ctx.Err() == nil {
				begin := time.Now()
				good, n := do(ctx, c, t, sc, ids, next.Add(1))
				if good {
					ok, size = ok+1, n
					lat = append(lat, time.Since(begin))
				} else {
					failed++
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.ok, res.failed, res.lat = res.ok+ok, res.failed+failed, append(res.lat, lat...)
			res.bytes = max(res.bytes, size)
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.lat)
	return res
}

// openTimeout is how long an open-loop request may take before it counts
// as failed (a server far behind would otherwise keep the cell running).
const openTimeout = 10 * time.Second

// openLoop sends requests at rate for d whatever the answers take: request
// i is due at start + i/rate and its latency counts from then, so a server
// that falls behind is charged for the wait. At most 2,000 are in flight;
// past that, or past openTimeout, a request counts as failed.
func openLoop(ctx context.Context, c *http.Client, t *target, sc scenario, ids []string, rate float64, d time.Duration) *loadResult {
	res := &loadResult{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var inflight atomic.Int64
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := int64(0); i < int64(rate*d.Seconds()) && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		if inflight.Load() >= 2000 {
			mu.Lock()
			res.failed++
			mu.Unlock()
			continue
		}
		inflight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inflight.Add(-1)
			rctx, cancel := context.WithTimeout(ctx, openTimeout)
			defer cancel()
			good, n := do(rctx, c, t, sc, ids, i)
			lat := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			if good {
				res.ok++
				res.lat = append(res.lat, lat)
				res.bytes = n
			} else {
				res.failed++
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.lat)
	return res
}

// check makes sure both targets answer every scenario, that the proxy's
// answers come from the Go service, and that both getAll answers list
// every seeded sample.
func check(ctx context.Context, b *bench) error {
	for _, t := range b.targets {
		if err := checkTarget(ctx, t, b.ids); err != nil {
			return err
		}
	}
	return nil
}

// checkTarget sends each scenario's request once to t and checks the
// answer; it leaves the table as seeded.
func checkTarget(ctx context.Context, t *target, ids []string) error {
	c := newClient(1)
	defer c.CloseIdleConnections()
	for _, sc := range scenarios(options{getAllRate: 1}) {
		if err := reset(ctx, t, ids); err != nil {
			return err
		}
		var body io.Reader
		if sc.body != nil {
			body = strings.NewReader(sc.body(0, ids))
		}
		req, _ := http.NewRequestWithContext(ctx, sc.method, t.base+sc.path, body)
		if sc.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		for k, v := range t.header {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		side := resp.Header.Get("X-Strangler-Target")
		switch {
		case resp.StatusCode != http.StatusOK:
			return fmt.Errorf("%s %s: %d %.300s", t.name, sc.name, resp.StatusCode, answer)
		case len(t.header) > 0 && side != "service:samples":
			return fmt.Errorf("%s %s was answered by %q, not the Go service (did the guard roll the route back?)", t.name, sc.name, side)
		case strings.HasPrefix(sc.name, "getAll") && strings.Count(string(answer), `"created_by"`) != len(ids):
			return fmt.Errorf("%s getAll lists %d samples, want %d", t.name, strings.Count(string(answer), `"created_by"`), len(ids))
		}
	}
	return reset(ctx, t, ids)
}
