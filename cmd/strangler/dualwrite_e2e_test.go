package main

// Dual writes end to end (issue 6): the strangler binary (`serve`, the
// dual writes wired into the executor) in front of the legacy stand-in,
// real PostgreSQL, the CLI for flips, backfill and reconcile, SIGKILL for
// crashes. A CLI run that a test kills is this test binary re-run as a
// helper (TestDualwriteHelperProcess).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nanopore/strangler/internal/dualwrite"
)

// dwHelperEnv makes this test binary a helper: "cli" runs the command line
// in DW_E2E_ARGS (a JSON array).
const dwHelperEnv = "DW_E2E_HELPER"

// TestDualwriteHelperProcess is the helper's entry point; as a test it
// does nothing.
func TestDualwriteHelperProcess(t *testing.T) {
	switch os.Getenv(dwHelperEnv) {
	case "cli":
		var args []string
		if err := json.Unmarshal([]byte(os.Getenv("DW_E2E_ARGS")), &args); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(execute(context.Background(), args, os.Environ(), os.Stdout, os.Stderr))
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

// The dual-write commands on a small drift: reconcile exits 1 and names
// the rows, --repair fixes them from the mode's source of truth and exits
// 0, an unreachable database exits 2; outbox lists, retries and drops.
func TestDualwriteCommands(t *testing.T) {
	e := newDWEnv(t, true)
	e.seedLegacy(3)
	if code, out := e.cli("backfill", "samples", "--dry-run"); code != 0 || !strings.Contains(out, "would copy 3") {
		t.Fatalf("dry run: %d %s", code, out)
	}
	code, out := e.cli("reconcile", "samples")
	if code != exitDrift || !strings.Contains(out, "drift: 3 rows") || !strings.Contains(out, "missing  nanopore_samples") {
		t.Fatalf("reconcile of 3 missing rows: %d\n%s", code, out)
	}
	if code, out = e.cli("reconcile", "samples", "--repair"); code != 0 || !strings.Contains(out, "repaired 3 samples (3 rows) from legacy") {
		t.Fatalf("reconcile --repair: %d\n%s", code, out)
	}
	if code, out = e.cli("reconcile", "samples"); code != 0 || !strings.Contains(out, "no drift") {
		t.Fatalf("after the repair: %d\n%s", code, out)
	}
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM strangler.dualwrite_audit WHERE action = 'repair'`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d repairs recorded (%v)", n, err)
	}
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO samples.outbox (aggregate_id, tbl, row_id, op, dead_at, dead_reason)
VALUES (gen_random_uuid(), 'nanopore_samples', gen_random_uuid(), 'upsert', now(), 'boom')`); err != nil {
		t.Fatal(err)
	}
	if code, out = e.cli("outbox", "list", "--dead"); code != 0 || !strings.Contains(out, "relay") || !strings.Contains(out, "boom") {
		t.Fatalf("outbox list --dead: %d\n%s", code, out)
	}
	if code, out = e.cli("outbox", "retry", "--dead"); code != 0 || !strings.Contains(out, "retried 1 rows") {
		t.Fatalf("outbox retry --dead: %d\n%s", code, out)
	}
	if code, out = e.cli("outbox", "drop", "nonsense", "--reason", "x"); code != exitUsage {
		t.Fatalf("outbox drop of a bad id: %d\n%s", code, out)
	}
	var bad bytes.Buffer
	env := append(e.env(), "STRANGLER_LEGACY_DATABASE_URL=postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2")
	if code := execute(context.Background(), []string{"reconcile", "samples", "--config", shippedConfig}, env, &bad, &bad); code != exitUsage {
		t.Fatalf("reconcile without its legacy database: %d, want 2\n%s", code, bad.String())
	}
}

func TestBackfillBar(t *testing.T) {
	got := bar(dualwrite.Progress{Table: "nanopore_samples", Done: 52000, Total: 100000, RowsPerSecond: 8000})
	for _, want := range []string{"[===============>              ]", " 52% 52000/100000 rows", "8000 rows/s", "ETA 6s"} {
		if !strings.Contains(got, want) {
			t.Errorf("bar = %q, want it to contain %q", got, want)
		}
	}
}
