package dualwrite_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nanopore/strangler/internal/dualwrite"
	"github.com/nanopore/strangler/internal/services/samples"
	"github.com/nanopore/strangler/internal/testutil"
	"github.com/nanopore/strangler/internal/trpc"
)

// rig is the legacy stand-in, the samples service and a Writer behind a
// small front that calls Begin, Wrap and Done around each tRPC request as
// the proxy's executor does (the real wiring is tested end to end in
// cmd/strangler).
type rig struct {
	t       *testing.T
	stores  dualwrite.Stores
	standin *testutil.Standin
	svc     *samples.Service
	w       *dualwrite.Writer
	front   *httptest.Server
	legacy  *httputil.ReverseProxy
	mode    atomic.Value // the samples group's mode
	reg     *prometheus.Registry

	mu          sync.Mutex
	comparisons []dualwrite.Comparison
}

// rigOptions tune a rig.
type rigOptions struct {
	// legacyURL is the stand-in's database (default: the new one).
	legacyURL string
	opts      dualwrite.Options
	noRun     bool
}

func newRig(t *testing.T, newURL string, newPool *pgxpool.Pool, o rigOptions) *rig {
	t.Helper()
	if o.legacyURL == "" {
		o.legacyURL = newURL
	}
	r := &rig{t: t, reg: prometheus.NewRegistry()}
	r.mode.Store("shadow")
	r.standin = testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: o.legacyURL, GetAllTTL: -1})
	legacyPool := newPool
	if o.legacyURL != newURL {
		legacyPool = testutil.Pool(t, o.legacyURL)
	}
	r.stores = dualwrite.Stores{Legacy: legacyPool, New: newPool}
	r.svc = newService(t, newPool)
	u, _ := url.Parse(r.standin.URL)
	r.legacy = httputil.NewSingleHostReverseProxy(u)
	opts := o.opts
	opts.Stores, opts.Registerer = r.stores, r.reg
	opts.Services = map[string]http.Handler{"samples": r.svc.Handler()}
	opts.Mode = func(string) string { return r.mode.Load().(string) }
	opts.Compare = func(_ context.Context, c dualwrite.Comparison) {
		r.mu.Lock()
		r.comparisons = append(r.comparisons, c)
		r.mu.Unlock()
	}
	setDefaults(&opts)
	w, err := dualwrite.NewWriter(opts)
	if err != nil {
		t.Fatal(err)
	}
	r.w = w
	if !o.noRun {
		r.run()
	}
	r.front = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.front.Close)
	return r
}

// setDefaults makes the loops quick enough for tests.
func setDefaults(o *dualwrite.Options) {
	if o.Poll == 0 {
		o.Poll = 50 * time.Millisecond
	}
	if o.Retry.Base == 0 {
		o.Retry = dualwrite.Retry{Base: 100 * time.Millisecond, Max: time.Second}
	}
	if o.Relay.Poll == 0 {
		o.Relay.Poll = 10 * time.Millisecond
	}
}

// run starts the Writer until the test ends.
func (r *rig) run() {
	done := make(chan struct{})
	go func() { defer close(done); r.w.Run(context.Background()) }()
	r.t.Cleanup(func() { r.w.Close(); <-done })
}

// serve is the front: the decision, then Begin, Wrap and Done around the
// primary.
func (r *rig) serve(rw http.ResponseWriter, req *http.Request) {
	rest := strings.TrimPrefix(req.URL.EscapedPath(), trpc.Endpoint)
	parsed, _ := trpc.ParseURL(rest, req.URL.RawQuery)
	mode := r.mode.Load().(string)
	info := dualwrite.Info{RequestID: fmt.Sprint(time.Now().UnixNano()), Primary: dualwrite.SideLegacy, Batch: parsed.Batch}
	if mode == "new" {
		info.Primary = dualwrite.SideNew
	}
	for _, name := range parsed.Names {
		c := dualwrite.Call{Route: name, Procedure: name, Mode: mode}
		if _, ok := dualwrite.Samples.Procedures[name]; ok {
			c.Group = "samples"
		}
		info.Calls = append(info.Calls, c)
	}
	p := r.w.Begin(req, info)
	if info.Primary == dualwrite.SideNew {
		r.svc.Handler().ServeHTTP(rw, req)
		return
	}
	r.legacy.ServeHTTP(p.Wrap(rw), req)
	p.Done()
}

