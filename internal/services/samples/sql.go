package samples

import "strconv"

// SQL of the service. Every statement names the samples schema, so that a
// database without it fails loudly instead of falling through to the legacy
// tables in public. Numerics are selected as ::text: PostgreSQL prints them
// with the column's fixed scale ("2.000"), exactly what node-postgres hands
// the legacy app, and a float would lose that.

// outboxed wraps a statement that writes rows (given without RETURNING) so
// that it returns the written rows through sel, and, when its last
// parameter ($flag) is true, writes one samples.outbox row per written row
// in the same statement, hence the same transaction: a change and its
// outbox row commit together or not at all, at no extra round trip. The
// relay (package dualwrite) copies the changed sample into the legacy
// tables. The flag is false for a secondary execution (the proxy replaying
// a write legacy already holds). aggregate is the column holding the
// sample's id.
func outboxed(stmt string, flag int, table, aggregate, op, sel, tail string) string {
	return "WITH changed AS (" + stmt + "\nRETURNING *),\noutbox AS (INSERT INTO samples.outbox (aggregate_id, tbl, row_id, op)\n SELECT " +
		aggregate + ", '" + table + "', id, '" + op + "' FROM changed WHERE $" + strconv.Itoa(flag) + "::boolean)\nSELECT " +
		sel + " FROM changed" + tail
}

// DemoUserID is the created_by of every sample: the legacy app's hard-coded
// demo user (contract 2.1, row 23).
const DemoUserID = "550e8400-e29b-41d4-a716-446655440000"

// sampleColumns is the Sample object (contract 2.1) in table column order.
var sampleColumns = []column{
	{"id", kindUUID},
	{"sample_name", kindText},
	{"project_id", kindText},
	{"submitter_name", kindText},
	{"submitter_email", kindText},
	{"lab_name", kindText},
	{"sample_type", kindText},
	{"sample_buffer", kindText},
	{"concentration", kindNum},
	{"volume", kindNum},
	{"total_amount", kindNum},
	{"flow_cell_type", kindText},
	{"flow_cell_count", kindInt},
	{"status", kindText},
	{"priority", kindText},
	{"assigned_to", kindText},
	{"library_prep_by", kindText},
	{"submitted_at", kindTime},
	{"started_at", kindTime},
	{"completed_at", kindTime},
	{"created_at", kindTime},
	{"updated_at", kindTime},
	{"created_by", kindUUID},
	{"chart_field", kindText},
}

const sampleSelect = `id, sample_name, project_id, submitter_name, submitter_email, lab_name,
 sample_type, sample_buffer, concentration::text, volume::text, total_amount::text,
 flow_cell_type, flow_cell_count, status, priority, assigned_to, library_prep_by,
 submitted_at, started_at, completed_at, created_at, updated_at, created_by, chart_field`

const sqlGetAll = `SELECT ` + sampleSelect + `
FROM samples.nanopore_samples ORDER BY submitted_at DESC`

// sqlCreate inserts one sample; submitted_at, created_at and updated_at get
// the same app-clock instant ($17), as in legacy.
var sqlCreate = outboxed(`INSERT INTO samples.nanopore_samples (id, sample_name, project_id,
 submitter_name, submitter_email, lab_name, sample_type, sample_buffer, concentration,
 volume, total_amount, flow_cell_type, flow_cell_count, status, priority, assigned_to,
 library_prep_by, submitted_at, created_at, updated_at, created_by, chart_field)
VALUES ($1, $2::varchar, $3::varchar, $4::varchar, $5::varchar, $6::varchar, $7::varchar,
 $8::varchar, $9::numeric, $10::numeric, $11::numeric, $12::varchar, $13::integer,
 'submitted', $14::varchar, $15::varchar, $16::varchar, $17::timestamptz, $17::timestamptz,
 $17::timestamptz, '`+DemoUserID+`', $18::varchar)`, 19, "nanopore_samples", "id", "upsert", sampleSelect, "")

