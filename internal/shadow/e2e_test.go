package shadow_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/proxy"
	"github.com/nanopore/strangler/internal/routing"
	"github.com/nanopore/strangler/internal/services/samples"
	"github.com/nanopore/strangler/internal/shadow"
	"github.com/nanopore/strangler/internal/store"
	"github.com/nanopore/strangler/internal/testutil"
	"github.com/nanopore/strangler/internal/validate"
)

// scenario is the real thing end to end: the legacy stand-in, the samples
// service (wrapped by a test build that injects differences on request),
// the real route table with the samples routes in shadow mode, the real
// proxy, and the shadower wired in front of it exactly as the executor
// will wire it (see infoFrom and serve).
type scenario struct {
	t       *testing.T
	pool    *pgxpool.Pool
	standin *testutil.Standin
	router  *routing.Router
	proxy   *proxy.Proxy
	sh      *shadow.Shadower
	st      *shadow.Store
	reg     *prometheus.Registry
	front   *httptest.Server
	legacyC shadow.Caller
	newC    shadow.Caller
	n       int
}

// injectHeader asks the test build of the new side for one difference.
const injectHeader = "X-Test-Inject"

func startScenario(t *testing.T, mod func(*config.Shadow), opts shadow.Options) *scenario {
	t.Helper()
	db := testutil.CreateDB(t)
	s := &scenario{t: t, pool: testutil.Pool(t, db), reg: prometheus.NewRegistry()}
	if _, err := store.Migrate(context.Background(), s.pool); err != nil {
		t.Fatal(err)
	}
	s.standin = testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: db, TestRoutes: true, RequestLog: true})
	svc, err := samples.New(samples.Options{Pool: s.pool})
	if err != nil {
		t.Fatal(err)
	}
	next := injecting(svc.Handler())
	s.router = shadowRouter(t)
	legacyURL, _ := url.Parse(s.standin.URL)
	s.proxy = proxy.New(proxy.Options{Legacy: legacyURL, Router: s.router,
		Services: map[string]http.Handler{"samples": next}, Registerer: prometheus.NewRegistry()})
	cfg := config.DefaultShadow()
	cfg.Workers, cfg.RelearnFraction = 8, 0
	if mod != nil {
		mod(&cfg)
	}
	if p := cfg.Problems(); len(p) > 0 {
		t.Fatalf("shadow config: %v", p)
	}
	s.st = &shadow.Store{Pool: s.pool}
	opts.Config, opts.Store, opts.Registerer = &cfg, s.st, s.reg
	s.sh = shadow.New(opts)
	done := make(chan struct{})
	go func() { defer close(done); s.sh.Run(context.Background()) }()
	t.Cleanup(func() { s.sh.Close(); <-done })
	s.legacyC = shadow.Upstream(legacyURL, s.proxy.Transport())
	s.newC = shadow.Handler(next)
	s.front = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.front.Close)
	return s
}

