package shadow

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/testutil"
)

// rig is a shadower with its registry and the test-only executor wiring:
// exactly the calls the proxy's executor makes (Begin before the primary,
// Wrap, Submit after).
type rig struct {
	sh  *Shadower
	reg *prometheus.Registry
	cfg config.Shadow
}

func newRig(t *testing.T, mod func(*config.Shadow), opts Options) *rig {
	t.Helper()
	cfg := config.DefaultShadow()
	cfg.Workers, cfg.Queue = 4, 64
	if mod != nil {
		mod(&cfg)
	}
	reg := prometheus.NewRegistry()
	opts.Config, opts.Registerer = &cfg, reg
	if opts.Rand == nil {
		// Deterministic: every sample that a fraction of 1 takes is taken,
		// none that a smaller one (the shipped relearn 0.02) would draw.
		opts.Rand = func() float64 { return 0.999999 }
	}
	r := &rig{sh: New(opts), reg: reg, cfg: cfg}
	t.Cleanup(r.sh.Close)
	return r
}

func (r *rig) start(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); r.sh.Run(context.Background()) }()
	t.Cleanup(func() { r.sh.Close(); <-done })
}

// serve is the executor's wiring in miniature.
func (r *rig) serve(info func(*http.Request) Info, legacy, next http.Handler, legacyC, nextC Caller) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		in := info(req)
		p := r.sh.Begin(req, in)
		primary := legacy
		if in.Primary == "new" {
			primary = next
		}
		primary.ServeHTTP(p.Wrap(w), req)
		p.Submit(legacyC, nextC)
	})
}

func (r *rig) outcome(route, proc, outcome string) float64 {
	return promtest.ToFloat64(r.sh.metrics.comparisons.WithLabelValues(route, proc, outcome))
}

func (r *rig) skipped(route, reason string) float64 {
	return promtest.ToFloat64(r.sh.metrics.skipped.WithLabelValues(route, reason))
}

func pathInfo(mode string, safe bool) func(*http.Request) Info {
	return func(*http.Request) Info {
		return Info{Route: "page", Mode: mode, Primary: "legacy", Target: "service:new", Safe: safe}
	}
}

func trpcInfo(calls ...Call) func(*http.Request) Info {
	return func(r *http.Request) Info {
		return Info{Route: "trpc.batch", Mode: "shadow", Primary: "legacy", Target: "service:new",
			Calls: calls, Batch: r.URL.Query().Get("batch") == "1"}
	}
}

func query(proc, mode string) Call {
	return Call{Route: proc, Procedure: proc, Kind: "query", Mode: mode, Target: "service:new"}
}

func fixed(status int, ctype, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

func TestBeginDecidesAndCountsSkips(t *testing.T) {
	legacy := fixed(200, "application/json", `{"ok":true}`)
	cases := []struct {
		name   string
		info   func(*http.Request) Info
		req    func() *http.Request
		reason string // "" = not counted at all
	}{
		{"legacy mode", pathInfo("legacy", true), func() *http.Request { return httptest.NewRequest("GET", "/p", nil) }, ""},
		{"new mode without compare_in_new_mode", pathInfo("new", true), func() *http.Request { return httptest.NewRequest("GET", "/p", nil) }, ""},
		{"undeclared route is unsafe", pathInfo("shadow", false), func() *http.Request { return httptest.NewRequest("GET", "/api/migrate", nil) }, SkipUnsafe},
		{"loop", pathInfo("shadow", true), func() *http.Request {
			q := httptest.NewRequest("GET", "/p", nil)
			q.Header.Set(Header, "1")
			return q
		}, SkipLoop},
		{"marked, header already stripped", func(r *http.Request) Info {
			in := pathInfo("shadow", true)(r)
			in.Marked = true
			return in
		}, func() *http.Request { return httptest.NewRequest("GET", "/p", nil) }, SkipLoop},
		{"body over the cap by length", pathInfo("shadow", true), func() *http.Request {
			return httptest.NewRequest("POST", "/p", strings.NewReader("0123456789"))
		}, SkipBodyTooLarge},
		{"body over the cap, length unknown", pathInfo("shadow", true), func() *http.Request {
			q := httptest.NewRequest("POST", "/p", io.MultiReader(strings.NewReader("01234"), strings.NewReader("56789")))
			q.ContentLength = -1
			return q
		}, SkipBodyTooLarge},
		{"mutation", trpcInfo(Call{Route: "m", Procedure: "m", Kind: "mutation", Mode: "shadow", Target: "service:new"}),
			func() *http.Request { return httptest.NewRequest("POST", "/api/trpc/m", strings.NewReader("{}")) }, SkipUnsafe},
		{"jsonl", trpcInfo(query("q", "shadow")), func() *http.Request {
			q := httptest.NewRequest("GET", "/api/trpc/q?batch=1", nil)
			q.Header.Set("Trpc-Accept", "application/jsonl")
			return q
		}, SkipStreaming},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, func(c *config.Shadow) { c.MaxBodyBytes = 8 }, Options{})
			req := c.req()
			in := c.info(req)
			before := promtest.CollectAndCount(r.sh.metrics.skipped)
			if p := r.sh.Begin(req, in); p != nil {
				t.Fatal("Begin should not shadow this request")
			}
			rec := httptest.NewRecorder()
			legacy.ServeHTTP(rec, req)
			if c.reason == "" {
				if n := promtest.CollectAndCount(r.sh.metrics.skipped); n != before {
					t.Fatalf("a request that is not meant for comparison was counted as skipped")
				}
				return
			}
			if got := r.skipped(in.Route, c.reason); got != 1 {
				t.Fatalf("skipped{%s} = %v, want 1", c.reason, got)
			}
		})
	}
}

