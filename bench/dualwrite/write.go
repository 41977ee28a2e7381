package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/dualwrite"
	"github.com/nanopore/strangler/internal/proxy"
	"github.com/nanopore/strangler/internal/routing"
	"github.com/nanopore/strangler/internal/services/samples"
	"github.com/nanopore/strangler/internal/shadow"
)

// The cells of the write bench: the samples write group's mode, and
// whether legacy-mode writes are converged.
const (
	cellLegacy   = "legacy"          // no dual write: what users get today
	cellShadow   = "shadow"          // replay on the new side, compare, converge
	cellConverge = "legacy+converge" // legacy mode, converge only (the default)
)

// writeBench is the proxy wired as the executor wires the dual writes:
// the real route table, router and proxy in front of the legacy stand-in,
// the samples service in-process, and a Writer's Begin, Wrap and Done
// around each write.
type writeBench struct {
	routes  []config.Route
	rt      *routing.Router
	proxy   *proxy.Proxy
	writers map[string]*dualwrite.Writer // "pure" (SkipLegacyMode) and "follow"
	current atomic.Pointer[dualwrite.Writer]
	pool    *pgxpool.Pool
	dbURL   string
	reg     *prometheus.Registry
	url     string

	mu   sync.Mutex
	ids  []string
	hot  []time.Duration
	errs map[string]int
}

func newWriteBench(ctx context.Context, dbURL, legacyURL string) (*writeBench, func(), error) {
	root, err := repoRoot()
	if err != nil {
		return nil, nil, err
	}
	cfg, err := config.Load(config.Source{Path: filepath.Join(root, "config", "strangler.yaml"), Explicit: true})
	if err != nil {
		return nil, nil, err
	}
	pool, err := openMigrated(ctx, dbURL, 8)
	if err != nil {
		return nil, nil, err
	}
	b := &writeBench{routes: cfg.Routes, pool: pool, dbURL: dbURL, reg: prometheus.NewRegistry(), writers: map[string]*dualwrite.Writer{}}
	if err := b.setMode(cellLegacy); err != nil {
		return nil, nil, err
	}
	svc, err := samples.New(samples.Options{Pool: pool})
	if err != nil {
		return nil, nil, err
	}
	legacy, _ := url.Parse(legacyURL)
	b.proxy = proxy.New(proxy.Options{Legacy: legacy, Router: b.rt, Services: map[string]http.Handler{"samples": svc.Handler()},
		Registerer: prometheus.NewRegistry()})
	stop := b.startWriters(ctx, svc)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: b}
	go func() { _ = srv.Serve(ln) }()
	b.url = "http://" + ln.Addr().String()
	return b, func() { _ = srv.Close(); stop(); pool.Close() }, nil
}

// startWriters runs the two Writers (the comparisons go to a real
// shadower, without records).
func (b *writeBench) startWriters(ctx context.Context, svc *samples.Service) func() {
	sh := shadow.New(shadow.Options{Registerer: prometheus.NewRegistry()})
	// As serve does (openDualWriter): pools of their own.
	dwPool, err := dualwrite.OpenPool(ctx, b.dbURL, 8, false)
	if err != nil {
		panic(err)
	}
	hotPool, err := dualwrite.OpenPool(ctx, b.dbURL, 4, false)
	if err != nil {
		panic(err)
	}
	stores := dualwrite.Stores{Legacy: dwPool, New: dwPool}
	var wg sync.WaitGroup
	for name, skip := range map[string]bool{"pure": true, "follow": false} {
		w, err := dualwrite.NewWriter(dualwrite.Options{Stores: stores, Intents: hotPool, SkipLegacyMode: skip, Registerer: b.reg,
			Services: map[string]http.Handler{"samples": svc.Handler()}, Compare: dualwrite.JudgeWith(sh),
			Mode: func(string) string { return b.mode() }, NoRelay: skip})
		if err != nil {
			panic(err)
		}
		svc.SetMissing(w.Rescue("samples"))
		b.writers[name] = w
		wg.Go(func() { w.Run(ctx) })
	}
	b.current.Store(b.writers["pure"])
	return func() {
		for _, w := range b.writers {
			w.Close()
		}
		wg.Wait()
		hotPool.Close()
		dwPool.Close()
	}
}

// setMode puts the samples write group (every nanopore.* mutation) into
// mode, as a flip does.
func (b *writeBench) setMode(mode string) error {
	routes := make([]config.Route, len(b.routes))
	for i, r := range b.routes {
		if r.WriteGroup == "samples" {
			r.DefaultMode = mode
		}
		routes[i] = r
	}
	table, err := routing.Compile(routes, routing.CompileOptions{Services: []string{"samples"}, TRPCEndpoint: "/api/trpc"})
	if err != nil {
		return err
	}
	if b.rt == nil {
		b.rt, err = routing.NewRouter(table, routing.Options{CanaryCookie: "strangler_bucket"})
		return err
	}
	b.rt.SetTable(table)
	return nil
}

func (b *writeBench) mode() string {
	rs := b.rt.State().Table.Group("samples")
	return b.rt.State().Mode(rs[0]).Mode.String()
}

