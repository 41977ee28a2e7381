package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/nanopore/strangler/internal/dualwrite"
)

// seedSQL inserts n legacy samples with a processing step for about one in
// sixteen, details for one in sixty-four and an attachment for one in
// 128 (by the first hex digits of their random ids).
var seedSQL = []string{
	`INSERT INTO public.nanopore_samples (sample_name, submitter_name, submitter_email, sample_type, concentration,
 volume, status, priority, submitted_at, created_at, updated_at, created_by, chart_field)
SELECT 'Seed ' || i, 'Jo Smith', 'jo' || i || '@lab.org', 'DNA', (i % 97 + 1) / 8.0, 2.5,
 (ARRAY['submitted','prep','sequencing'])[i % 3 + 1], 'normal', now() - i * interval '1 second',
 now() - i * interval '1 second', now() - i * interval '1 second', '550e8400-e29b-41d4-a716-446655440000', 'HTSF-001'
FROM generate_series(1, $1) AS i`,
	`INSERT INTO public.nanopore_processing_steps (sample_id, step_name, results_data)
SELECT id, 'Sample QC', '{"ok":true}' FROM public.nanopore_samples WHERE substr(id::text, 1, 1) = 'a'`,
	`INSERT INTO public.nanopore_sample_details (sample_id, organism)
SELECT id, 'E. coli' FROM public.nanopore_samples WHERE substr(id::text, 1, 2) IN ('b1', 'b2', 'b3', 'b4')`,
	`INSERT INTO public.nanopore_attachments (sample_id, file_name)
SELECT id, 'sheet.pdf' FROM public.nanopore_samples WHERE substr(id::text, 1, 2) IN ('c1', 'c2')`,
}

// runBackfill seeds n legacy samples (the stand-in creates the legacy
// tables in a database of their own), then backfills them into the
// service schema of another database with two batch sizes, and reconciles.
func runBackfill(ctx context.Context, w io.Writer, admin string, n int) error {
	legacyDB, err := createDB(ctx, admin, "bench_dw_legacy")
	if err != nil {
		return err
	}
	defer legacyDB.drop()
	newDB, err := createDB(ctx, admin, "bench_dw_new")
	if err != nil {
		return err
	}
	defer newDB.drop()
	st, err := startStandin(legacyDB.URL)
	if err != nil {
		return err
	}
	st.stop() // its schema is all that is needed
	legacy, err := openMigrated(ctx, legacyDB.URL, 8)
	if err != nil {
		return err
	}
	defer legacy.Close()
	neu, err := openMigrated(ctx, newDB.URL, 8)
	if err != nil {
		return err
	}
	defer neu.Close()
	for i, sql := range seedSQL {
		args := []any{}
		if i == 0 {
			args = append(args, n)
		}
		if _, err := legacy.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	stores := dualwrite.Stores{Legacy: legacy, New: neu}
	fmt.Fprintf(w, "## Backfill of %d legacy samples (legacy tables and service schema in two databases)\n\n", n)
	fmt.Fprintln(w, "| run | batch | rows | copied | seconds | rows/s |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	for _, batch := range []int{1000, 5000} {
		for _, t := range dualwrite.Samples.Tables {
			if _, err := neu.Exec(ctx, "TRUNCATE samples."+t.Name+" CASCADE"); err != nil {
				return err
			}
		}
		res, err := dualwrite.Backfill(ctx, dualwrite.BackfillOptions{Spec: dualwrite.Samples, Stores: stores, Batch: batch, Restart: true})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "| backfill | %d | %d | %d | %.1f | %.0f |\n", batch, res.Done, res.Copied, res.Elapsed.Seconds(), res.RowsPerSecond)
	}
	start := time.Now()
	rep, err := dualwrite.Reconcile(ctx, dualwrite.ReconcileOptions{Spec: dualwrite.Samples, Stores: stores})
	if err != nil {
		return err
	}
	var rows int64
	for _, t := range rep.Tables {
		rows += t.Legacy + t.New
	}
	took := time.Since(start)
	fmt.Fprintf(w, "| reconcile | - | %d | drift %d | %.1f | %.0f |\n\n", rows, rep.Total, took.Seconds(), float64(rows)/took.Seconds())
	return nil
}
