package main

// The environment of the dual-write end-to-end tests: a private PostgreSQL
// server, the legacy stand-in, proxy processes, the CLI in-process.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nanopore/strangler/internal/dualwrite"
	"github.com/nanopore/strangler/internal/testutil"
)

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
		// The guard's automatic rollback is tested on its own; here the
		// tests decide every flip.
		"STRANGLER_GUARD_ENABLED=false",
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
	code := execute(context.Background(), args, e.env(), &out, &errb)
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

// startProxy starts `strangler serve` and waits until it is ready.
func (e *dwEnv) startProxy() *testutil.Process {
	e.t.Helper()
	s := testutil.StartStrangler(e.t, testutil.StranglerOptions{Env: e.env()})
	e.last = s.Process
	return s.Process
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
	if mode == "legacy" && !strings.Contains(out, "samples: relay") {
		e.t.Fatalf("a rollback from new does not report the relay's lag:\n%s", out)
	}
	e.t.Logf("%v:\n%s", cmd, out)
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
