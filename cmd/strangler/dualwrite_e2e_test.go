package main

// Dual writes end to end (issue 6): a real proxy process (Main with the
// dual writes wired as openDualWriter and dualInfo do it) in front of the
// legacy stand-in, real PostgreSQL, the CLI for flips, backfill and
// reconcile, SIGKILL for crashes.
//
// Until serve wires the dual writes itself, the proxy process is this test
// binary re-run as a helper (TestDualwriteHelperProcess): it opens Main
// exactly as serve does, then puts dualwriteFront (Begin, Wrap, Done
// around the proxy, the calls the executor is to make) in front of it.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/nanopore/strangler/internal/config"
	"github.com/nanopore/strangler/internal/dualwrite"
	"github.com/nanopore/strangler/internal/testutil"
)

// dwHelperEnv makes this test binary a helper: "proxy" serves, "cli" runs
// the command line in DW_E2E_ARGS (a JSON array).
const dwHelperEnv = "DW_E2E_HELPER"

// TestDualwriteHelperProcess is the helper's entry point; as a test it
// does nothing.
func TestDualwriteHelperProcess(t *testing.T) {
	switch os.Getenv(dwHelperEnv) {
	case "proxy":
		os.Exit(runDWProxy())
	case "cli":
		var args []string
		if err := json.Unmarshal([]byte(os.Getenv("DW_E2E_ARGS")), &args); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(dwExecute(context.Background(), args, os.Environ(), os.Stdout, os.Stderr))
	}
}

