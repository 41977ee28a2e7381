// The legacy sample service and repository (contract sections 2 to 4 and 6),
// defects included: the per-process getAll snapshot, the service-level
// e-mail re-check, 500 "Sample not found", 404 only from delete, the broken
// processing-step procedures, and the error mapping of section 6.
import { randomUUID } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { DEMO_USER_ID } from './db.mjs';
import { patterns } from './schemas.mjs';

/** ValidationError is the app's "validation" error: it maps to 400. */
export class ValidationError extends Error {}

/** NotFoundError is the app's "not found" error: it maps to 404 (delete only). */
export class NotFoundError extends Error {
  constructor(resource, id) {
    super(`${resource} with ID '${id}' not found`);
  }
}

// camelCase input keys of update and their columns, in the order the legacy
// repository writes them.
const updatableColumns = [
  ['sampleName', 'sample_name'],
  ['projectId', 'project_id'],
  ['submitterName', 'submitter_name'],
  ['submitterEmail', 'submitter_email'],
  ['labName', 'lab_name'],
  ['sampleType', 'sample_type'],
  ['sampleBuffer', 'sample_buffer'],
  ['concentration', 'concentration'],
  ['volume', 'volume'],
  ['totalAmount', 'total_amount'],
  ['flowCellType', 'flow_cell_type'],
  ['flowCellCount', 'flow_cell_count'],
  ['status', 'status'],
  ['priority', 'priority'],
  ['assignedTo', 'assigned_to'],
  ['libraryPrepBy', 'library_prep_by'],
];

// statusTimestamps adds the app-clock side effects of a status change
// (contract 3.1): prep sets started_at, completed sets completed_at, every time.
function statusTimestamps(status, set, now) {
  if (status === 'prep') set.push(['started_at', now]);
  else if (status === 'completed') set.push(['completed_at', now]);
}

/**
 * SampleService holds the pool, the app clock and the getAll snapshot of one
 * process. Options: pool, getAllTtlMs (default 300 s), now (clock).
 */
export class SampleService {
  constructor({ pool, getAllTtlMs = 300_000, now = () => new Date() }) {
    this.pool = pool;
    this.getAllTtlMs = getAllTtlMs;
    this.now = now;
    this.snapshot = null; // { rows, expiresAt }
  }

  /** getAll serves the snapshot while it is fresh; only create clears it. */
  async getAll() {
    const at = Date.now();
    if (this.snapshot && at < this.snapshot.expiresAt) {
      return this.snapshot.rows;
    }
    const { rows } = await this.pool.query(
      'SELECT * FROM public.nanopore_samples ORDER BY submitted_at DESC',
    );
    this.snapshot = { rows, expiresAt: at + this.getAllTtlMs };
    return rows;
  }

  async findById(id) {
    const { rows } = await this.pool.query(
      'SELECT * FROM public.nanopore_samples WHERE id = $1', [id],
    );
    return rows[0] ?? null;
  }

  /** create re-checks the validated input, inserts one row and clears the snapshot. */
  async create(data) {
    checkCreateData(data);
    const now = this.now();
    const values = [
      randomUUID(), data.sampleName, data.projectId || null, data.submitterName,
      data.submitterEmail, data.labName || null, data.sampleType, data.sampleBuffer || null,
      data.concentration || null, data.volume || null, data.totalAmount || null,
      data.flowCellType || null, data.flowCellCount || 1, 'submitted', data.priority || 'normal',
      data.assignedTo || null, data.libraryPrepBy || null, data.chartField,
      now, now, now, DEMO_USER_ID,
    ];
    const { rows } = await this.pool.query(
      `INSERT INTO public.nanopore_samples (id, sample_name, project_id, submitter_name,
        submitter_email, lab_name, sample_type, sample_buffer, concentration, volume,
        total_amount, flow_cell_type, flow_cell_count, status, priority, assigned_to,
        library_prep_by, chart_field, submitted_at, created_at, updated_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
        $18, $19, $20, $21, $22)
       RETURNING *`,
      values,
    );
    this.snapshot = null;
    return rows[0];
  }

