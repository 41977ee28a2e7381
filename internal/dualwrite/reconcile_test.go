package dualwrite_test

import (
	"context"
	"slices"
	"testing"

	"github.com/nanopore/strangler/internal/dualwrite"
)

// twoStores is a legacy database and a separate new one, as with
// STRANGLER_LEGACY_DATABASE_URL set.
func twoStores(t *testing.T) (legacy, neu *dualwrite.TestDB, stores dualwrite.Stores) {
	t.Helper()
	legacy = dualwrite.MustTestDB(t, true)
	neu = dualwrite.MustTestDB(t, false)
	return legacy, neu, dualwrite.Stores{Legacy: legacy.Pool, New: neu.Pool}
}

// copyRow copies one legacy sample into the new database as is.
func copyRow(t *testing.T, legacy, neu *dualwrite.TestDB, id string) {
	t.Helper()
	var js string
	if err := legacy.Pool.QueryRow(context.Background(), `SELECT to_jsonb(x)::text FROM public.nanopore_samples x WHERE id = $1`, id).Scan(&js); err != nil {
		t.Fatal(err)
	}
	dualwrite.MustExec(t, neu.Pool, `INSERT INTO samples.nanopore_samples SELECT * FROM jsonb_populate_record(NULL::samples.nanopore_samples, $1::jsonb)`, js)
}

func TestReconcileFindsEveryKindOfDriftAndRepairs(t *testing.T) {
	legacy, neu, stores := twoStores(t)
	ctx := context.Background()
	same := dualwrite.InsertLegacySample(t, legacy.Pool, "public", nil)
	missing := dualwrite.InsertLegacySample(t, legacy.Pool, "public", nil)
	differs := dualwrite.InsertLegacySample(t, legacy.Pool, "public", map[string]string{"submitter_email": "'jo.@lab.org'", "sample_buffer": "''"})
	micro := dualwrite.InsertLegacySample(t, legacy.Pool, "public", map[string]string{"updated_at": "'2026-01-01 00:00:00.000001+00'"})
	for _, id := range []string{same, differs, micro} {
		copyRow(t, legacy, neu, id)
	}
	dualwrite.MustExec(t, legacy.Pool, `INSERT INTO public.nanopore_processing_steps (sample_id, step_name) VALUES ($1, 'QC')`, same)
	dualwrite.MustExec(t, neu.Pool, `UPDATE samples.nanopore_samples SET submitter_email = 'jo.update@lab.org', sample_buffer = NULL WHERE id = $1`, differs)
	dualwrite.MustExec(t, neu.Pool, `ALTER TABLE samples.nanopore_samples DISABLE TRIGGER set_timestamp_nanopore_samples;
		UPDATE samples.nanopore_samples SET updated_at = '2026-01-01 00:00:00.000002+00' WHERE id = '`+micro+`';
		ALTER TABLE samples.nanopore_samples ENABLE TRIGGER set_timestamp_nanopore_samples`)
	extra := dualwrite.InsertLegacySample(t, neu.Pool, "samples", nil)

	opts := dualwrite.ReconcileOptions{Spec: dualwrite.Samples, Stores: stores}
	rep, err := dualwrite.Reconcile(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]dualwrite.Drift{}
	for _, d := range rep.Drifts {
		got[d.Table+"/"+d.Key] = d
	}
	want := map[string]struct {
		kind string
		cols []string
	}{
		"nanopore_samples/" + missing:              {dualwrite.DriftMissing, nil},
		"nanopore_samples/" + extra:                {dualwrite.DriftExtra, nil},
		"nanopore_samples/" + differs:              {dualwrite.DriftDiffers, []string{"submitter_email", "sample_buffer", "updated_at"}}, // the trigger stamps updated_at
		"nanopore_samples/" + micro:                {dualwrite.DriftDiffers, []string{"updated_at"}},
		"nanopore_processing_steps/<step of same>": {dualwrite.DriftMissing, nil},
	}
	if rep.Total != len(want) {
		t.Fatalf("drift = %d rows, want %d: %+v", rep.Total, len(want), rep.Drifts)
	}
	for k, w := range want {
		if k == "nanopore_processing_steps/<step of same>" {
			continue
		}
		d, ok := got[k]
		if !ok || d.Kind != w.kind || !slices.Equal(d.Columns, w.cols) {
			t.Errorf("%s: got %+v, want %s %v", k, d, w.kind, w.cols)
		}
	}
	for _, d := range rep.Drifts {
		if d.Table == "nanopore_processing_steps" && (d.Kind != dualwrite.DriftMissing || d.Aggregate != same) {
			t.Errorf("step drift %+v, want missing in aggregate %s", d, same)
		}
	}

	res, err := dualwrite.Repair(ctx, opts, rep, dualwrite.SideLegacy, "test")
	if err != nil || res.Repaired != 5 || res.Rows != 5 {
		t.Fatalf("repair = %+v, %v; want 5 aggregates, 5 rows", res, err)
	}
	after, err := dualwrite.Reconcile(ctx, opts)
	if err != nil || after.Total != 0 {
		t.Fatalf("after repair: %+v, %v", after, err)
	}
	if n := dualwrite.MustCount(t, neu.Pool, `SELECT count(*) FROM strangler.dualwrite_audit WHERE action = 'repair' AND source = 'legacy'`); n != 5 {
		t.Fatalf("%d repairs recorded, want 5", n)
	}
}

// Repairing from the new side (the truth in new mode) changes legacy.
func TestRepairFromNew(t *testing.T) {
	legacy, neu, stores := twoStores(t)
	ctx := context.Background()
	onlyNew := dualwrite.InsertLegacySample(t, neu.Pool, "samples", nil)
	onlyLegacy := dualwrite.InsertLegacySample(t, legacy.Pool, "public", nil)
	dualwrite.MustExec(t, legacy.Pool, `INSERT INTO public.nanopore_sample_details (sample_id, organism) VALUES ($1, 'E. coli')`, onlyLegacy)
	opts := dualwrite.ReconcileOptions{Spec: dualwrite.Samples, Stores: stores}
	rep, err := dualwrite.Reconcile(ctx, opts)
	if err != nil || rep.Total != 3 {
		t.Fatalf("reconcile: %d drift, %v", rep.Total, err)
	}
	if _, err := dualwrite.Repair(ctx, opts, rep, dualwrite.SideNew, "test"); err != nil {
		t.Fatal(err)
	}
	if rep, err = dualwrite.Reconcile(ctx, opts); err != nil || rep.Total != 0 {
		t.Fatalf("after repair: %+v, %v", rep, err)
	}
	if n := dualwrite.MustCount(t, legacy.Pool, `SELECT count(*) FROM public.nanopore_samples WHERE id = $1`, onlyNew); n != 1 {
		t.Fatal("legacy lacks the new side's sample")
	}
}
