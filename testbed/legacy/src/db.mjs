// Database access of the stand-in: the pg pool, the idempotent schema setup
// (contract 8.1 to 8.4) and the destructive schema path of GET /api/migrate
// (contract 8.5).
import pg from 'pg';

/** DEMO_USER_ID is the hard-coded user every create writes into created_by. */
export const DEMO_USER_ID = '550e8400-e29b-41d4-a716-446655440000';

// Key of the advisory lock that serialises schema setup, so that two
// stand-ins starting at once on one database do not race on DDL.
const SETUP_LOCK_KEY = 741_852_963;

/** createPool opens a pg pool; NUMERIC stays a string and timestamptz a Date (pg defaults). */
export function createPool(databaseUrl) {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: 10,
    connectionTimeoutMillis: 5000,
  });
  // An idle client that dies (server restart, terminated backend) must not
  // crash the process; the next query reports the failure instead.
  pool.on('error', (err) => {
    console.error(`legacy stand-in: idle database client error: ${err.message}`);
  });
  return pool;
}

const prerequisites = [
  `CREATE TABLE IF NOT EXISTS public.users (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    email varchar(255) NOT NULL UNIQUE,
    name varchar(255) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  `CREATE OR REPLACE FUNCTION public.update_updated_at_column() RETURNS trigger AS $$
  BEGIN
    NEW.updated_at = now();
    RETURN NEW;
  END;
  $$ LANGUAGE plpgsql`,
  `INSERT INTO public.users (id, email, name)
    VALUES ('${DEMO_USER_ID}', 'demo@example.com', 'Demo User')
    ON CONFLICT DO NOTHING`,
];

// Column list of nanopore_samples in table order (contract 8.2); the Sample
// object's key order comes from it because rows are read with SELECT *.
const sampleColumns = `
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
    chart_field varchar(255) NOT NULL DEFAULT ''`;

// index and updatedAtTrigger build the guarded DDL used for every table.
function index(table, column) {
  return `CREATE INDEX IF NOT EXISTS idx_${table}_${column} ON public.${table} (${column})`;
}

function updatedAtTrigger(table, name = `update_${table}_updated_at`) {
  return `CREATE OR REPLACE TRIGGER ${name} BEFORE UPDATE ON public.${table}
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at_column()`;
}

const sampleTables = [
  `CREATE TABLE IF NOT EXISTS public.nanopore_samples (${sampleColumns})`,
  // The later migration that added chart_field, for a table made without it.
  `ALTER TABLE public.nanopore_samples
    ADD COLUMN IF NOT EXISTS chart_field varchar(255) NOT NULL DEFAULT ''`,
  ...['status', 'priority', 'assigned_to', 'created_by', 'submitted_at', 'chart_field'].map(
    (col) => index('nanopore_samples', col),
  ),
  updatedAtTrigger('nanopore_samples'),
  `CREATE TABLE IF NOT EXISTS public.nanopore_processing_steps (
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
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  index('nanopore_processing_steps', 'sample_id'),
  index('nanopore_processing_steps', 'step_status'),
  updatedAtTrigger('nanopore_processing_steps'),
  `CREATE TABLE IF NOT EXISTS public.nanopore_sample_details (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    sample_id uuid NOT NULL REFERENCES public.nanopore_samples(id) ON DELETE CASCADE,
    organism text, genome_size text, expected_read_length text,
    library_prep_kit text, barcoding_required boolean DEFAULT false, barcode_kit text,
    run_time_hours integer, basecalling_model text, data_delivery_method text,
    file_format text, analysis_required boolean DEFAULT false, analysis_type text,
    qc_passed boolean, qc_notes text, special_instructions text, internal_notes text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
  )`,
  index('nanopore_sample_details', 'sample_id'),
  updatedAtTrigger('nanopore_sample_details'),
  `CREATE TABLE IF NOT EXISTS public.nanopore_attachments (
    id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    sample_id uuid NOT NULL REFERENCES public.nanopore_samples(id) ON DELETE CASCADE,
    file_name varchar(255) NOT NULL,
    file_type varchar(50),
    file_size_bytes bigint,
    file_path varchar(500),
    description text,
    uploaded_by uuid REFERENCES public.users(id),
    uploaded_at timestamptz DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now()
  )`,
  index('nanopore_attachments', 'sample_id'),
];

/**
 * setupSchema applies the prerequisites and the sample tables idempotently,
 * in one transaction under an advisory lock.
 */
export async function setupSchema(pool) {
  await runLocked(pool, [...prerequisites, ...sampleTables]);
}

// runLocked runs statements in one transaction holding the setup lock.
async function runLocked(pool, statements) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [SETUP_LOCK_KEY]);
    for (const sql of statements) {
      await client.query(sql);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

/**
 * runDestructiveMigration is the legacy default action of GET /api/migrate
 * (contract 8.5): it drops nanopore_samples with CASCADE (silently removing
 * the foreign keys of the dependent tables) and recreates it with the same
 * columns, a different index set (status, priority, submitter_email,
 * created_at, chart_field) and a differently named trigger. Tests detect that
 * it ran through the index idx_nanopore_samples_submitter_email or the
 * trigger nanopore_samples_updated_at_trigger.
 */
export async function runDestructiveMigration(pool) {
  const statements = [
    'DROP TABLE IF EXISTS public.nanopore_samples CASCADE',
    `CREATE TABLE public.nanopore_samples (${sampleColumns})`,
    ...['status', 'priority', 'submitter_email', 'created_at', 'chart_field'].map(
      (col) => index('nanopore_samples', col),
    ),
    updatedAtTrigger('nanopore_samples', 'nanopore_samples_updated_at_trigger'),
    ...prerequisites.slice(2),
  ];
  await runLocked(pool, statements);
}