// cell configures one cell.
func (b *writeBench) cell(name string) error {
	mode, writer := cellLegacy, "follow"
	switch name {
	case cellLegacy:
		writer = "pure"
	case cellShadow:
		mode = cellShadow
	}
	b.current.Store(b.writers[writer])
	return b.setMode(mode)
}

// ServeHTTP is the executor's path for a whole request to legacy. It
// also times what the dual writes add on the hot path: Begin (reading the
// body, storing the intent) and Done (queueing the job).
func (b *writeBench) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := b.rt.Decide(r)
	t0 := time.Now()
	p := b.current.Load().Begin(r, infoFrom(&d))
	t1 := time.Now()
	b.proxy.ServeHTTP(p.Wrap(w), r)
	t2 := time.Now()
	p.Done()
	hot := t1.Sub(t0) + time.Since(t2)
	b.mu.Lock()
	b.hot = append(b.hot, hot)
	b.mu.Unlock()
}

// takeHot returns and forgets the hot-path times recorded so far.
func (b *writeBench) takeHot() []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	h := b.hot
	b.hot = nil
	return h
}

// infoFrom describes a decided request for Begin (cmd/strangler's
// dualInfo, which the executor is to use).
func infoFrom(d *routing.Decision) dualwrite.Info {
	in := dualwrite.Info{Primary: dualwrite.SideLegacy}
	if d.TRPC == nil {
		return in
	}
	in.Batch = d.TRPC.Batch
	for i, c := range d.Calls {
		call := dualwrite.Call{Procedure: d.TRPC.Names[i], Mode: c.Mode.String()}
		if c.Route != nil && c.Kind == routing.KindMutation {
			call.Route, call.Group = c.Route.ID, c.Route.WriteGroup
		}
		if c.Side == routing.SideNew {
			in.Primary = dualwrite.SideNew
		}
		in.Calls = append(in.Calls, call)
	}
	return in
}

// settle waits until the dual writes have nothing in flight.
func (b *writeBench) settle(ctx context.Context) time.Duration {
	start := time.Now()
	for ctx.Err() == nil {
		var n int
		err := b.pool.QueryRow(ctx, `SELECT count(*) FROM strangler.dualwrite_intents`).Scan(&n)
		if err == nil && n == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// op is one user write: a create, or a change of a known sample.
func (b *writeBench) op(c *http.Client, i int) (time.Duration, bool) {
	b.mu.Lock()
	n := len(b.ids)
	id := ""
	if n > 0 {
		id = b.ids[rand.IntN(n)]
	}
	b.mu.Unlock()
	proc, body := "nanopore.create", fmt.Sprintf(`{"sampleName":"B%d","submitterName":"Jo Smith","submitterEmail":"jo%d.update@lab.org","sampleType":"DNA","chartField":"HTSF-001","concentration":2.5,"volume":4,"totalAmount":10}`, i, i)
	switch {
	case n < 50 || i%5 == 0:
	case i%5 == 1:
		proc, body = "nanopore.update", `{"id":"`+id+`","data":{"volume":`+fmt.Sprint(i%90+1)+`}}`
	case i%5 == 2:
		proc, body = "nanopore.updateStatus", `{"id":"`+id+`","status":"`+[]string{"prep", "sequencing", "analysis"}[i%3]+`"}`
	case i%5 == 3:
		proc, body = "nanopore.assign", `{"id":"`+id+`","assignedTo":"Al Smith"}`
	default:
		proc, body = "nanopore.update", `{"id":"`+id+`","data":{"priority":"high"}}`
	}
	start := time.Now()
	resp, err := c.Post(b.url+"/api/trpc/"+proc, "application/json", strings.NewReader(body))
	if err != nil {
		b.noteError(err.Error())
		return 0, false
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if resp.StatusCode != http.StatusOK {
		b.noteError(fmt.Sprintf("%s %d %.120s", proc, resp.StatusCode, data))
		return took, false
	}
	if proc == "nanopore.create" {
		var env struct {
			Result struct{ Data struct{ ID string } } `json:"result"`
		}
		if json.Unmarshal(data, &env) == nil && env.Result.Data.ID != "" {
			b.mu.Lock()
			b.ids = append(b.ids, env.Result.Data.ID)
			b.mu.Unlock()
		}
	}
	return took, true
}

// convergeSeconds reads the converge-lag histogram: count, mean and the
// bucket bound of its 99th percentile.
func (b *writeBench) convergeSeconds() (n uint64, mean, p99 float64) {
	mfs, _ := b.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "strangler_dualwrite_converge_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			n += h.GetSampleCount()
			mean += h.GetSampleSum()
			p99 = max(p99, bucketQuantile(h, 0.99))
		}
	}
	if n > 0 {
		mean /= float64(n)
	}
	return n, mean, p99
}

func bucketQuantile(h *dto.Histogram, q float64) float64 {
	target := q * float64(h.GetSampleCount())
	bs := h.GetBucket()
	sort.Slice(bs, func(i, j int) bool { return bs[i].GetUpperBound() < bs[j].GetUpperBound() })
	for _, bk := range bs {
		if float64(bk.GetCumulativeCount()) >= target {
			return bk.GetUpperBound()
		}
	}
	return 0
}

// noteError counts a failed write by its description.
func (b *writeBench) noteError(what string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.errs == nil {
		b.errs = map[string]int{}
	}
	b.errs[what]++
}
