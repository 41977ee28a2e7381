//go:build faultinject

package faultinject

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nanopore/strangler/internal/faultproxy"
	"github.com/nanopore/strangler/internal/guard"
	"github.com/nanopore/strangler/internal/testutil"
)

// waitLong is the ceiling of one wait on a loaded machine; never a timing
// claim.
const waitLong = 2 * time.Minute

// envOptions shape one test's system.
type envOptions struct {
	// legacyFaults puts a fault proxy in front of legacy too.
	legacyFaults bool
	// legacyCluster gives legacy a private cluster of its own, so that the
	// proxy's database can go down while legacy keeps answering.
	legacyCluster bool
	// proxyEnv are STRANGLER_* settings of the proxy (the guard's window,
	// thresholds, timeouts).
	proxyEnv []string
}

// env is one test's system, every part a real process: a private
// PostgreSQL cluster, the legacy stand-in, the samples service alone
// (`strangler serve-service samples`), a fault proxy in front of it (and
// optionally one in front of legacy), and `strangler serve` whose sample
// routes point at the fault proxy by URL.
type env struct {
	t       *testing.T
	cluster *testutil.Cluster
	db      string // the proxy's and the service's database
	pool    *pgxpool.Pool
	standin *testutil.Standin
	newSide *faultProc // in front of the service
	legacy  *faultProc // in front of legacy (nil without legacyFaults)
	config  string     // the proxy's config file
	envVars []string   // the proxy's and the CLI's STRANGLER_* settings
	proxy   *testutil.Strangler
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{t: t, cluster: testutil.StartCluster(t)}
	e.db = e.cluster.CreateDB("strangler")
	legacyDB := e.db
	if o.legacyCluster {
		legacyDB = testutil.StartCluster(t).CreateDB("legacy")
	}
	e.pool = testutil.Pool(t, e.db)
	e.standin = testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: legacyDB, GetAllTTL: -1})
	legacyURL := e.standin.URL
	if o.legacyFaults {
		e.legacy = startFaultProxy(t, "legacy fault proxy", e.standin.URL)
		legacyURL = e.legacy.URL
	}
	e.envVars = append([]string{"STRANGLER_DATABASE_URL=" + e.db, "STRANGLER_LEGACY_URL=" + legacyURL,
		"STRANGLER_LISTEN=127.0.0.1:0", "STRANGLER_ADMIN_LISTEN=127.0.0.1:0"}, o.proxyEnv...)
	if code, out := e.cli("migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, out)
	}
	svcURL := startService(t, e.db)
	e.newSide = startFaultProxy(t, "new-side fault proxy", svcURL)
	e.config = writeConfig(t, e.newSide.URL)
	e.proxy = testutil.StartStrangler(t, testutil.StranglerOptions{
		Args: []string{"serve", "--config", e.config}, Env: e.envVars})
	return e
}