// TestBodyOverCapStillReachesPrimary: the primary reads every byte of a
// body the shadower gave up buffering.
func TestBodyOverCapStillReachesPrimary(t *testing.T) {
	r := newRig(t, func(c *config.Shadow) { c.MaxBodyBytes = 1 << 10 }, Options{})
	body := bytes.Repeat([]byte("x"), 5000)
	var got atomic.Int64
	legacy := http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		n, _ := io.Copy(io.Discard, q.Body)
		got.Store(n)
	})
	q := httptest.NewRequest("POST", "/p", bytes.NewReader(body))
	q.ContentLength = -1
	r.serve(pathInfo("shadow", true), legacy, nil, nil, nil).ServeHTTP(httptest.NewRecorder(), q)
	if got.Load() != 5000 {
		t.Fatalf("primary read %d bytes, want 5000", got.Load())
	}
}

func TestSubmitNeverBlocks(t *testing.T) {
	r := newRig(t, func(c *config.Shadow) { c.Queue = 1 }, Options{})
	h := r.serve(pathInfo("shadow", true), fixed(200, "application/json", `{}`), nil, nil, Handler(fixed(200, "application/json", `{}`)))
	// No workers run: the first comparison waits in the queue, the others
	// are skipped at once.
	for i := 0; i < 5; i++ {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/p", nil))
	}
	if got := r.skipped("page", SkipQueueFull); got != 4 {
		t.Fatalf("queue_full = %v, want 4", got)
	}
}

func TestCompareThroughWorkers(t *testing.T) {
	var seen atomic.Value
	next := http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		seen.Store(q.URL.RequestURI() + " shadow=" + q.Header.Get(Header))
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Vary", "trpc-accept")
		_, _ = io.WriteString(w, `[{"result":{"data":{"n":2}}}]`)
	})
	legacy := http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Vary", "trpc-accept")
		_, _ = io.WriteString(w, `[{"result":{"data":{"n":1}}},{"result":{"data":"other"}}]`)
	})
	r := newRig(t, nil, Options{})
	r.start(t)
	info := trpcInfo(query("a", "shadow"), query("b", "legacy"))
	h := r.serve(info, legacy, next, Handler(legacy), Handler(next))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/trpc/a,b?batch=1&input=%7B%220%22%3A1%2C%221%22%3A2%7D", nil))
	if !strings.Contains(rec.Body.String(), `"other"`) {
		t.Fatalf("client did not get the primary answer: %s", rec.Body)
	}
	testutil.Eventually(t, 10*time.Second, "the mismatch to be counted", func() bool {
		return r.outcome("a", "a", OutcomeMismatch) == 1
	})
	// Only the compared call went to the new side, as its own batch.
	want := "/api/trpc/a?batch=1&input=%7B%220%22%3A1%7D shadow=1"
	if got, _ := seen.Load().(string); got != want {
		t.Fatalf("secondary got %q, want %q", got, want)
	}
	if r.outcome("b", "b", OutcomeMismatch)+r.outcome("b", "b", OutcomeMatch) != 0 {
		t.Fatal("a call in legacy mode was compared")
	}
}