// call sends a mutation (one call, or a batch when several) and returns
// the status and body.
func (r *rig) call(body string, procs ...string) (int, []byte) {
	r.t.Helper()
	path := r.front.URL + trpc.Endpoint + "/" + strings.Join(procs, ",")
	if len(procs) > 1 {
		path += "?batch=1"
	}
	resp, err := http.Post(path, "application/json", strings.NewReader(body))
	if err != nil {
		r.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// create makes a sample and returns its id.
func (r *rig) create(name, email string) string {
	r.t.Helper()
	status, b := r.call(createInput(name, email), "nanopore.create")
	if status != http.StatusOK {
		r.t.Fatalf("create: %d %s", status, b)
	}
	var env struct {
		Result struct {
			Data struct{ ID string } `json:"data"`
		} `json:"result"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Result.Data.ID == "" {
		r.t.Fatalf("create answer %s: %v", b, err)
	}
	return env.Result.Data.ID
}

func createInput(name, email string) string {
	return fmt.Sprintf(`{"sampleName":%q,"submitterName":"Jo Smith","submitterEmail":%q,"sampleType":"DNA","chartField":"HTSF-001","concentration":2.5,"volume":4,"totalAmount":10}`, name, email)
}

// waitSettled waits until no intent is pending (stored or in memory) and
// the outbox is drained.
func (r *rig) waitSettled() {
	r.t.Helper()
	testutil.Eventually(r.t, waitTimeout, "dual writes to settle", func() bool {
		rep, err := dualwrite.Reconcile(context.Background(), dualwrite.ReconcileOptions{Spec: dualwrite.Samples, Stores: r.stores})
		return err == nil && rep.Intents.Pending == 0 && rep.Outbox.Pending == 0 && gauge(r.reg, "strangler_dualwrite_intents", "memory") == 0
	})
}

// reconcile returns the drift report.
func (r *rig) reconcile() *dualwrite.Report {
	r.t.Helper()
	rep, err := dualwrite.Reconcile(context.Background(), dualwrite.ReconcileOptions{Spec: dualwrite.Samples, Stores: r.stores})
	if err != nil {
		r.t.Fatal(err)
	}
	return rep
}

// wantNoDrift fails with the drifting rows.
func (r *rig) wantNoDrift() {
	r.t.Helper()
	if rep := r.reconcile(); rep.Total != 0 {
		b, _ := json.MarshalIndent(rep, "", " ")
		r.t.Fatalf("drift after dual writes:\n%s", b)
	}
}

// gauge reads a gauge with a label value (0 when absent).
func gauge(reg *prometheus.Registry, name, label string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

// counter sums a counter's series whose labels include all of labels.
func counter(reg *prometheus.Registry, name string, labels ...string) float64 {
	mfs, _ := reg.Gather()
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			have := map[string]bool{}
			for _, l := range m.GetLabel() {
				have[l.GetValue()] = true
			}
			ok := true
			for _, l := range labels {
				ok = ok && have[l]
			}
			if ok {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// compared returns the comparisons seen so far.
func (r *rig) compared() []dualwrite.Comparison {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]dualwrite.Comparison(nil), r.comparisons...)
}

// field reads one column of a sample in a schema.
func field(tb testing.TB, pool *pgxpool.Pool, schema, col, id string) string {
	tb.Helper()
	var v *string
	err := pool.QueryRow(context.Background(), `SELECT `+col+`::text FROM `+schema+`.nanopore_samples WHERE id = $1`, id).Scan(&v)
	if err != nil {
		tb.Fatalf("%s.%s of %s: %v", schema, col, id, err)
	}
	if v == nil {
		return "<null>"
	}
	return *v
}

// jsonBody builds a batch body from inputs.
func jsonBody(inputs ...string) string {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, in := range inputs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"%d":%s`, i, in)
	}
	b.WriteByte('}')
	return b.String()
}