// sqlUpdate writes only the given fields in one statement (a NULL parameter
// keeps the column), so that concurrent updates of different fields never
// undo each other. concentration and volume take a flag because they can be
// set to NULL. Setting status prep or completed stamps started_at or
// completed_at with the app clock ($20); updated_at comes from the trigger.
var sqlUpdate = outboxed(`UPDATE samples.nanopore_samples SET
 sample_name = COALESCE($2::varchar, sample_name),
 project_id = COALESCE($3::varchar, project_id),
 submitter_name = COALESCE($4::varchar, submitter_name),
 submitter_email = COALESCE($5::varchar, submitter_email),
 lab_name = COALESCE($6::varchar, lab_name),
 sample_type = COALESCE($7::varchar, sample_type),
 sample_buffer = COALESCE($8::varchar, sample_buffer),
 concentration = CASE WHEN $9::boolean THEN $10::numeric ELSE concentration END,
 volume = CASE WHEN $11::boolean THEN $12::numeric ELSE volume END,
 total_amount = COALESCE($13::numeric, total_amount),
 flow_cell_type = COALESCE($14::varchar, flow_cell_type),
 flow_cell_count = COALESCE($15::integer, flow_cell_count),
 status = COALESCE($16::varchar, status),
 priority = COALESCE($17::varchar, priority),
 assigned_to = COALESCE($18::varchar, assigned_to),
 library_prep_by = COALESCE($19::varchar, library_prep_by),
 started_at = CASE WHEN $16::varchar = 'prep' THEN $20::timestamptz ELSE started_at END,
 completed_at = CASE WHEN $16::varchar = 'completed' THEN $20::timestamptz ELSE completed_at END
WHERE id = $1`, 21, "nanopore_samples", "id", "upsert", sampleSelect, "")

// sqlAssign always overwrites library_prep_by, NULL when not given.
var sqlAssign = outboxed(`UPDATE samples.nanopore_samples
SET assigned_to = $2::varchar, library_prep_by = $3::varchar
WHERE id = $1`, 4, "nanopore_samples", "id", "upsert", sampleSelect, "")

// sqlDelete deletes a sample (its children go by cascade) and counts it.
var sqlDelete = outboxed(`DELETE FROM samples.nanopore_samples WHERE id = $1`,
	2, "nanopore_samples", "id", "delete", "count(*)", "")

const sqlHealth = `SELECT 1 FROM samples.nanopore_samples LIMIT 1`

// stepColumns is the processing step object (contract 2.2) in column order.
var stepColumns = []column{
	{"id", kindUUID},
	{"sample_id", kindUUID},
	{"step_name", kindText},
	{"step_status", kindText},
	{"assigned_to", kindText},
	{"started_at", kindTime},
	{"completed_at", kindTime},
	{"estimated_duration_hours", kindInt},
	{"notes", kindText},
	{"results_data", kindJSON},
	{"created_at", kindTime},
	{"updated_at", kindTime},
}

const stepSelect = `id, sample_id, step_name, step_status, assigned_to, started_at,
 completed_at, estimated_duration_hours, notes, results_data::text, created_at, updated_at`

const sqlGetSteps = `SELECT ` + stepSelect + `
FROM samples.nanopore_processing_steps WHERE sample_id = $1 ORDER BY created_at, id`

// sqlCreateSteps inserts the default steps of contract 3.6 for an existing
// sample (none when the sample is missing, which the caller reports). Step i
// is created one microsecond after step i-1, so that created_at order is the
// insertion order; the millisecond JSON timestamps do not show it.
var sqlCreateSteps = outboxed(`INSERT INTO samples.nanopore_processing_steps (sample_id, step_name, step_status,
  estimated_duration_hours, created_at, updated_at)
 SELECT s.id, d.name, 'pending', d.hours,
  $2::timestamptz + (d.ord - 1) * interval '1 microsecond',
  $2::timestamptz + (d.ord - 1) * interval '1 microsecond'
 FROM samples.nanopore_samples s
 CROSS JOIN unnest($3::varchar[], $4::integer[]) WITH ORDINALITY AS d(name, hours, ord)
 WHERE s.id = $1`, 5, "nanopore_processing_steps", "sample_id", "upsert", stepSelect, " ORDER BY created_at")

// sqlUpdateStep is the one statement behind update, start and complete: each
// column has a flag saying whether to write it.
var sqlUpdateStep = outboxed(`UPDATE samples.nanopore_processing_steps SET
 step_status = COALESCE($2::varchar, step_status),
 started_at = COALESCE($3::timestamptz, started_at),
 completed_at = COALESCE($4::timestamptz, completed_at),
 assigned_to = CASE WHEN $5::boolean THEN $6::varchar ELSE assigned_to END,
 notes = CASE WHEN $7::boolean THEN $8::text ELSE notes END,
 estimated_duration_hours = CASE WHEN $9::boolean THEN $10::integer ELSE estimated_duration_hours END,
 results_data = CASE WHEN $11::boolean THEN $12::jsonb ELSE results_data END
WHERE id = $1`, 13, "nanopore_processing_steps", "sample_id", "upsert", stepSelect, "")

// defaultSteps are the steps of contract 3.6, in order.
var (
	defaultStepNames = []string{"Sample QC", "Library Preparation", "Library QC",
		"Sequencing Setup", "Sequencing Run", "Basecalling", "Quality Assessment", "Data Delivery"}
	defaultStepHours = []int32{1, 4, 1, 1, 48, 2, 1, 1}
)
