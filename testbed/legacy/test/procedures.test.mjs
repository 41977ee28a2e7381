// Contract sections 2, 3 and 4: the Sample object, enumerations and rules,
// and every procedure, valid and invalid, defects included.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createSample, DEMO_USER, fixture, issues, mutate, parsed, query, request, validSample, withDb,
} from './helpers.mjs';

const f = fixture(before, after);
const NIL = '00000000-0000-0000-0000-000000000000';
const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const SAMPLE_KEYS = ['id', 'sample_name', 'project_id', 'submitter_name', 'submitter_email', 'lab_name',
  'sample_type', 'sample_buffer', 'concentration', 'volume', 'total_amount', 'flow_cell_type',
  'flow_cell_count', 'status', 'priority', 'assigned_to', 'library_prep_by', 'submitted_at',
  'started_at', 'completed_at', 'created_at', 'updated_at', 'created_by', 'chart_field'];

const data = (res) => parsed(res).result.data;
const error = (res) => parsed(res).error;
const sql = (text, params) => withDb(f.dbUrl, (c) => c.query(text, params));

describe('2.1 Sample object', () => {
  test('2.1 every key present, in table column order', async () => {
    const s = await createSample(f.base);
    assert.deepEqual(Object.keys(s), SAMPLE_KEYS);
  });
  test('2.1 decimals are strings with the column scale; flow_cell_count is a number', async () => {
    const s = await createSample(f.base);
    assert.equal(s.concentration, '12.500');
    assert.equal(s.volume, '20.00');
    assert.equal(s.total_amount, '250.000');
    assert.equal(s.flow_cell_count, 2);
  });
  test('2.1 PostgreSQL rounds half away from zero at the column scale', async () => {
    const s = await createSample(f.base, { concentration: 1.23456, volume: 3.456, totalAmount: undefined });
    assert.equal(s.concentration, '1.235');
    assert.equal(s.volume, '3.46');
    assert.equal(s.total_amount, null);
    const t = await createSample(f.base, { concentration: 2, volume: 1, totalAmount: 2 });
    assert.equal(t.concentration, '2.000');
    assert.equal(t.total_amount, '2.000');
  });
  test('2.1 timestamps are ms ISO strings; create sets submitted=created=updated', async () => {
    const s = await createSample(f.base);
    for (const k of ['submitted_at', 'created_at', 'updated_at']) assert.match(s[k], TS, k);
    assert.equal(s.submitted_at, s.created_at);
    assert.equal(s.created_at, s.updated_at);
    assert.equal(s.started_at, null);
    assert.equal(s.completed_at, null);
  });
  test('2.1 id is a lower-case v4 UUID; created_by is the demo user', async () => {
    const s = await createSample(f.base);
    assert.match(s.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(s.created_by, DEMO_USER);
  });
  test('2.1 updated_at is overwritten by the DB trigger; started_at comes from the app', async () => {
    const s = await createSample(f.base);
    const { rows } = await sql("UPDATE nanopore_samples SET updated_at = '2000-01-01T00:00:00Z' WHERE id = $1 RETURNING updated_at", [s.id]);
    assert.ok(rows[0].updated_at.getTime() > Date.parse('2001-01-01'), 'trigger sets now()');
    const u = data(await mutate(f.base, 'nanopore.updateStatus', { id: s.id, status: 'prep' }));
    assert.match(u.started_at, TS);
    assert.match(u.updated_at, TS);
  });
});

describe('3 enumerations and rules', () => {
  test('3.1 status values are case-sensitive', async () => {
    const s = await createSample(f.base);
    const res = await mutate(f.base, 'nanopore.updateStatus', { id: s.id, status: 'PREP' });
    assert.equal(res.status, 400);
    assert.equal(issues(res)[0].code, 'invalid_enum_value');
  });
  test('3.1 new samples always start as submitted (status input is stripped)', async () => {
    const s = await createSample(f.base, { status: 'completed' });
    assert.equal(s.status, 'submitted');
  });
  test('3.1 transitions are not enforced', async () => {
    const s = await createSample(f.base);
    for (const status of ['completed', 'archived', 'submitted', 'prep', 'prep']) {
      const res = await mutate(f.base, 'nanopore.updateStatus', { id: s.id, status });
      assert.equal(res.status, 200, status);
      assert.equal(data(res).status, status);
    }
  });
  test('3.1 prep sets started_at every time; completed sets completed_at; nothing clears', async () => {
    const s = await createSample(f.base);
    const prep = data(await mutate(f.base, 'nanopore.updateStatus', { id: s.id, status: 'prep' }));
    assert.match(prep.started_at, TS);
    await sql("UPDATE nanopore_samples SET started_at = '2000-01-01T00:00:00Z' WHERE id = $1", [s.id]);
    const again = data(await mutate(f.base, 'nanopore.update', { id: s.id, data: { status: 'prep' } }));
    assert.notEqual(again.started_at, '2000-01-01T00:00:00.000Z');
    const done = data(await mutate(f.base, 'nanopore.updateStatus', { id: s.id, status: 'completed' }));
    assert.match(done.completed_at, TS);
    const back = data(await mutate(f.base, 'nanopore.updateStatus', { id: s.id, status: 'prep' }));
    assert.equal(back.completed_at, done.completed_at);
    assert.match(back.started_at, TS);
  });
  test('3.2 priority defaults to normal', async () => {
    const input = validSample();
    delete input.priority;
    assert.equal(data(await mutate(f.base, 'nanopore.create', input)).priority, 'normal');
  });
  test('3.3 sampleType is case-sensitive; flow cell types', async () => {
    assert.equal((await mutate(f.base, 'nanopore.create', validSample({ sampleType: 'dna' }))).status, 400);
    for (const t of ['R9.4.1', 'R10.4.1', 'R10.5.1', 'Other']) {
      assert.equal((await createSample(f.base, { flowCellType: t })).flow_cell_type, t);
    }
  });
  test('3.4 chart field pattern, checked before trimming', async () => {
    assert.equal((await createSample(f.base, { chartField: 'SEQ-999' })).chart_field, 'SEQ-999');
    for (const chartField of ['ABC-001', 'htsf-001', 'HTSF-001 ']) {
      const res = await mutate(f.base, 'nanopore.create', validSample({ chartField }));
      assert.equal(res.status, 400, chartField);
      assert.equal(issues(res)[0].message, 'Chart field must be in format: HTSF-001, NANO-001, or SEQ-001');
    }
  });
});

describe('4.1 health', () => {
  test('4.1 output and ignored input', async () => {
    const res = await request(f.base, 'GET', `/api/trpc/health?input=${encodeURIComponent('{"x":1}')}`);
    assert.equal(res.status, 200);
    const d = data(res);
    assert.deepEqual(Object.keys(d), ['status', 'timestamp']);
    assert.equal(d.status, 'ok');
    assert.match(d.timestamp, TS);
  });
});

describe('4.3 create', () => {
  test('4.3 unknown keys are stripped; trims; empty sampleBuffer becomes null', async () => {
    const s = await createSample(f.base, { sampleName: ' Padded ', sampleBuffer: '', bogus: 1, submitterName: 'Ann Lee ' });
    assert.equal(s.sample_name, 'Padded');
    assert.equal(s.submitter_name, 'Ann Lee');
    assert.equal(s.sample_buffer, null);
    assert.equal('bogus' in s, false);
  });
  test('4.3 stored defaults: missing optionals null, falsy numbers null, flowCellCount 1', async () => {
    const res = await mutate(f.base, 'nanopore.create', {
      sampleName: 'Min', submitterName: 'Jo', submitterEmail: 'jo@lab.org', sampleType: 'RNA', chartField: 'NANO-001', concentration: null,
    });
    const s = data(res);
    for (const k of ['project_id', 'lab_name', 'sample_buffer', 'concentration', 'volume', 'total_amount', 'flow_cell_type', 'assigned_to', 'library_prep_by']) {
      assert.equal(s[k], null, k);
    }
    assert.equal(s.flow_cell_count, 1);
    assert.equal(s.priority, 'normal');
    assert.equal(s.status, 'submitted');
  });
  test('4.3 projectId "" and labName "" are rejected', async () => {
    assert.equal(issues(await mutate(f.base, 'nanopore.create', validSample({ projectId: '' })))[0].path[0], 'projectId');
    assert.equal(issues(await mutate(f.base, 'nanopore.create', validSample({ labName: '' })))[0].message, 'Invalid lab name format');
  });
  test('4.3 e-mail sanitisation strips SQL keywords and keeps case', async () => {
    assert.equal((await createSample(f.base, { submitterEmail: 'jo.update@lab.org' })).submitter_email, 'jo.@lab.org');
    assert.equal((await createSample(f.base, { submitterEmail: 'John.ONeil@Lab.org' })).submitter_email, 'John.ONeil@Lab.org');
  });
  test('4.3 service re-check: a mangled e-mail fails with Validation failed', async () => {
    const res = await mutate(f.base, 'nanopore.create', validSample({ submitterEmail: 'Delete.Me@select.org' }));
    assert.equal(res.status, 400);
    assert.deepEqual(error(res), { message: 'Validation failed: Invalid email format', code: -32600, data: { code: 'BAD_REQUEST', httpStatus: 400, path: 'nanopore.create' } });
  });
  test('4.3 service re-check: a blank name passes zod but fails the required check', async () => {
    const res = await mutate(f.base, 'nanopore.create', validSample({ sampleName: '   ' }));
    assert.equal(res.status, 400);
    assert.equal(error(res).message, 'Validation failed: Sample name is required');
  });
  test('4.3 an e-mail longer than the column is 400 Input value is too long', async () => {
    const res = await mutate(f.base, 'nanopore.create', validSample({ submitterEmail: `${'a'.repeat(300)}@lab.org` }));
    assert.equal(res.status, 400);
    assert.equal(error(res).message, 'Input value is too long');
  });
  test('4.3 cross-field rule on totalAmount', async () => {
    const res = await mutate(f.base, 'nanopore.create', validSample({ concentration: 2, volume: 3, totalAmount: 7 }));
    assert.equal(res.status, 400);
    assert.deepEqual(issues(res), [{ code: 'custom', message: "Total amount doesn't match concentration × volume", path: ['totalAmount'] }]);
    assert.equal((await mutate(f.base, 'nanopore.create', validSample({ concentration: 2, volume: 3, totalAmount: 6.0005 }))).status, 200);
  });
});

describe('4.4 update', () => {
  test('4.4 only given fields are written; chartField is stripped', async () => {
    const s = await createSample(f.base);
    const u = data(await mutate(f.base, 'nanopore.update', { id: s.id, data: { labName: 'New Lab', chartField: 'SEQ-001' } }));
    assert.equal(u.lab_name, 'New Lab');
    assert.equal(u.chart_field, 'HTSF-001');
    assert.equal(u.priority, s.priority);
    assert.equal(u.flow_cell_count, s.flow_cell_count);
  });
  test('4.4 data {} only bumps updated_at', async () => {
    const s = await createSample(f.base);
    const u = data(await mutate(f.base, 'nanopore.update', { id: s.id, data: {} }));
    assert.deepEqual({ ...u, updated_at: null }, { ...s, updated_at: null });
    assert.ok(Date.parse(u.updated_at) >= Date.parse(s.updated_at));
  });
  test('4.4 concentration and volume accept null; other fields do not', async () => {
    const s = await createSample(f.base);
    const u = data(await mutate(f.base, 'nanopore.update', { id: s.id, data: { concentration: null, volume: null } }));
    assert.equal(u.concentration, null);
    assert.equal(u.volume, null);
    const bad = await mutate(f.base, 'nanopore.update', { id: s.id, data: { totalAmount: null } });
    assert.equal(bad.status, 400);
  });
  test('4.4 e-mail sanitised without the service re-check; no totalAmount rule', async () => {
    const s = await createSample(f.base);
    const u = data(await mutate(f.base, 'nanopore.update', { id: s.id, data: { submitterEmail: 'Delete.Me@select.org', totalAmount: 1 } }));
    assert.equal(u.submitter_email, '.Me@.org');
    assert.equal(u.total_amount, '1.000');
  });
  test('4.4 id uses the default uuid message; data is required', async () => {
    const res = await mutate(f.base, 'nanopore.update', { id: 'x' });
    assert.deepEqual(issues(res).map((i) => [i.path, i.message]), [[['id'], 'Invalid uuid'], [['data'], 'Required']]);
  });
  test('4.4 issue paths are prefixed with data', async () => {
    const res = await mutate(f.base, 'nanopore.update', { id: NIL, data: { priority: 'x' } });
    assert.deepEqual(issues(res)[0].path, ['data', 'priority']);
  });
  test('4.4 unknown id is 500 Sample not found', async () => {
    const res = await mutate(f.base, 'nanopore.update', { id: NIL, data: {} });
    assert.equal(res.status, 500);
    assert.deepEqual(error(res), { message: 'Sample not found', code: -32603, data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500, path: 'nanopore.update' } });
  });
});

