package dualwrite

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SymmetricDrift counts, with one SQL query per table on a database that
// holds both schemas, the rows of the Spec's columns that are not equal in
// both: an oracle independent of Reconcile.
func SymmetricDrift(tb testing.TB, pool *pgxpool.Pool, spec *Spec) int {
	tb.Helper()
	total := 0
	for _, t := range spec.Tables {
		cols := strings.Join(t.Columns, ", ")
		q := func(schema string) string {
			return "SELECT to_jsonb(x) FROM (SELECT " + cols + " FROM " + qualified(schema, t.Name) + ") x"
		}
		n := MustCount(tb, pool, "SELECT count(*) FROM (("+q(spec.LegacySchema)+" EXCEPT "+q(spec.NewSchema)+
			") UNION ALL ("+q(spec.NewSchema)+" EXCEPT "+q(spec.LegacySchema)+")) d")
		total += n
	}
	return total
}

// syncNow copies aggregates to side in one coordination transaction.
func syncNow(tb testing.TB, c *copier, to string, g guard, ids ...string) map[string]error {
	tb.Helper()
	var failed map[string]error
	err := pgx.BeginFunc(context.Background(), c.stores.New, func(tx pgx.Tx) error {
		var err error
		failed, err = c.sync(context.Background(), tx, to, ids, g)
		return err
	})
	if err != nil {
		tb.Fatalf("sync: %v", err)
	}
	return failed
}

func TestCopyIsExactBothWays(t *testing.T) {
	db := MustTestDB(t, true)
	c := newCopier(Samples, Stores{Legacy: db.Pool, New: db.Pool})
	id := InsertLegacySample(t, db.Pool, "public", map[string]string{
		"submitted_at": "'2026-01-02 03:04:05.123456+00'", "created_at": "'2026-01-02 03:04:05.123456+00'",
		"updated_at": "'2026-01-02 03:04:05.654321+00'", "concentration": "2", "submitter_email": "'jo.@lab.org'"})
	MustExec(t, db.Pool, `INSERT INTO public.nanopore_processing_steps (sample_id, step_name, results_data, created_at)
		VALUES ($1, 'QC', '"just a string"', '2026-01-02 03:04:06.000001+00'), ($1, 'Run', '{"a":[1,2.50]}', now())`, id)
	MustExec(t, db.Pool, `INSERT INTO public.nanopore_sample_details (sample_id, organism, qc_passed) VALUES ($1, 'E. coli', NULL)`, id)
	MustExec(t, db.Pool, `INSERT INTO public.nanopore_attachments (sample_id, file_name, uploaded_at) VALUES ($1, 'a.pdf', NULL)`, id)

	if f := syncNow(t, c, SideNew, guard{}, id); f != nil {
		t.Fatalf("converge failed: %v", f)
	}
	if n := SymmetricDrift(t, db.Pool, Samples); n != 0 {
		t.Fatalf("drift after converge: %d rows", n)
	}
	var conc, upd string
	db.Pool.QueryRow(context.Background(), `SELECT concentration::text, updated_at::text FROM samples.nanopore_samples WHERE id = $1`, id).Scan(&conc, &upd)
	if conc != "2.000" || !strings.Contains(upd, "05.654321") {
		t.Fatalf("copied row: concentration %q updated_at %q", conc, upd)
	}

	// A change on the new side goes back to legacy exactly, through its
	// trigger (replica role), and a child row only legacy has is deleted.
	MustExec(t, db.Pool, `UPDATE samples.nanopore_samples SET status = 'prep' WHERE id = $1`, id)
	MustExec(t, db.Pool, `DELETE FROM samples.nanopore_processing_steps WHERE step_name = 'QC'`)
	syncNow(t, c, SideLegacy, guard{}, id)
	if n := MustCount(t, db.Pool, `SELECT count(*) FROM public.nanopore_processing_steps WHERE sample_id = $1`, id); n != 1 {
		t.Fatalf("legacy steps after relay: %d, want 1", n)
	}
	var lu, nu time.Time
	db.Pool.QueryRow(context.Background(), `SELECT l.updated_at, n.updated_at FROM public.nanopore_samples l, samples.nanopore_samples n WHERE l.id = $1 AND n.id = $1`, id).Scan(&lu, &nu)
	if !lu.Equal(nu) {
		t.Fatalf("updated_at legacy %v new %v: the trigger rewrote the copy", lu, nu)
	}

	// A delete on the new side deletes legacy's children itself (replica
	// role switches off the cascade).
	MustExec(t, db.Pool, `DELETE FROM samples.nanopore_samples WHERE id = $1`, id)
	syncNow(t, c, SideLegacy, guard{}, id)
	for _, tbl := range []string{"nanopore_samples", "nanopore_processing_steps", "nanopore_sample_details", "nanopore_attachments"} {
		col := "sample_id"
		if tbl == "nanopore_samples" {
			col = "id"
		}
		if n := MustCount(t, db.Pool, `SELECT count(*) FROM public.`+tbl+` WHERE `+col+` = $1`, id); n != 0 {
			t.Fatalf("legacy %s still has %d rows of the deleted sample", tbl, n)
		}
	}
}

