package dualwrite

// Test helpers shared with the external test package (dualwrite_test):
// exported names in a _test.go file of the package itself.

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nanopore/strangler/internal/store"
	"github.com/nanopore/strangler/internal/testutil"
)

// LegacyDDL creates the legacy tables in public exactly as the legacy
// stand-in does (testbed/legacy/src/db.mjs, contract 8.1 to 8.4): users,
// the updated_at trigger, the demo user, the four sample tables with their
// checks, foreign keys (ON DELETE CASCADE) and triggers.
const LegacyDDL = `
CREATE TABLE IF NOT EXISTS public.users (
  id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
  email varchar(255) NOT NULL UNIQUE,
  name varchar(255) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE OR REPLACE FUNCTION public.update_updated_at_column() RETURNS trigger AS $$
BEGIN
  NEW.updated_at = now();
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
INSERT INTO public.users (id, email, name)
  VALUES ('550e8400-e29b-41d4-a716-446655440000', 'demo@example.com', 'Demo User') ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS public.nanopore_samples (
  id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
  sample_name varchar(255) NOT NULL,
  project_id varchar(100),
  submitter_name varchar(255) NOT NULL,
  submitter_email varchar(255) NOT NULL,
  lab_name varchar(255),
  sample_type varchar(50) NOT NULL,
  sample_buffer varchar(100),
  concentration numeric(10,3) CHECK (concentration IS NULL OR concentration > 0),
  volume numeric(10,2) CHECK (volume IS NULL OR volume > 0),
  total_amount numeric(10,3),
  flow_cell_type varchar(50),
  flow_cell_count integer DEFAULT 1,
  status varchar(20) DEFAULT 'submitted'
    CHECK (status IN ('submitted', 'prep', 'sequencing', 'analysis', 'completed', 'archived')),
  priority varchar(10) DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
  assigned_to varchar(255),
  library_prep_by varchar(255),
  submitted_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  completed_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  created_by uuid NOT NULL REFERENCES public.users(id) ON DELETE CASCADE,
  chart_field varchar(255) NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS idx_nanopore_samples_submitted_at ON public.nanopore_samples (submitted_at);
CREATE OR REPLACE TRIGGER update_nanopore_samples_updated_at BEFORE UPDATE ON public.nanopore_samples
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();
CREATE TABLE IF NOT EXISTS public.nanopore_processing_steps (
  id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
  sample_id uuid NOT NULL REFERENCES public.nanopore_samples(id) ON DELETE CASCADE,
  step_name varchar(100) NOT NULL,
  step_status varchar(20) DEFAULT 'pending'
    CHECK (step_status IN ('pending', 'in_progress', 'completed', 'failed', 'skipped')),
  assigned_to varchar(255),
  started_at timestamptz,
  completed_at timestamptz,
  estimated_duration_hours integer,
  notes text,
  results_data jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS idx_nanopore_processing_steps_sample_id ON public.nanopore_processing_steps (sample_id);
CREATE OR REPLACE TRIGGER update_nanopore_processing_steps_updated_at BEFORE UPDATE ON public.nanopore_processing_steps
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();
CREATE TABLE IF NOT EXISTS public.nanopore_sample_details (
  id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
  sample_id uuid NOT NULL REFERENCES public.nanopore_samples(id) ON DELETE CASCADE,
  organism text, genome_size text, expected_read_length text,
  library_prep_kit text, barcoding_required boolean DEFAULT false, barcode_kit text,
  run_time_hours integer, basecalling_model text, data_delivery_method text,
  file_format text, analysis_required boolean DEFAULT false, analysis_type text,
  qc_passed boolean, qc_notes text, special_instructions text, internal_notes text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS idx_nanopore_sample_details_sample_id ON public.nanopore_sample_details (sample_id);
CREATE OR REPLACE TRIGGER update_nanopore_sample_details_updated_at BEFORE UPDATE ON public.nanopore_sample_details
  FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column();
CREATE TABLE IF NOT EXISTS public.nanopore_attachments (
  id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
  sample_id uuid NOT NULL REFERENCES public.nanopore_samples(id) ON DELETE CASCADE,
  file_name varchar(255) NOT NULL,
  file_type varchar(50),
  file_size_bytes bigint,
  file_path varchar(500),
  description text,
  uploaded_by uuid REFERENCES public.users(id),
  uploaded_at timestamptz DEFAULT now(),
  created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS idx_nanopore_attachments_sample_id ON public.nanopore_attachments (sample_id);
`

// TestDB is a fresh database with the strangler and samples migrations
// applied and, when legacy is set, the legacy tables in public.
type TestDB struct {
	URL  string
	Pool *pgxpool.Pool
}

// MustTestDB creates a database of its own for tb (dropped at the end,
// loud failure without PostgreSQL) and migrates it.
func MustTestDB(tb testing.TB, legacy bool) *TestDB {
	tb.Helper()
	url := testutil.CreateDB(tb)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	if _, err := store.Migrate(context.Background(), pool); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	if legacy {
		if _, err := pool.Exec(context.Background(), LegacyDDL); err != nil {
			tb.Fatalf("legacy tables: %v", err)
		}
	}
	return &TestDB{URL: url, Pool: pool}
}

// MustExec runs statements and fails the test on error.
func MustExec(tb testing.TB, pool *pgxpool.Pool, sql string, args ...any) {
	tb.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("%s: %v", firstLine(sql), err)
	}
}

// MustCount counts rows with a query returning one number.
func MustCount(tb testing.TB, pool *pgxpool.Pool, sql string, args ...any) int {
	tb.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", firstLine(sql), err)
	}
	return n
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// InsertLegacySample inserts one sample straight into the legacy table and
// returns its id; fields overrides columns (column -> SQL value text).
func InsertLegacySample(tb testing.TB, pool *pgxpool.Pool, schema string, fields map[string]string) string {
	tb.Helper()
	vals := map[string]string{
		"sample_name": "'S'", "submitter_name": "'Jo'", "submitter_email": "'jo@lab.org'",
		"sample_type": "'DNA'", "created_by": "'550e8400-e29b-41d4-a716-446655440000'",
		"chart_field": "'HTSF-001'", "concentration": "1.5", "submitted_at": "clock_timestamp()",
		"created_at": "clock_timestamp()", "updated_at": "clock_timestamp()",
	}
	for k, v := range fields {
		vals[k] = v
	}
	cols := make([]string, 0, len(vals))
	exprs := make([]string, 0, len(vals))
	for k, v := range vals {
		cols = append(cols, k)
		exprs = append(exprs, v)
	}
	var id string
	sql := fmt.Sprintf("INSERT INTO %s.nanopore_samples (%s) VALUES (%s) RETURNING id::text", schema,
		strings.Join(cols, ", "), strings.Join(exprs, ", "))
	if err := pool.QueryRow(context.Background(), sql).Scan(&id); err != nil {
		tb.Fatalf("insert sample: %v", err)
	}
	return id
}