describe('4.5 assign', () => {
  test('4.5 sets assigned_to and always overwrites library_prep_by', async () => {
    const s = await createSample(f.base);
    const a = data(await mutate(f.base, 'nanopore.assign', { id: s.id, assignedTo: 'Kim Park', libraryPrepBy: 'Lee Wong' }));
    assert.equal(a.assigned_to, 'Kim Park');
    assert.equal(a.library_prep_by, 'Lee Wong');
    const b = data(await mutate(f.base, 'nanopore.assign', { id: s.id, assignedTo: 'Kim Park' }));
    assert.equal(b.library_prep_by, null);
  });
  test('4.5 Invalid ID format; empty assignedTo gives two issues', async () => {
    const res = await mutate(f.base, 'nanopore.assign', { id: 'x', assignedTo: '' });
    assert.deepEqual(issues(res).map((i) => i.message), ['Invalid ID format', 'This field is required', 'Only letters, spaces, hyphens, apostrophes, and dots are allowed']);
  });
  test('4.5 unknown id is 500 Sample not found', async () => {
    const res = await mutate(f.base, 'nanopore.assign', { id: NIL, assignedTo: 'Kim' });
    assert.equal(res.status, 500);
    assert.equal(error(res).message, 'Sample not found');
  });
});

describe('4.6 updateStatus', () => {
  test('4.6 Invalid ID format and invalid_enum_value', async () => {
    const res = await mutate(f.base, 'nanopore.updateStatus', { id: 'x', status: 'done' });
    const list = issues(res);
    assert.equal(list[0].message, 'Invalid ID format');
    assert.equal(list[1].message, "Invalid enum value. Expected 'submitted' | 'prep' | 'sequencing' | 'analysis' | 'completed' | 'archived', received 'done'");
  });
  test('4.6 unknown id is 500 Sample not found', async () => {
    const res = await mutate(f.base, 'nanopore.updateStatus', { id: NIL, status: 'prep' });
    assert.equal(res.status, 500);
    assert.equal(error(res).message, 'Sample not found');
  });
});

