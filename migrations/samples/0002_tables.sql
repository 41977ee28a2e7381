-- samples schema: the sample tables of the legacy app (legacy-contract.md
-- sections 8.2 to 8.4), with the same column names, types, order, defaults,
-- checks, constraint, index and trigger names, so that errors quoting a
-- constraint read the same as legacy's and rows copy column for column.
--
-- Differences from legacy, on purpose:
-- * created_by and uploaded_by have NO foreign key to a users table: this
--   schema has no users table (auth owns users in its own schema). created_by
--   is always the demo user 550e8400-e29b-41d4-a716-446655440000, written by
--   the service, so legacy's "Referenced record does not exist" on a missing
--   demo user cannot happen here.
-- * chart_field (added to legacy by a later migration) is created in place,
--   as the last column, which gives the same column order.
-- * The outbox for dual writes (samples.outbox) comes in a later migration.
--
-- Every statement names the samples schema: nothing relies on search_path.

CREATE FUNCTION samples.trigger_set_timestamp() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;

CREATE TABLE samples.nanopore_samples (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sample_name varchar(255) NOT NULL,
    project_id varchar(100),
    submitter_name varchar(255) NOT NULL,
    submitter_email varchar(255) NOT NULL,
    lab_name varchar(255),
    sample_type varchar(50) NOT NULL,
    sample_buffer varchar(100),
    concentration numeric(10,3),
    volume numeric(10,2),
    total_amount numeric(10,3),
    flow_cell_type varchar(50),
    flow_cell_count integer DEFAULT 1,
    status varchar(20) DEFAULT 'submitted',
    priority varchar(10) DEFAULT 'normal',
    assigned_to varchar(255),
    library_prep_by varchar(255),
    submitted_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    completed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid NOT NULL,
    chart_field varchar(255) NOT NULL DEFAULT '',
    CONSTRAINT valid_status CHECK (status IN ('submitted', 'prep', 'sequencing', 'analysis', 'completed', 'archived')),
    CONSTRAINT valid_priority CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    CONSTRAINT valid_concentration CHECK (concentration IS NULL OR concentration > 0),
    CONSTRAINT valid_volume CHECK (volume IS NULL OR volume > 0)
);

CREATE TABLE samples.nanopore_sample_details (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sample_id uuid NOT NULL REFERENCES samples.nanopore_samples(id) ON DELETE CASCADE,
    organism varchar(100),
    genome_size varchar(50),
    expected_read_length varchar(50),
    library_prep_kit varchar(100),
    barcoding_required boolean DEFAULT false,
    barcode_kit varchar(100),
    run_time_hours integer,
    basecalling_model varchar(100),
    data_delivery_method varchar(50),
    file_format varchar(50),
    analysis_required boolean DEFAULT false,
    analysis_type varchar(100),
    qc_passed boolean,
    qc_notes text,
    special_instructions text,
    internal_notes text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE samples.nanopore_processing_steps (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sample_id uuid NOT NULL REFERENCES samples.nanopore_samples(id) ON DELETE CASCADE,
    step_name varchar(100) NOT NULL,
    step_status varchar(20) DEFAULT 'pending',
    assigned_to varchar(255),
    started_at timestamptz,
    completed_at timestamptz,
    estimated_duration_hours integer,
    notes text,
    results_data jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT valid_step_status CHECK (step_status IN ('pending', 'in_progress', 'completed', 'failed', 'skipped'))
);

CREATE TABLE samples.nanopore_attachments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sample_id uuid NOT NULL REFERENCES samples.nanopore_samples(id) ON DELETE CASCADE,
    file_name varchar(255) NOT NULL,
    file_type varchar(50),
    file_size_bytes bigint,
    file_path varchar(500),
    description text,
    uploaded_by uuid,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_nanopore_samples_status ON samples.nanopore_samples (status);
CREATE INDEX idx_nanopore_samples_priority ON samples.nanopore_samples (priority);
CREATE INDEX idx_nanopore_samples_assigned_to ON samples.nanopore_samples (assigned_to);
CREATE INDEX idx_nanopore_samples_created_by ON samples.nanopore_samples (created_by);
CREATE INDEX idx_nanopore_samples_submitted_at ON samples.nanopore_samples (submitted_at);
CREATE INDEX idx_nanopore_samples_chart_field ON samples.nanopore_samples (chart_field);
CREATE INDEX idx_nanopore_sample_details_sample_id ON samples.nanopore_sample_details (sample_id);
CREATE INDEX idx_nanopore_processing_steps_sample_id ON samples.nanopore_processing_steps (sample_id);
CREATE INDEX idx_nanopore_processing_steps_status ON samples.nanopore_processing_steps (step_status);
CREATE INDEX idx_nanopore_attachments_sample_id ON samples.nanopore_attachments (sample_id);

CREATE TRIGGER set_timestamp_nanopore_samples
    BEFORE UPDATE ON samples.nanopore_samples
    FOR EACH ROW EXECUTE FUNCTION samples.trigger_set_timestamp();

CREATE TRIGGER set_timestamp_nanopore_sample_details
    BEFORE UPDATE ON samples.nanopore_sample_details
    FOR EACH ROW EXECUTE FUNCTION samples.trigger_set_timestamp();

CREATE TRIGGER set_timestamp_nanopore_processing_steps
    BEFORE UPDATE ON samples.nanopore_processing_steps
    FOR EACH ROW EXECUTE FUNCTION samples.trigger_set_timestamp();
