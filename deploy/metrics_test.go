package deploy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/nanopore/strangler/internal/testutil"
)

// notServedYet are metric families that their package registers but that
// `strangler serve` does not export yet: each is checked in the code only,
// and the test says which ones it could not check live. Empty: every
// family the dashboard and the alerts use is checked on a live scrape.
var notServedYet = map[string]string{}

// TestDashboardAndAlertsUseOnlyExportedMetrics runs the real binary against
// the legacy stand-in and PostgreSQL, sends the traffic that makes the
// lazily created series appear (every side, a shadowed and a canary route,
// a new side that refuses connections until the guard rolls it back and
// calls the webhook, a rate-limited login, a shed request, a write in new
// mode for the relay), scrapes /metrics and checks every metric named by
// every dashboard query, annotation, variable and alert rule: it exists,
// has the labels its matchers name, and is a counter wherever it is rated.
func TestDashboardAndAlertsUseOnlyExportedMetrics(t *testing.T) {
	lp := startLiveProxy(t)
	lp.driveTraffic(t)
	got := lp.scrape(t)
	t.Logf("%d metric families exported", len(got))

	exprs := readDashboard(t).expressions(t)
	for _, r := range alertRules(t) {
		exprs["alert "+r.Alert] = r.Expr.String()
	}
	names := map[string]bool{}
	for where, expr := range exprs {
		uses, err := parsePromQL(expr)
		if err != nil {
			t.Errorf("%s: %v", where, err)
			continue
		}
		for _, u := range uses {
			names[u.name] = true
			if fam, _ := got.family(u.name); fam == nil && notServedYet[baseName(u.name)] != "" {
				continue
			}
			if err := got.check(u); err != nil {
				t.Errorf("%s: %v", where, err)
			}
		}
	}
	checkNotServedYet(t, got, names)
	t.Logf("%d expressions, %d metric names checked", len(exprs), len(names))
}

// baseName strips a histogram's series suffix.
func baseName(name string) string {
	for _, s := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(name, s); ok && strings.HasSuffix(b, "_seconds") {
			return b
		}
	}
	return name
}

// checkNotServedYet: an entry not on /metrics is declared in the code and
// used by a query; it is reported as not checked live.
func checkNotServedYet(t *testing.T, got scraped, used map[string]bool) {
	t.Helper()
	src := goSources(t)
	var unchecked []string
	for name, why := range notServedYet {
		if fam, _ := got.family(name + "_bucket"); got[name] != nil || fam != nil {
			continue // served: checked live above
		}
		if !strings.Contains(src, `"`+name+`"`) {
			t.Errorf("%s is declared nowhere in internal/: a query names a metric that does not exist", name)
		}
		inUse := false
		for u := range used {
			inUse = inUse || baseName(u) == name
		}
		if !inUse {
			t.Errorf("%s is in notServedYet but no query uses it", name)
		}
		unchecked = append(unchecked, name+" ("+why+")")
	}
	sort.Strings(unchecked)
	for _, u := range unchecked {
		t.Logf("NOT CHECKED LIVE: %s", u)
	}
}