// shadowRouter compiles the shipped route table with every tRPC route in
// shadow mode towards service:samples, plus a declared-safe upload route.
func shadowRouter(t *testing.T) *routing.Router {
	t.Helper()
	cfg, err := config.Load(config.Source{Path: filepath.Join(testutil.RepoRoot(t), "config", "strangler.yaml"), Explicit: true})
	if err != nil {
		t.Fatal(err)
	}
	var routes []config.Route
	for _, r := range cfg.Routes {
		if len(r.Match.Procedures) > 0 {
			r.Target, r.DefaultMode = "service:samples", "shadow"
		}
		routes = append(routes, r)
	}
	routes = append(routes, config.Route{ID: "upload", Match: config.Match{Path: "/__standin/upload"},
		Target: "service:samples", DefaultMode: "shadow", Safe: true})
	table, err := routing.Compile(routes, routing.CompileOptions{Services: []string{"samples"}, TRPCEndpoint: cfg.TRPCEndpoint})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := routing.NewRouter(table, routing.Options{CanaryCookie: "strangler_bucket"})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// serve is the executor's wiring: decide, Begin before the primary reads
// the body (and before X-Strangler-* headers are stripped), the primary
// answers through Wrap, then Submit with both sides' callers.
func (s *scenario) serve(w http.ResponseWriter, r *http.Request) {
	d := s.router.Decide(r)
	p := s.sh.Begin(r, proxy.ShadowInfo(&d))
	s.proxy.ServeHTTP(p.Wrap(w), r)
	p.Submit(s.legacyC, s.newC)
}

// injecting is the test build of the new side: the real samples service,
// whose answer is changed as the request's X-Test-Inject header asks.
func injecting(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := r.Header.Get(injectHeader)
		if kind == "" {
			h.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		status, body := rec.Code, inject(kind, rec.Body.Bytes())
		switch kind {
		case "error-code":
			status = 404
		case "status":
			status = 500
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
}

var (
	labName   = regexp.MustCompile(`"lab_name":(null|"[^"]*"),`)
	timestamp = regexp.MustCompile(`"timestamp":"[^"]*"`)
)

func inject(kind string, b []byte) []byte {
	switch kind {
	case "changed-field":
		return bytes.Replace(b, []byte(`"sample_name":"`), []byte(`"sample_name":"X`), 1)
	case "missing-field":
		loc := labName.FindIndex(b)
		return append(append([]byte{}, b[:loc[0]]...), b[loc[1]:]...)
	case "extra-element":
		v, _ := validate.ParseJSON(b)
		first := v.(*validate.Object).Value("result").(*validate.Object).Value("data").([]any)[0].(*validate.Object)
		first.Set("id", "00000000-0000-4000-8000-000000000000")
		return bytes.Replace(b, []byte(`"data":[`), append(append([]byte(`"data":[`), validate.Stringify(first)...), ','), 1)
	case "error-code":
		b = bytes.Replace(b, []byte(`"code":-32600`), []byte(`"code":-32004`), 1)
		return bytes.Replace(b, []byte(`"code":"BAD_REQUEST","httpStatus":400`), []byte(`"code":"NOT_FOUND","httpStatus":404`), 1)
	case "zod-issue":
		return bytes.Replace(b, []byte(`Invalid uuid`), []byte(`Invalid UUID`), 1)
	case "clock":
		return timestamp.ReplaceAll(b, []byte(`"timestamp":"2000-01-01T00:00:00.000Z"`))
	}
	return b
}

// do sends one request through the proxy with a client's credentials.
func (s *scenario) do(method, path, body, inject string) (int, string) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.front.URL+path, rd)
	s.n++
	req.Header.Set("X-Request-Id", fmt.Sprintf("e2e-%d", s.n))
	req.Header.Set("Authorization", "Bearer client-secret-token")
	req.Header.Set("Cookie", "admin_session=session-1795861499889-0sy3yrnbaqdo")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if inject != "" {
		req.Header.Set(injectHeader, inject)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// create makes a sample through the proxy (legacy only: a write is never
// shadowed) and returns its id.
func (s *scenario) create(name, email string) string {
	s.t.Helper()
	in := fmt.Sprintf(`{"sampleName":%q,"submitterName":"Jo Smith","submitterEmail":%q,"labName":"Lab A","sampleType":"DNA","chartField":"HTSF-001"}`, name, email)
	code, body := s.do("POST", "/api/trpc/nanopore.create", in, "")
	if code != 200 {
		s.t.Fatalf("create: %d %s", code, body)
	}
	m := regexp.MustCompile(`"id":"([^"]+)"`).FindStringSubmatch(body)
	return m[1]
}

// converge copies legacy's rows into the samples schema, as dual writes
// (the next issue) will: both stores hold the same rows.
func (s *scenario) converge() {
	s.t.Helper()
	_, err := s.pool.Exec(context.Background(), `
		TRUNCATE samples.nanopore_samples CASCADE;
		INSERT INTO samples.nanopore_samples SELECT * FROM public.nanopore_samples;`)
	if err != nil {
		s.t.Fatal(err)
	}
}

// counter reads one series of the shadower's registry.
func (s *scenario) counter(name string, labels map[string]string) float64 {
	mfs, err := s.reg.Gather()
	if err != nil {
		s.t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matches(m, labels) {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

func matches(m *dto.Metric, labels map[string]string) bool {
	got := map[string]string{}
	for _, lp := range m.GetLabel() {
		got[lp.GetName()] = lp.GetValue()
	}
	for k, v := range labels {
		if got[k] != v {
			return false
		}
	}
	return true
}

// settled waits until every comparison started has an outcome.
func (s *scenario) settled(compared float64) {
	s.t.Helper()
	testutil.Eventually(s.t, 30*time.Second, fmt.Sprintf("%v comparisons to finish", compared), func() bool {
		done := 0.0
		for _, o := range []string{"match", "mismatch", "accepted", "noise", "error", "skipped"} {
			done += s.counter("strangler_shadow_comparisons_total", map[string]string{"outcome": o})
		}
		return done >= compared
	})
}

// waitRecords waits until n mismatches were stored (or capped or failed).
func (s *scenario) waitRecords(n float64) {
	s.t.Helper()
	testutil.Eventually(s.t, 30*time.Second, "mismatch records", func() bool {
		return s.counter("strangler_shadow_records_total", nil) >= n
	})
}

// groups lists the stored mismatches as "route procedure path".
func (s *scenario) groups() []string {
	s.t.Helper()
	rep, err := s.st.Report(context.Background(), shadow.Filter{Since: time.Now().Add(-time.Hour)})
	if err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, g := range rep.Groups {
		out = append(out, g.Route+" "+g.Procedure+" "+g.Path)
	}
	sort.Strings(out)
	return out
}