func TestCopyGuardKeepsNewerTarget(t *testing.T) {
	db := MustTestDB(t, true)
	c := newCopier(Samples, Stores{Legacy: db.Pool, New: db.Pool})
	id := InsertLegacySample(t, db.Pool, "public", nil)
	syncNow(t, c, SideNew, guard{}, id)
	// The new side changes (older), then legacy changes (newer): a guarded
	// copy new -> legacy must not undo legacy's newer write.
	MustExec(t, db.Pool, `UPDATE samples.nanopore_samples SET priority = 'high' WHERE id = $1`, id)
	time.Sleep(2 * time.Millisecond) // distinct now() of the two transactions, not a wait for a result
	MustExec(t, db.Pool, `UPDATE public.nanopore_samples SET assigned_to = 'Al' WHERE id = $1`, id)
	syncNow(t, c, SideLegacy, guard{on: true}, id)
	var prio string
	db.Pool.QueryRow(context.Background(), `SELECT priority FROM public.nanopore_samples WHERE id = $1`, id).Scan(&prio)
	if prio != "normal" {
		t.Fatalf("guarded copy overwrote a newer legacy row (priority %q)", prio)
	}
	// A guarded delete keeps a row written after the delete's time.
	MustExec(t, db.Pool, `DELETE FROM samples.nanopore_samples WHERE id = $1`, id)
	syncNow(t, c, SideLegacy, guard{on: true, since: time.Now().Add(-time.Hour)}, id)
	if n := MustCount(t, db.Pool, `SELECT count(*) FROM public.nanopore_samples WHERE id = $1`, id); n != 1 {
		t.Fatal("guarded delete removed a row newer than the delete")
	}
	syncNow(t, c, SideLegacy, guard{on: true, since: time.Now().Add(time.Hour)}, id)
	if n := MustCount(t, db.Pool, `SELECT count(*) FROM public.nanopore_samples WHERE id = $1`, id); n != 0 {
		t.Fatal("guarded delete kept a row older than the delete")
	}
}

func TestCopyFailsOneAggregateAlone(t *testing.T) {
	db := MustTestDB(t, true)
	c := newCopier(Samples, Stores{Legacy: db.Pool, New: db.Pool})
	good := InsertLegacySample(t, db.Pool, "public", nil)
	bad := InsertLegacySample(t, db.Pool, "public", map[string]string{"sample_name": "'" + strings.Repeat("x", 200) + "'"})
	// The samples schema refuses what legacy holds: shrink the column.
	MustExec(t, db.Pool, `ALTER TABLE samples.nanopore_samples ALTER COLUMN sample_name TYPE varchar(100)`)
	failed := syncNow(t, c, SideNew, guard{}, good, bad)
	if len(failed) != 1 || failed[bad] == nil {
		t.Fatalf("failed = %v, want only %s", failed, bad)
	}
	if n := MustCount(t, db.Pool, `SELECT count(*) FROM samples.nanopore_samples WHERE id = $1`, good); n != 1 {
		t.Fatal("the good aggregate was not copied")
	}
}