// runDWProxy is `strangler serve` with the dual writes wired in.
func runDWProxy() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	cfg, err := config.Load(config.Source{Path: shippedConfig, Explicit: true, Environ: os.Environ()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	m := NewMain(cfg, newLogger(os.Stdout, cfg.Log.Level))
	defer m.Close()
	if err := m.Open(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dw, closeLegacy, err := openDualWriter(ctx, m, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer closeLegacy()
	m.public.Handler = dualwriteFront(m, dw)
	done := make(chan struct{})
	go func() { defer close(done); dw.Run(context.Background()) }()
	err = m.Run(ctx)
	dw.Close()
	<-done
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// dualwriteFront calls the dual writes around the proxy for tRPC writes,
// as the executor is to do around its legacy forward.
func dualwriteFront(m *Main, dw *dualwrite.Writer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			m.proxy.ServeHTTP(w, r)
			return
		}
		d := m.router.Decide(r)
		info, ok := dualInfo(&d, r.Header.Get("X-Request-Id"))
		if !ok {
			m.proxy.ServeHTTP(w, r)
			return
		}
		p := dw.Begin(r, info)
		m.proxy.ServeHTTP(p.Wrap(w), r)
		p.Done()
	})
}

// dwExecute is execute with the dual-write commands registered (serve's
// root adds them once the lead wires them; adding twice is avoided).
func dwExecute(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, environ: environ}
	root := c.root()
	for _, sub := range []*cobra.Command{c.backfillCmd(), c.reconcileCmd(), c.outboxCmd()} {
		name := strings.Fields(sub.Use)[0]
		if found, _, err := root.Find([]string{name}); err != nil || found == root {
			root.AddCommand(sub)
		}
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "strangler:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return exitFailed
}

// dwEnv is the environment of the e2e dual writes.
type dwEnv struct {
	t          *testing.T
	dbURL      string // the proxy's database
	legacyDB   string // the legacy database ("" = dbURL)
	standin    *testutil.Standin
	pool       *pgxpool.Pool
	legacyPool *pgxpool.Pool
	port       int
	last       *testutil.Process
}

// newDWEnv starts a private PostgreSQL server (these tests open many
// sessions: the machine's shared server must not run out of them), the
// proxy's database on it, and the legacy stand-in on its own database or
// the same one.
func newDWEnv(t *testing.T, separateLegacy bool) *dwEnv {
	t.Helper()
	cluster := testutil.StartCluster(t)
	e := &dwEnv{t: t, dbURL: cluster.CreateDB("proxy"), port: testutil.FreePort(t)}
	e.pool = testutil.Pool(t, e.dbURL)
	e.legacyPool = e.pool
	legacy := e.dbURL
	if separateLegacy {
		e.legacyDB = cluster.CreateDB("legacy")
		legacy = e.legacyDB
		e.legacyPool = testutil.Pool(t, legacy)
	}
	e.standin = testutil.StartStandin(t, testutil.StandinOptions{DatabaseURL: legacy})
	if code, out := e.cli("migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, out)
	}
	return e
}

// env is the proxy's and the CLI's configuration.
func (e *dwEnv) env() []string {
	env := []string{
		"STRANGLER_LISTEN=127.0.0.1:" + strconv.Itoa(e.port),
		"STRANGLER_ADMIN_LISTEN=127.0.0.1:0",
		"STRANGLER_DATABASE_URL=" + e.dbURL,
		"STRANGLER_LEGACY_URL=" + e.standin.URL,
		"STRANGLER_LOG_ACCESS=false",
		// Lease of an unanswered intent: twice this.
		"STRANGLER_UPSTREAM_RESPONSE_HEADER_TIMEOUT=2s",
	}
	if e.legacyDB != "" {
		env = append(env, "STRANGLER_LEGACY_DATABASE_URL="+e.legacyDB)
	}
	return env
}

// cli runs the command line in-process and returns its exit code and
// output (stdout then stderr).
func (e *dwEnv) cli(args ...string) (int, string) {
	var out, errb bytes.Buffer
	args = append(args, "--config", shippedConfig)
	code := dwExecute(context.Background(), args, e.env(), &out, &errb)
	return code, out.String() + errb.String()
}

// helper starts this test binary as a helper process.
func (e *dwEnv) helper(name, mode string, extra ...string) *testutil.Process {
	cmd := exec.Command(os.Args[0], "-test.run=^TestDualwriteHelperProcess$")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STRANGLER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(append(cmd.Env, e.env()...), dwHelperEnv+"="+mode)
	cmd.Env = append(cmd.Env, extra...)
	return testutil.StartProcess(e.t, name, cmd)
}

// startProxy starts a proxy process and waits until it is ready.
func (e *dwEnv) startProxy() *testutil.Process {
	e.t.Helper()
	p := e.helper("dual-write proxy", "proxy")
	var addrs struct {
		Message     string `json:"message"`
		AdminListen string `json:"admin_listen"`
	}
	if _, err := p.WaitLine(testutil.StranglerStartTimeout, func(l string) bool {
		return json.Unmarshal([]byte(l), &addrs) == nil && addrs.Message == "strangler serving"
	}); err != nil {
		e.t.Fatalf("%v\n%s", err, p.Output())
	}
	testutil.WaitReady(e.t, "http://"+addrs.AdminListen)
	e.last = p
	return p
}

// url is the proxy's public base URL.
func (e *dwEnv) url() string { return "http://127.0.0.1:" + strconv.Itoa(e.port) }

var flagsVersion = regexp.MustCompile(`flags version (\d+)`)

// flip changes the samples write group's mode and waits until a running
// proxy applied it.
func (e *dwEnv) flip(mode string, args ...string) {
	e.t.Helper()
	cmd := append([]string{"flip", "samples", mode, "--reason", "e2e"}, args...)
	if mode == "legacy" {
		cmd = []string{"rollback", "samples", "--reason", "e2e"}
	}
	code, out := e.cli(cmd...)
	m := flagsVersion.FindStringSubmatch(out)
	if code != 0 || m == nil {
		e.t.Fatalf("%v: %d %s", cmd, code, out)
	}
	e.waitApplied(m[1])
}

func (e *dwEnv) waitApplied(version string) {
	e.t.Helper()
	testutil.Eventually(e.t, time.Minute, "the proxy to apply flags version "+version, func() bool {
		var n int
		err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM strangler.replicas
WHERE flags_version >= $1 AND seen_at > now() - interval '10 seconds'`, version).Scan(&n)
		return err == nil && n > 0
	})
}

// debugDump logs the database's sessions and the last proxy's goroutines.
func (e *dwEnv) debugDump() {
	rows, err := e.pool.Query(context.Background(), `SELECT pid, application_name, state, coalesce(wait_event_type, ''), coalesce(wait_event, ''),
 now() - xact_start, left(query, 200) FROM pg_stat_activity WHERE datname = current_database() ORDER BY xact_start`)
	if err == nil {
		for rows.Next() {
			var pid int
			var app, state, wt, we, q string
			var age *time.Duration
			_ = rows.Scan(&pid, &app, &state, &wt, &we, &age, &q)
			e.t.Logf("session %d %s %s %s/%s %v: %s", pid, app, state, wt, we, age, q)
		}
		rows.Close()
	}
	if e.last != nil {
		_ = e.last.Signal(syscall.SIGQUIT)
		time.Sleep(2 * time.Second)
	}
}

// settle waits until no dual write is in flight.
func (e *dwEnv) settle() {
	e.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var n int
		err := e.pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM strangler.dualwrite_intents)
 + (SELECT count(*) FROM samples.outbox WHERE applied_at IS NULL)`).Scan(&n)
		if err == nil && n == 0 {
			return
		}
		if time.Now().After(deadline) {
			_, out := e.cli("outbox", "list")
			e.debugDump()
			e.t.Fatalf("the dual writes did not settle (%v):\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wantNoDrift runs `strangler reconcile samples --json` and fails on drift.
func (e *dwEnv) wantNoDrift() {
	e.t.Helper()
	code, out := e.cli("reconcile", "samples", "--json")
	if code != 0 {
		e.t.Fatalf("reconcile exit %d:\n%s", code, out)
	}
	var res struct {
		Report dualwrite.Report `json:"report"`
	}
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&res); err != nil || res.Report.Total != 0 || len(res.Report.Tables) != 4 {
		e.t.Fatalf("reconcile: %v\n%s", err, out)
	}
}

// seedLegacy inserts n samples straight into legacy's table: rows that
// predate the dual writes, which only a backfill copies.
func (e *dwEnv) seedLegacy(n int) {
	e.t.Helper()
	_, err := e.legacyPool.Exec(context.Background(), `INSERT INTO public.nanopore_samples
 (sample_name, submitter_name, submitter_email, sample_type, concentration, submitted_at, created_at, updated_at, created_by, chart_field)
SELECT 'Seed ' || i, 'Jo Smith', 'seed' || i || '@lab.org', 'RNA', i / 7.0, now() - i * interval '1 minute',
 now() - i * interval '1 minute', now() - i * interval '1 minute', '550e8400-e29b-41d4-a716-446655440000', 'NANO-002'
FROM generate_series(1, $1) AS i`, n)
	if err != nil {
		e.t.Fatal(err)
	}
}

// createHot makes the sample every client updates at once.
func (e *dwEnv) createHot() string {
	e.t.Helper()
	resp, err := http.Post(e.url()+"/api/trpc/nanopore.create", "application/json", strings.NewReader(
		`{"sampleName":"Hot","submitterName":"Jo Smith","submitterEmail":"hot@lab.org","sampleType":"DNA","chartField":"HTSF-001"}`))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Result struct{ Data struct{ ID string } } `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || env.Result.Data.ID == "" {
		e.t.Fatalf("create the hot sample: %d %v", resp.StatusCode, err)
	}
	return env.Result.Data.ID
}

// legacyLists checks that legacy's own API lists every id: a create
// through legacy first, since legacy's getAll serves a snapshot that only
// a create refreshes (contract 4.2).
func (e *dwEnv) legacyLists(ids []string) {
	e.t.Helper()
	resp, err := http.Post(e.standin.URL+"/api/trpc/nanopore.create", "application/json", strings.NewReader(
		`{"sampleName":"Refresh","submitterName":"Jo Smith","submitterEmail":"r@lab.org","sampleType":"DNA","chartField":"HTSF-001"}`))
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = http.Get(e.standin.URL + "/api/trpc/nanopore.getAll")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	missing := 0
	for _, id := range ids {
		if !bytes.Contains(body, []byte(`"id":"`+id+`"`)) {
			missing++
		}
	}
	if missing > 0 || len(ids) == 0 {
		e.t.Fatalf("legacy's getAll lacks %d of the %d samples created while new was primary", missing, len(ids))
	}
}

// wantClean fails on any answer a user should not have seen, saying
// where the first sample named in one stands in both stores.
func (e *dwEnv) wantClean(cl *dwClients, allowConnErrors bool) {
	e.t.Helper()
	bad, conn := cl.report()
	if len(bad) > 0 {
		for _, b := range bad[:min(5, len(bad))] {
			e.t.Log(b)
		}
		if id := uuidPattern.FindString(bad[0]); id != "" {
			for _, q := range []struct {
				pool *pgxpool.Pool
				sql  string
			}{
				{e.legacyPool, `SELECT 'legacy: ' || created_at::text || ' / ' || updated_at::text FROM public.nanopore_samples WHERE id = $1`},
				{e.pool, `SELECT 'new: ' || created_at::text || ' / ' || updated_at::text FROM samples.nanopore_samples WHERE id = $1`},
			} {
				var where string
				err := q.pool.QueryRow(context.Background(), q.sql, id).Scan(&where)
				e.t.Logf("%s %s %v", id, where, err)
			}
		}
		e.t.Fatalf("%d unexpected answers, first: %s", len(bad), bad[0])
	}
	if conn > 0 && !allowConnErrors {
		e.t.Fatalf("%d connection errors", conn)
	}
}

// Mixed writes by 20 concurrent clients while the samples write group goes
// legacy -> shadow (backfill meanwhile) -> canary 50% -> new -> rollback to
// legacy: reconcile reports zero drift, and every sample created while new
// was primary is listed by legacy's API after the rollback. The legacy
// tables live in their own database (STRANGLER_LEGACY_DATABASE_URL).
func TestDualwriteFlipsEndWithZeroDrift(t *testing.T) {
	e := newDWEnv(t, true)
	e.seedLegacy(300)
	e.startProxy()
	cl := startClients(t, e.url(), e.createHot(), "legacy", 20)
	cl.waitOps(1000)
	e.flip("shadow")
	cl.phase.Store("shadow")
	if code, out := e.cli("backfill", "samples", "--batch", "50"); code != 0 || !strings.Contains(out, "backfill samples") {
		t.Fatalf("backfill during shadow: %d %s", code, out)
	}
	cl.waitOps(1500)
	e.flip("canary", "--percent", "50")
	cl.phase.Store("canary")
	cl.waitOps(1500)
	e.flip("new")
	cl.phase.Store("new")
	cl.waitOps(2000)
	cl.phase.Store("rollback")
	e.flip("legacy")
	cl.phase.Store("legacy")
	cl.waitOps(1000)
	cl.halt()
	e.wantClean(cl, false)
	e.settle()
	e.wantNoDrift()
	e.legacyLists(cl.createdInNew)
	t.Logf("%d operations, %d samples created while new was primary", cl.ops.Load(), len(cl.createdInNew))
}

// The proxy killed with SIGKILL in the middle of bursts of writes, once in
// shadow and once in new mode, then restarted: the intents and the outbox
// bring both stores to zero drift, no sample exists twice, and each outbox
// row was applied once (both stores in one database).
func TestDualwriteSurvivesSIGKILL(t *testing.T) {
	e := newDWEnv(t, false)
	p := e.startProxy()
	e.flip("shadow")
	cl := startClients(t, e.url(), e.createHot(), "shadow", 20)
	cl.waitOps(800)
	p.Kill()
	p = e.startProxy()
	cl.waitOps(800)
	// Flipped before the killed proxy's intents are recovered (their lease
	// runs 4 s): samples whose converge died with it are copied on demand
	// by the service's missing-sample hook, the rest by the recovery.
	e.flip("new")
	cl.phase.Store("new")
	cl.waitOps(800)
	p.Kill()
	e.startProxy()
	cl.waitOps(400)
	cl.halt()
	e.wantClean(cl, true)
	e.settle()
	e.wantNoDrift()
	for _, schema := range []string{"public", "samples"} {
		var dup int
		err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM (SELECT sample_name FROM `+schema+
			`.nanopore_samples GROUP BY sample_name HAVING count(*) > 1) d`).Scan(&dup)
		if err != nil || dup != 0 {
			t.Fatalf("%s: %d sample names exist twice (%v)", schema, dup, err)
		}
	}
	var rows, once int
	err := e.pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE attempts = 1) FROM samples.outbox`).Scan(&rows, &once)
	if err != nil || rows == 0 || once != rows {
		t.Fatalf("%d of %d outbox rows applied exactly once (%v)", once, rows, err)
	}
	_, conn := cl.report()
	t.Logf("%d operations, %d refused while the proxy was down, %d outbox rows", cl.ops.Load(), conn, rows)
}

// A backfill of 100,000 legacy samples killed with SIGKILL halfway and run
// again resumes from its recorded progress and ends with zero drift.
func TestDualwriteBackfill100kKilledHalfway(t *testing.T) {
	e := newDWEnv(t, true)
	e.seedLegacy(100000)
	args, _ := json.Marshal([]string{"backfill", "samples", "--config", shippedConfig, "--log-every", "100ms"})
	p := e.helper("backfill", "cli", "DW_E2E_ARGS="+string(args))
	var pr struct {
		Message     string `json:"message"`
		Done, Total int64
		Rate        float64 `json:"rows_per_second"`
	}
	_, err := p.WaitLine(5*time.Minute, func(l string) bool {
		return json.Unmarshal([]byte(l), &pr) == nil && pr.Message == "backfill progress" && pr.Done >= pr.Total/2
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Output())
	}
	p.Kill()
	firstRate := pr.Rate
	code, out := e.cli("backfill", "samples", "--json")
	if code != 0 {
		t.Fatalf("second backfill: %d %s", code, out)
	}
	var res dualwrite.BackfillResult
	if err := json.NewDecoder(strings.NewReader(out)).Decode(&res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !res.Resumed || res.Done != res.Total || res.Copied != res.Total || res.Total < 100000 {
		t.Fatalf("resumed backfill: %+v", res)
	}
	e.wantNoDrift()
	t.Logf("backfill of %d rows: killed at %d, %.0f rows/s before the kill, %.0f rows/s resumed", res.Total, pr.Done, firstRate, res.RowsPerSecond)
}