func goSources(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(filepath.Join(testutil.RepoRoot(t), "internal"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		s, err := os.ReadFile(p)
		b.Write(s)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// liveProxy is a strangler process with its helpers.
type liveProxy struct {
	*testutil.Strangler
	env     []string
	config  string
	client  *http.Client
	slow    *slowServer
	webhook *httptest.Server
	hooks   chan struct{}
}

func startLiveProxy(t *testing.T) *liveProxy {
	t.Helper()
	db := testutil.CreateDB(t)
	standin := testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: db})
	lp := &liveProxy{client: &http.Client{Timeout: 30 * time.Second}, slow: newSlowServer(t), hooks: make(chan struct{}, 16)}
	lp.webhook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case lp.hooks <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(lp.webhook.Close)
	still := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"healthy"}`)
	}))
	t.Cleanup(still.Close)
	lp.config = testConfig(t, deadAddr(t), lp.slow.URL, still.URL)
	lp.env = []string{
		"STRANGLER_LISTEN=127.0.0.1:0", "STRANGLER_ADMIN_LISTEN=127.0.0.1:0",
		"STRANGLER_DATABASE_URL=" + db, "STRANGLER_LEGACY_URL=" + standin.URL,
		"STRANGLER_LOG_ACCESS=false", "STRANGLER_HEALTH_INTERVAL=500ms",
		// One request at a time per target: a second one to the stalled
		// target is shed.
		"STRANGLER_LIMITS_MAX_IN_FLIGHT_PER_TARGET=1",
		"STRANGLER_GUARD_WEBHOOK_URL=" + lp.webhook.URL,
		// Every shadowed read also goes to legacy twice: what differs
		// between two of legacy's /health answers is learnt as noise.
		"STRANGLER_SHADOW_RELEARN_FRACTION=1",
	}
	if out, err := lp.cli(t, "migrate"); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	lp.Strangler = testutil.StartStrangler(t, testutil.StranglerOptions{
		Args: []string{"serve", "--config", lp.config}, Env: lp.env})
	return lp
}

// cli runs a strangler subcommand with the proxy's configuration.
func (lp *liveProxy) cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testutil.StranglerBinary(t), append(args, "--config", lp.config)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, lp.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// flip changes a route's mode and waits until the proxy routes by it.
func (lp *liveProxy) flip(t *testing.T, route, mode string, extra ...string) {
	t.Helper()
	args := append([]string{"flip", route, mode, "--reason", "deploy metrics test"}, extra...)
	if out, err := lp.cli(t, args...); err != nil {
		t.Fatalf("flip %s %s: %v\n%s", route, mode, err, out)
	}
	member := route
	if route == "samples" {
		member = "nanopore.create" // a write group moves with its members
	}
	testutil.Eventually(t, 30*time.Second, route+" in mode "+mode+" on the proxy", func() bool {
		out, err := lp.cli(t, "routes", "--json")
		return err == nil && routeMode(out, member) == mode
	})
}

// testConfig is the shipped configuration plus two routes to remote
// targets: one whose address refuses connections, one that stalls.
func testConfig(t *testing.T, dead, slow, still string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "config", "strangler.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	route := func(id, target, path string, safe bool) map[string]any {
		return map[string]any{"id": id, "target": target, "safe": safe, "match": map[string]any{"path": path}}
	}
	// The down route is safe (legacy answers when its new side fails);
	// the stalled one is not, so that a shed request's 503 reaches the
	// client instead of falling back.
	// The volatile one is legacy's /health (uptime, memory: two answers
	// always differ), declared safe, so that shadowing it learns noise.
	cfg["routes"] = append(cfg["routes"].([]any),
		route("deploytest.down", "http://"+dead, "/__deploytest/down", true),
		route("deploytest.slow", slow, "/__deploytest/slow", false),
		route("deploytest.volatile", still, "/health", true))
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "strangler.yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// deadAddr is a loopback address nobody listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// slowServer holds every request until released.
type slowServer struct {
	*httptest.Server
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func newSlowServer(t *testing.T) *slowServer {
	s := &slowServer{arrived: make(chan struct{}, 16), release: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.arrived <- struct{}{}
		select {
		case <-s.release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, "{}")
	}))
	t.Cleanup(func() { s.Release(); s.Close() })
	return s
}

// Release lets every held request finish.
func (s *slowServer) Release() { s.once.Do(func() { close(s.release) }) }

// get sends a request and returns its status (0 on a transport error).
func (lp *liveProxy) do(t *testing.T, method, path, body string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, lp.PublicURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := lp.client.Do(req)
	if err != nil {
		t.Logf("%s %s: %v", method, path, err)
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// scrape reads the admin listener's /metrics.
func (lp *liveProxy) scrape(t *testing.T) scraped {
	t.Helper()
	resp, err := lp.client.Get(lp.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// families lists the scraped names, for failure messages.
func (s scraped) names() string {
	out := make([]string, 0, len(s))
	for n := range s {
		out = append(out, n)
	}
	sort.Strings(out)
	return fmt.Sprint(out)
}
