package dualwrite_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nanopore/strangler/internal/dualwrite"
)

// SeedLegacy inserts n legacy samples (one processing step for every tenth,
// details for every twentieth, an attachment for every fiftieth) straight
// into the legacy tables.
func SeedLegacy(tb testing.TB, db *dualwrite.TestDB, n int) {
	tb.Helper()
	dualwrite.MustExec(tb, db.Pool, `INSERT INTO public.nanopore_samples (id, sample_name, submitter_name, submitter_email,
 sample_type, concentration, volume, status, priority, submitted_at, created_at, updated_at, created_by, chart_field)
SELECT gen_random_uuid(), 'Seed ' || i, 'Jo Smith', 'jo' || i || '@lab.org', 'DNA', (i % 97 + 1) / 8.0, 2.5,
 (ARRAY['submitted','prep','sequencing'])[i % 3 + 1], 'normal',
 now() - i * interval '1 second', now() - i * interval '1 second', now() - i * interval '1 second' + interval '0.000123 second',
 '550e8400-e29b-41d4-a716-446655440000', 'HTSF-001'
FROM generate_series(1, $1) AS i`, n)
	dualwrite.MustExec(tb, db.Pool, `INSERT INTO public.nanopore_processing_steps (sample_id, step_name, results_data)
SELECT id, 'Sample QC', '{"ok":true}' FROM public.nanopore_samples WHERE substr(id::text, 1, 1) = 'a'`)
	dualwrite.MustExec(tb, db.Pool, `INSERT INTO public.nanopore_sample_details (sample_id, organism)
SELECT id, 'E. coli' FROM public.nanopore_samples WHERE substr(id::text, 1, 2) IN ('b1', 'b2', 'b3', 'b4')`)
	dualwrite.MustExec(tb, db.Pool, `INSERT INTO public.nanopore_attachments (sample_id, file_name)
SELECT id, 'sheet.pdf' FROM public.nanopore_samples WHERE substr(id::text, 1, 2) IN ('c1', 'c2')`)
}

// A backfill cancelled halfway resumes from its recorded progress, copies
// every row once and ends with zero drift.
func TestBackfillResumesAfterAKill(t *testing.T) {
	legacy, neu, stores := twoStores(t)
	SeedLegacy(t, legacy, 20000)
	ctx, cancel := context.WithCancel(context.Background())
	opts := dualwrite.BackfillOptions{Spec: dualwrite.Samples, Stores: stores, Batch: 500,
		Progress: func(p dualwrite.Progress) {
			if p.Done >= p.Total/2 {
				cancel()
			}
		}}
	first, err := dualwrite.Backfill(ctx, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v, want it cancelled halfway", err)
	}
	opts.Progress = nil
	dry, err := dualwrite.Backfill(context.Background(), dualwrite.BackfillOptions{Spec: dualwrite.Samples, Stores: stores, DryRun: true})
	if err != nil || dry.Total-dry.Skipped != dry.Copied || dry.Copied == 0 {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	second, err := dualwrite.Backfill(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Resumed || second.Done != second.Total || second.Copied != second.Total || second.Skipped != 0 {
		t.Fatalf("after the resume: %+v (first run stopped at %d of %d)", second, first.Done, first.Total)
	}
	if dry.Copied != second.Total-first.Copied {
		t.Fatalf("dry run would copy %d, the resume copied %d", dry.Copied, second.Total-first.Copied)
	}
	rep, err := dualwrite.Reconcile(context.Background(), dualwrite.ReconcileOptions{Spec: dualwrite.Samples, Stores: stores})
	if err != nil || rep.Total != 0 {
		t.Fatalf("drift after backfill: %d, %v", rep.Total, err)
	}
	again, err := dualwrite.Backfill(context.Background(), opts)
	if err != nil || again.Copied != second.Copied || again.Done != again.Total {
		t.Fatalf("a finished backfill run again: %+v, %v", again, err)
	}
	t.Logf("%d rows, resumed run %.0f rows/s", second.Total, second.RowsPerSecond)
	_ = neu
}
