-- Dual writes (package dualwrite, issue 6) on the samples schema.
--
-- samples.outbox: while the samples service is the primary (write group
-- "samples" in new mode), every change it commits writes one row here in the
-- same statement, so that a change and its outbox row commit together. The
-- relay (dualwrite.Relay, run by every proxy replica, several at once) claims
-- pending rows with FOR UPDATE SKIP LOCKED, copies the CURRENT state of the
-- changed sample (and its child rows) into the legacy tables, and stamps
-- applied_at. A row that keeps failing is retried with backoff and marked
-- dead with its reason after dualwrite's MaxAttempts; `strangler outbox`
-- lists, retries and drops rows. Applied rows are deleted after a retention.
-- A secondary execution (the proxy replaying a legacy write here) writes no
-- outbox row: legacy already holds that change.
CREATE TABLE samples.outbox (
    id bigserial PRIMARY KEY,
    -- The sample whose rows changed: the relay copies the whole sample.
    aggregate_id uuid NOT NULL,
    -- The table and row written, and how (for operators; the relay copies
    -- current state, so the op never decides what is written).
    tbl text NOT NULL,
    row_id uuid NOT NULL,
    op text NOT NULL CHECK (op IN ('upsert', 'delete')),
    created_at timestamptz NOT NULL DEFAULT now(),
    next_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    applied_at timestamptz,
    applied_by text NOT NULL DEFAULT '',
    dead_at timestamptz,
    dead_reason text NOT NULL DEFAULT ''
);
CREATE INDEX outbox_pending ON samples.outbox (id) WHERE applied_at IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_dead ON samples.outbox (id) WHERE dead_at IS NOT NULL;
CREATE INDEX outbox_applied_at ON samples.outbox (applied_at) WHERE applied_at IS NOT NULL;

-- Copies keep timestamps exact. A dual-write copy into this schema (converge
-- from legacy, reconcile repair) writes rows exactly as the other store holds
-- them, updated_at included; it sets strangler.copying for its own
-- transaction (SET LOCAL), which needs no privilege and takes no lock. Every
-- other session leaves it unset and gets the legacy behaviour.
CREATE OR REPLACE FUNCTION samples.trigger_set_timestamp() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('strangler.copying', true) = 'on' THEN
        RETURN NEW;
    END IF;
    NEW.updated_at = now();
    RETURN NEW;
END;
$$;

-- Copies are exact only if this schema accepts every value the legacy
-- tables can hold: legacy's detail columns are text (contract 8.4) and its
-- attachments' uploaded_at may be NULL.
ALTER TABLE samples.nanopore_sample_details
    ALTER COLUMN organism TYPE text,
    ALTER COLUMN genome_size TYPE text,
    ALTER COLUMN expected_read_length TYPE text,
    ALTER COLUMN library_prep_kit TYPE text,
    ALTER COLUMN barcode_kit TYPE text,
    ALTER COLUMN basecalling_model TYPE text,
    ALTER COLUMN data_delivery_method TYPE text,
    ALTER COLUMN file_format TYPE text,
    ALTER COLUMN analysis_type TYPE text;
ALTER TABLE samples.nanopore_attachments ALTER COLUMN uploaded_at DROP NOT NULL;