describe('4.7 delete', () => {
  test('4.7 bare uuid string; answers {success:true}; cascades to steps; 404 after', async () => {
    const s = await createSample(f.base);
    await sql("INSERT INTO nanopore_processing_steps (sample_id, step_name) VALUES ($1, 'Sample QC')", [s.id]);
    const res = await mutate(f.base, 'nanopore.delete', s.id);
    assert.equal(res.body, '{"result":{"data":{"success":true}}}');
    const { rows } = await sql('SELECT count(*)::int AS n FROM nanopore_processing_steps WHERE sample_id = $1', [s.id]);
    assert.equal(rows[0].n, 0);
    const again = await mutate(f.base, 'nanopore.delete', s.id);
    assert.equal(again.status, 404);
    assert.deepEqual(error(again), { message: `Sample with ID '${s.id}' not found`, code: -32004, data: { code: 'NOT_FOUND', httpStatus: 404, path: 'nanopore.delete' } });
  });
  test('4.7 an object is rejected at path []; a non-uuid is Invalid uuid', async () => {
    assert.deepEqual(issues(await mutate(f.base, 'nanopore.delete', { id: NIL })), [{ code: 'invalid_type', expected: 'string', received: 'object', path: [], message: 'Expected string, received object' }]);
    assert.deepEqual(issues(await mutate(f.base, 'nanopore.delete', 'nope')), [{ validation: 'uuid', code: 'invalid_string', message: 'Invalid uuid', path: [] }]);
  });
  test('4.7 the nil UUID passes validation (404)', async () => {
    assert.equal((await mutate(f.base, 'nanopore.delete', NIL)).status, 404);
  });
});