// TestSecondaryFailuresNeverReachTheUser: a new side that refuses
// connections or stalls past the timeout is an error outcome; the user's
// answer is the primary's, given before any of it.
func TestSecondaryFailuresNeverReachTheUser(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead, _ := url.Parse("http://" + ln.Addr().String())
	ln.Close() // nothing listens there any more: connections are refused
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		select {
		case <-release:
		case <-q.Context().Done():
		}
	}))
	t.Cleanup(stall.Close)
	stalled, _ := url.Parse(stall.URL)
	for name, target := range map[string]*url.URL{"refused": dead, "stalled": stalled} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, func(c *config.Shadow) { c.Timeout = 200 * time.Millisecond }, Options{})
			r.start(t)
			legacy := fixed(200, "application/json", `{"ok":1}`)
			h := r.serve(pathInfo("shadow", true), legacy, nil, Handler(legacy), Upstream(target, http.DefaultTransport))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/p", nil))
			if rec.Code != 200 || rec.Body.String() != `{"ok":1}` {
				t.Fatalf("user got %d %q", rec.Code, rec.Body)
			}
			testutil.Eventually(t, 10*time.Second, "the error outcome", func() bool {
				return r.outcome("page", "", OutcomeError) == 1
			})
		})
	}
}

func TestBreakerPausesAFailingSecondary(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	r := newRig(t, func(c *config.Shadow) { c.BreakerFailures, c.BreakerPause, c.Workers = 3, time.Minute, 1 },
		Options{Now: func() time.Time { return time.Unix(0, clock.Load()) }})
	r.start(t)
	fail := Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("down") }))
	legacy := fixed(200, "application/json", `{}`)
	h := r.serve(pathInfo("shadow", true), legacy, nil, Handler(legacy), fail)
	for i := 0; i < 3; i++ {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/p", nil))
		testutil.Eventually(t, 10*time.Second, "an error", func() bool { return r.outcome("page", "", OutcomeError) == float64(i+1) })
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/p", nil))
	if got := r.skipped("page", SkipSecondaryDown); got != 1 {
		t.Fatalf("secondary_down = %v, want 1", got)
	}
	clock.Add(int64(2 * time.Minute))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/p", nil))
	testutil.Eventually(t, 10*time.Second, "a new attempt after the pause", func() bool { return r.outcome("page", "", OutcomeError) == 4 })
}

func TestTeeStreamsAndBounds(t *testing.T) {
	r := newRig(t, func(c *config.Shadow) { c.MaxResponseBytes = 10 }, Options{})
	big := fixed(200, "text/plain", strings.Repeat("y", 100))
	h := r.serve(pathInfo("shadow", true), big, nil, nil, Handler(big))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/p", nil))
	if rec.Body.Len() != 100 {
		t.Fatalf("client got %d bytes", rec.Body.Len())
	}
	if got := r.skipped("page", SkipResponseLarge); got != 1 {
		t.Fatalf("response_too_large = %v", got)
	}
	// Flush passes through to the client's writer.
	rec = httptest.NewRecorder()
	tee := NewTee(rec, 10)
	_, _ = tee.Write([]byte("a"))
	http.NewResponseController(tee).Flush()
	if !rec.Flushed {
		t.Fatal("Flush did not reach the client's writer")
	}
}