// writeConfig is the shipped config with every samples route's target
// (service:samples) replaced by the fault proxy's URL.
func writeConfig(t *testing.T, target string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "config", "strangler.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	n := strings.Count(string(b), "target: service:samples")
	if n < 10 {
		t.Fatalf("the shipped config has %d samples routes; the suite expects one per procedure", n)
	}
	path := filepath.Join(t.TempDir(), "strangler.yaml")
	out := strings.ReplaceAll(string(b), "target: service:samples", "target: "+target)
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startService runs the samples service in its own process and returns
// its base URL.
func startService(t *testing.T, db string) string {
	t.Helper()
	cmd := exec.Command(testutil.StranglerBinary(t), "serve-service", "samples", "--listen", "127.0.0.1:0",
		"--config", filepath.Join(testutil.RepoRoot(t), "config", "strangler.yaml"))
	cmd.Env = cleanEnv("STRANGLER_DATABASE_URL=" + db)
	p := testutil.StartProcess(t, "samples service", cmd)
	var v struct {
		Message string `json:"message"`
		Listen  string `json:"listen"`
	}
	if _, err := p.WaitLine(testutil.StranglerStartTimeout, func(l string) bool {
		return json.Unmarshal([]byte(l), &v) == nil && v.Message == "service serving"
	}); err != nil {
		t.Fatalf("%v\n%s", err, p.Output())
	}
	return "http://" + v.Listen
}

// faultProc is a fault proxy process and its control client.
type faultProc struct {
	*testutil.Process
	URL string
	*faultproxy.Client
}

func startFaultProxy(t *testing.T, name, upstream string) *faultProc {
	t.Helper()
	p := testutil.StartProcess(t, name, exec.Command(faultProxyBinary(t), "-upstream", upstream))
	var v struct {
		Message, Listen, Control string
	}
	if _, err := p.WaitLine(time.Minute, func(l string) bool {
		return json.Unmarshal([]byte(l), &v) == nil && v.Message == "faultproxy listening"
	}); err != nil {
		t.Fatalf("%v\n%s", err, p.Output())
	}
	return &faultProc{Process: p, URL: "http://" + v.Listen, Client: &faultproxy.Client{URL: "http://" + v.Control}}
}

// set replaces a fault proxy's faults.
func (f *faultProc) set(t *testing.T, faults ...faultproxy.Fault) {
	t.Helper()
	if err := f.Set(context.Background(), faults...); err != nil {
		t.Fatal(err)
	}
}

// events returns what the fault proxy recorded.
func (f *faultProc) events(t *testing.T) []faultproxy.Event {
	t.Helper()
	evs, err := f.Events(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

var faultBin struct {
	once sync.Once
	path string
	err  error
}

// faultProxyBinary builds cmd/faultproxy once per test binary.
func faultProxyBinary(t *testing.T) string {
	t.Helper()
	faultBin.once.Do(func() {
		faultBin.path = filepath.Join(os.TempDir(), fmt.Sprintf("faultproxy-%d", os.Getpid()))
		cmd := exec.Command("go", "build", "-o", faultBin.path, "./internal/faultproxy/cmd/faultproxy")
		cmd.Dir = testutil.RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			faultBin.err = fmt.Errorf("build faultproxy: %v\n%s", err, out)
		}
	})
	if faultBin.err != nil {
		t.Fatal(faultBin.err)
	}
	return faultBin.path
}

// cleanEnv is the test's environment without STRANGLER_* plus extra.
func cleanEnv(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STRANGLER_") {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// cli runs a strangler subcommand (the binary) on the test's database and
// config.
func (e *env) cli(args ...string) (int, string) {
	return e.cliOn(e.db, args...)
}

// cliOn runs a subcommand against another database URL.
func (e *env) cliOn(db string, args ...string) (int, string) {
	e.t.Helper()
	config := e.config
	if config == "" {
		config = filepath.Join(testutil.RepoRoot(e.t), "config", "strangler.yaml")
	}
	cmd := exec.Command(testutil.StranglerBinary(e.t), append(args, "--config", config)...)
	cmd.Env = cleanEnv(append(e.envVars, "STRANGLER_DATABASE_URL="+db)...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return 0, string(out)
}

var flagsVersion = regexp.MustCompile(`flags version (\d+)`)

// flip changes a route's (or write group's) mode with the CLI and waits
// until the proxy applied it.
func (e *env) flip(route, mode string, extra ...string) int64 {
	e.t.Helper()
	args := append([]string{"flip", route, mode, "--reason", "fault suite"}, extra...)
	code, out := e.cli(args...)
	m := flagsVersion.FindStringSubmatch(out)
	if code != 0 || m == nil {
		e.t.Fatalf("%v: %d %s", args, code, out)
	}
	v, _ := strconv.ParseInt(m[1], 10, 64)
	e.waitApplied(v)
	// The guard's windows are whole seconds and start after the second of
	// a change (counts in it may be from before it): the test's traffic
	// starts in the next one, so that the guard sees all of it.
	applied := time.Now()
	testutil.Eventually(e.t, waitLong, "the second after the flip", func() bool {
		return time.Now().Truncate(time.Second).After(applied)
	})
	return v
}

// waitApplied waits until the proxy's heartbeat reports flags version v.
func (e *env) waitApplied(v int64) {
	e.t.Helper()
	testutil.Eventually(e.t, waitLong, fmt.Sprintf("the proxy to apply flags version %d", v), func() bool {
		var n int
		err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM strangler.replicas
			WHERE flags_version >= $1 AND seen_at > now() - interval '10 seconds'`, v).Scan(&n)
		return err == nil && n > 0
	})
}

// mode reads a route's mode from the database (the flags' source).
func (e *env) mode(route string) string {
	e.t.Helper()
	code, out := e.cli("routes", "--json")
	if code != 0 {
		e.t.Fatalf("routes: %s", out)
	}
	var v struct {
		Routes []struct{ ID, Mode string } `json:"routes"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		e.t.Fatalf("routes --json: %v\n%s", err, out)
	}
	for _, r := range v.Routes {
		if r.ID == route {
			return r.Mode
		}
	}
	e.t.Fatalf("no route %s in %s", route, out)
	return ""
}

// guardEvents returns the recorded automatic rollbacks of a route ("" all).
func (e *env) guardEvents(route string) []guard.Event {
	e.t.Helper()
	evs, err := guard.Events(context.Background(), e.pool, route, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// waitEvent waits for the automatic rollback of a route and returns it.
func (e *env) waitEvent(route string) guard.Event {
	e.t.Helper()
	var ev guard.Event
	testutil.Eventually(e.t, waitLong, "an automatic rollback of "+route, func() bool {
		evs := e.guardEvents(route)
		if len(evs) > 0 {
			ev = evs[0]
		}
		return len(evs) > 0
	})
	return ev
}