describe('4.8 processing-step procedures', () => {
  const calls = [
    ['getProcessingSteps', NIL, 'query'],
    ['createDefaultProcessingSteps', NIL, 'mutation'],
    ['updateProcessingStep', { stepId: NIL, updates: { notes: 'x' } }, 'mutation'],
    ['startProcessingStep', { stepId: NIL, assignedTo: 'x' }, 'mutation'],
    ['completeProcessingStep', { stepId: NIL, notes: 'n', resultsData: { a: 1 } }, 'mutation'],
  ];
  for (const [proc, input, kind] of calls) {
    test(`4.8 ${proc}: valid input always gives 500 timer.done is not a function`, async () => {
      const s = await createSample(f.base);
      for (const id of [NIL, s.id]) {
        const real = JSON.parse(JSON.stringify(input).replaceAll(NIL, id));
        const res = kind === 'query' ? await query(f.base, `nanopore.${proc}`, real) : await mutate(f.base, `nanopore.${proc}`, real);
        assert.equal(res.status, 500);
        assert.deepEqual(error(res), { message: 'timer.done is not a function', code: -32603, data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500, path: `nanopore.${proc}` } });
      }
    });
    test(`4.8 ${proc}: an invalid id gives the default Invalid uuid`, async () => {
      const bad = typeof input === 'string' ? 'x' : { ...input, stepId: 'x' };
      const res = kind === 'query' ? await query(f.base, `nanopore.${proc}`, bad) : await mutate(f.base, `nanopore.${proc}`, bad);
      assert.equal(res.status, 400);
      assert.equal(issues(res)[0].message, 'Invalid uuid');
    });
  }
  test('4.8 updateProcessingStep requires updates', async () => {
    const res = await mutate(f.base, 'nanopore.updateProcessingStep', { stepId: NIL });
    assert.deepEqual(issues(res)[0].path, ['updates']);
  });
  test('4.8 no side effects: the step table stays empty', async () => {
    const s = await createSample(f.base);
    await mutate(f.base, 'nanopore.createDefaultProcessingSteps', s.id);
    const { rows } = await sql('SELECT count(*)::int AS n FROM nanopore_processing_steps');
    assert.equal(rows[0].n, 0);
  });
});