  /** update writes only the given fields; the trigger overwrites updated_at. */
  async update(id, data) {
    await this.mustExist(id);
    const now = this.now();
    const set = [['updated_at', now]];
    for (const [key, column] of updatableColumns) {
      if (data[key] !== undefined) set.push([column, data[key]]);
    }
    statusTimestamps(data.status, set, now);
    return this.updateRow(id, set);
  }

  /** assign always overwrites library_prep_by, with null when it is omitted. */
  async assign(id, assignedTo, libraryPrepBy) {
    await this.mustExist(id);
    return this.updateRow(id, [
      ['assigned_to', assignedTo],
      ['library_prep_by', libraryPrepBy || null],
      ['updated_at', this.now()],
    ]);
  }

  /** updateStatus enforces no transition; it only adds the side timestamps. */
  async updateStatus(id, status) {
    await this.mustExist(id);
    const now = this.now();
    const set = [['status', status], ['updated_at', now]];
    statusTimestamps(status, set, now);
    return this.updateRow(id, set);
  }

  /** delete is the only procedure that answers 404 for a missing sample. */
  async delete(id) {
    if (!(await this.findById(id))) {
      throw new NotFoundError('Sample', id);
    }
    await this.pool.query('DELETE FROM public.nanopore_samples WHERE id = $1', [id]);
    return { success: true };
  }

  // mustExist reproduces the plain Error that surfaces as 500 (not 404).
  async mustExist(id) {
    if (!(await this.findById(id))) {
      throw new Error('Sample not found');
    }
  }

  async updateRow(id, set) {
    const assignments = set.map(([column], i) => `${column} = $${i + 2}`).join(', ');
    const { rows } = await this.pool.query(
      `UPDATE public.nanopore_samples SET ${assignments} WHERE id = $1 RETURNING *`,
      [id, ...set.map(([, value]) => value)],
    );
    if (rows.length === 0) {
      // The row vanished between the check and the update (Kysely's
      // executeTakeFirstOrThrow); a plain error, so a 500.
      throw new Error('no result');
    }
    return rows[0];
  }
}

// checkCreateData is the service-level re-check of create (contract 4.3).
function checkCreateData(data) {
  const errors = [];
  if (!data.sampleName?.trim()) errors.push('Sample name is required');
  if (!data.submitterName?.trim()) errors.push('Submitter name is required');
  if (!data.submitterEmail?.trim()) errors.push('Submitter email is required');
  if (!data.sampleType?.trim()) errors.push('Sample type is required');
  if (!data.chartField?.trim()) errors.push('Chart field is required');
  if (data.submitterEmail && !patterns.serviceEmail.test(data.submitterEmail)) {
    errors.push('Invalid email format');
  }
  if (errors.length > 0) {
    throw new ValidationError(`Validation failed: ${errors.join(', ')}`);
  }
}

/**
 * brokenStepProcedure is what every processing-step procedure does once its
 * input is valid: a misused timing helper in a finally block replaces any
 * outcome with this TypeError, before anything touches the database.
 */
export function brokenStepProcedure() {
  const timer = () => {};
  try {
    return undefined;
  } finally {
    timer.done();
  }
}

const pgBadRequest = {
  23505: 'A record with this value already exists',
  23503: 'Referenced record does not exist',
  23502: 'Required field is missing',
  22001: 'Input value is too long',
};

/** toTRPCError maps anything a procedure throws to the legacy error (contract 6). */
export function toTRPCError(err) {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ValidationError) return new TRPCError({ code: 'BAD_REQUEST', message });
  if (err instanceof NotFoundError) return new TRPCError({ code: 'NOT_FOUND', message });
  const code = err?.code;
  if (pgBadRequest[code]) return new TRPCError({ code: 'BAD_REQUEST', message: pgBadRequest[code] });
  if (code === '22P02') {
    const text = message.includes('uuid') ? 'Invalid ID format' : 'Invalid input format';
    return new TRPCError({ code: 'BAD_REQUEST', message: text });
  }
  if (code === 'ECONNREFUSED' || /ECONNREFUSED|Connection terminated/i.test(message)) {
    return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'Database connection failed' });
  }
  if (message.includes('timeout')) {
    return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'Database operation timed out' });
  }
  return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message });
}