// TestNoiseLearnt: a field that differs between two legacy answers (a
// clock nobody configured) becomes noise after the learning sample.
func TestNoiseLearnt(t *testing.T) {
	var n atomic.Int64
	clocked := func(side string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"side":"same","ts":`+itoa(int(n.Add(1)))+`}`)
		})
	}
	legacy, next := clocked("legacy"), clocked("new")
	draws := []float64{0, 0.99, 0.99} // learn on the first request only
	var i atomic.Int64
	r := newRig(t, func(c *config.Shadow) { c.RelearnFraction = 0.5 },
		Options{Rand: func() float64 { return draws[min(int(i.Add(1))-1, len(draws)-1)] }})
	r.start(t)
	h := r.serve(pathInfo("shadow", true), legacy, next, Handler(legacy), Handler(next))
	for k := 1; k <= 3; k++ {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/p", nil))
		testutil.Eventually(t, 10*time.Second, "the comparison", func() bool {
			return r.outcome("page", "", OutcomeNoise)+r.outcome("page", "", OutcomeMismatch) == float64(k)
		})
	}
	if got := r.outcome("page", "", OutcomeNoise); got != 3 {
		t.Fatalf("noise = %v (mismatch %v), want 3", got, r.outcome("page", "", OutcomeMismatch))
	}
	if !r.sh.noise.has("page", "", "$.ts") {
		t.Fatal("$.ts not learnt")
	}
}

// TestWorkersStartOnDemandAndLeave: no worker runs until a comparison is
// queued, a burst gets at most shadow.workers of them, every queued
// comparison is done, idle workers leave, and Close stops the rest.
func TestWorkersStartOnDemandAndLeave(t *testing.T) {
	before := runtime.NumGoroutine()
	r := newRig(t, func(c *config.Shadow) { c.Workers, c.Queue = 8, 64 }, Options{})
	r.sh.workerIdle = 20 * time.Millisecond
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before the rig's Close, which waits for the workers
	var busy, most atomic.Int64
	slow := http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		n := busy.Add(1)
		defer busy.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{}`)
	})
	done := make(chan struct{})
	go func() { defer close(done); r.sh.Run(context.Background()) }()
	testutil.Eventually(t, 10*time.Second, "Run to start", func() bool {
		r.sh.poolMu.Lock()
		defer r.sh.poolMu.Unlock()
		return r.sh.poolCtx != nil
	})
	if n := r.sh.workers.Load(); n != 0 {
		t.Fatalf("%d workers before any comparison, want 0", n)
	}
	h := r.serve(pathInfo("shadow", true), fixed(200, "application/json", `{}`), nil, nil, Handler(slow))
	for i := 0; i < 20; i++ {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/p", nil))
	}
	testutil.Eventually(t, 10*time.Second, "8 workers busy", func() bool { return busy.Load() == 8 })
	if n := promtest.ToFloat64(r.sh.metrics.workers); n != 8 {
		t.Fatalf("strangler_shadow_workers = %v for 20 queued comparisons, want shadow.workers = 8", n)
	}
	free()
	testutil.Eventually(t, 10*time.Second, "all 20 compared", func() bool { return r.outcome("page", "", OutcomeMatch) == 20 })
	if m := most.Load(); m != 8 {
		t.Fatalf("at most %d secondary calls at once, want 8", m)
	}
	testutil.Eventually(t, 10*time.Second, "idle workers to leave", func() bool { return r.sh.workers.Load() == 0 })

	// Workers busy when Close comes stop too.
	release2 := make(chan struct{})
	stuck := http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		select {
		case <-release2:
		case <-q.Context().Done():
		}
	})
	h = r.serve(pathInfo("shadow", true), fixed(200, "application/json", `{}`), nil, nil, Handler(stuck))
	for i := 0; i < 3; i++ {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/p", nil))
	}
	testutil.Eventually(t, 10*time.Second, "3 workers", func() bool { return r.sh.workers.Load() == 3 })
	r.sh.Close()
	<-done
	close(release2)
	testutil.Eventually(t, 10*time.Second, "goroutines back to their level", func() bool { return runtime.NumGoroutine() <= before+1 })
}

// TestCanaryComparesAgainstLegacy: when the new side answers (canary), the
// copy goes to legacy, marked, and the new side is not called again.
func TestCanaryComparesAgainstLegacy(t *testing.T) {
	var legacyMarked, nextCalls atomic.Int64
	legacy := http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		if Marked(q.Header) {
			legacyMarked.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"v":"legacy"}`)
	})
	next := http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		nextCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"v":"new"}`)
	})
	r := newRig(t, nil, Options{})
	r.start(t)
	info := func(*http.Request) Info {
		return Info{Route: "page", Mode: "canary", Primary: "new", Target: "service:new", Safe: true}
	}
	rec := httptest.NewRecorder()
	r.serve(info, legacy, next, Handler(legacy), Handler(next)).ServeHTTP(rec, httptest.NewRequest("GET", "/p", nil))
	if rec.Body.String() != `{"v":"new"}` {
		t.Fatalf("user got %s", rec.Body)
	}
	testutil.Eventually(t, 10*time.Second, "the mismatch", func() bool { return r.outcome("page", "", OutcomeMismatch) == 1 })
	if legacyMarked.Load() != 1 || nextCalls.Load() != 1 {
		t.Fatalf("legacy got %d marked copies, new side %d calls", legacyMarked.Load(), nextCalls.Load())
	}
	v := r.sh.Judge(context.Background(), nil, "new", Pair{Route: "page",
		Legacy: jsonEx(200, `{"v":"legacy"}`), New: jsonEx(200, `{"v":"new"}`)})
	if d := v[0].Diffs[0]; d.Legacy != `"legacy"` || d.New != `"new"` || d.Class != ClassMismatch {
		t.Fatalf("diff %+v", d)
	}
}

// TestSkipAfterFallback: a comparison given up after the primary answered
// is counted with its reason and never queued.
func TestSkipAfterFallback(t *testing.T) {
	r := newRig(t, nil, Options{})
	legacy := fixed(200, "application/json", `{}`)
	req := httptest.NewRequest("GET", "/p", nil)
	p := r.sh.Begin(req, pathInfo("shadow", true)(req))
	legacy.ServeHTTP(p.Wrap(httptest.NewRecorder()), req)
	p.Skip("fallback")
	p.Submit(Handler(legacy), Handler(legacy))
	if r.skipped("page", "fallback") != 1 || len(r.sh.queue) != 0 {
		t.Fatalf("fallback skipped %v, queue %d", r.skipped("page", "fallback"), len(r.sh.queue))
	}
}
