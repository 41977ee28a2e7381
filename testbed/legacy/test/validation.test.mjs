// Contract sections 4.3 and 5: every validation message, the issue key
// orders, the issue order and the layout of the 400 message.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fixture, issues, mutate, parsed, validSample } from './helpers.mjs';

const f = fixture(before, after);
const NIL = '00000000-0000-0000-0000-000000000000';
const long = (n) => 'a'.repeat(n);

// field, value, expected messages of that field's issues (in order)
const createCases = [
  ['sampleName', '', ['This field is required', 'Only letters, numbers, spaces, hyphens, underscores, and dots are allowed']],
  ['sampleName', long(256), ['Must not exceed 255 characters']],
  ['sampleName', 'bad#name', ['Only letters, numbers, spaces, hyphens, underscores, and dots are allowed']],
  ['projectId', long(101), ['Must not exceed 100 characters']],
  ['projectId', 'p#1', ['Only letters, numbers, spaces, hyphens, underscores, and dots are allowed']],
  ['submitterName', '', ['This field is required', 'Only letters, spaces, hyphens, apostrophes, and dots are allowed']],
  ['submitterName', long(256), ['Must not exceed 255 characters']],
  ['submitterName', 'Jo2', ['Only letters, spaces, hyphens, apostrophes, and dots are allowed']],
  ['submitterEmail', 'not-an-email', ['Please enter a valid email address']],
  ['labName', '#', ['Invalid lab name format']],
  ['labName', long(256), ['Must not exceed 255 characters']],
  ['sampleType', undefined, ['This field is required']],
  ['sampleType', 5, ['Sample type must be DNA, RNA, Protein, or Other']],
  ['sampleType', 'dna', ["Invalid enum value. Expected 'DNA' | 'RNA' | 'Protein' | 'Other', received 'dna'"]],
  ['sampleBuffer', long(101), ['Must not exceed 100 characters']],
  ['concentration', 0.0001, ['Concentration must be at least 0.001 ng/μL']],
  ['concentration', 10001, ['Concentration cannot exceed 10,000 ng/μL']],
  ['concentration', 'x', ['Invalid input']],
  ['volume', 0.01, ['Volume must be at least 0.1 μL']],
  ['volume', 1001, ['Volume cannot exceed 1,000 μL']],
  ['totalAmount', 0.0001, ['Total amount must be at least 0.001 ng']],
  ['totalAmount', 100001, ['Total amount cannot exceed 100,000 ng']],
  ['totalAmount', null, ['Expected number, received null']],
  ['flowCellType', 'R11', ["Invalid enum value. Expected 'R9.4.1' | 'R10.4.1' | 'R10.5.1' | 'Other', received 'R11'"]],
  ['flowCellType', 5, ['Invalid flow cell type']],
  ['flowCellCount', 0, ['Flow cell count must be at least 1']],
  ['flowCellCount', 11, ['Flow cell count cannot exceed 10']],
  ['flowCellCount', 1.5, ['Expected integer, received float']],
  ['priority', 'asap', ["Invalid enum value. Expected 'low' | 'normal' | 'high' | 'urgent', received 'asap'"]],
  ['priority', 5, ['Priority must be low, normal, high, or urgent']],
  ['assignedTo', '', ['This field is required', 'Only letters, spaces, hyphens, apostrophes, and dots are allowed']],
  ['libraryPrepBy', 'R2D2', ['Only letters, spaces, hyphens, apostrophes, and dots are allowed']],
  ['chartField', '', ['This field is required', 'Chart field must be in format: HTSF-001, NANO-001, or SEQ-001']],
  ['chartField', 'XYZ-001', ['Chart field must be in format: HTSF-001, NANO-001, or SEQ-001']],
];

describe('4.3 create field messages', () => {
  for (const [field, value, messages] of createCases) {
    test(`4.3 ${field}=${JSON.stringify(value)?.slice(0, 20)} -> ${messages.join(' / ').slice(0, 60)}`, async () => {
      const input = validSample({ concentration: undefined, volume: undefined, totalAmount: undefined, [field]: value });
      if (value === undefined) delete input[field];
      const res = await mutate(f.base, 'nanopore.create', input);
      assert.equal(res.status, 400);
      assert.equal(parsed(res).error.data.code, 'BAD_REQUEST');
      const list = issues(res);
      assert.ok(list.every((i) => i.path[0] === field), JSON.stringify(list));
      assert.deepEqual(list.map((i) => i.message), messages);
    });
  }
});

describe('5 zod issue format', () => {
  test('5 layout: 2-space pretty JSON, raw UTF-8', async () => {
    const res = await mutate(f.base, 'nanopore.create', validSample({ chartField: 'ABC-001' }));
    assert.equal(parsed(res).error.message, '[\n  {\n    "validation": "regex",\n    "code": "invalid_string",\n    "message": "Chart field must be in format: HTSF-001, NANO-001, or SEQ-001",\n    "path": [\n      "chartField"\n    ]\n  }\n]');
    const micro = await mutate(f.base, 'nanopore.create', validSample({ volume: 0.01, totalAmount: undefined }));
    assert.ok(micro.body.includes('0.1 μL'), 'μ is raw UTF-8');
  });
  const keyOrders = [
    ['plain missing', { submitterName: undefined }, 'submitterName', ['code', 'expected', 'received', 'path', 'message']],
    ['plain wrong type', { submitterName: 5 }, 'submitterName', ['code', 'expected', 'received', 'path', 'message']],
    ['enum with custom texts', { sampleType: 5 }, 'sampleType', ['expected', 'received', 'code', 'path', 'message']],
    ['non-integer', { flowCellCount: 2.5 }, 'flowCellCount', ['code', 'expected', 'received', 'message', 'path']],
    ['too_small', { sampleName: '' }, 'sampleName', ['code', 'minimum', 'type', 'inclusive', 'exact', 'message', 'path']],
    ['too_big', { flowCellCount: 11 }, 'flowCellCount', ['code', 'maximum', 'type', 'inclusive', 'exact', 'message', 'path']],
    ['regex', { chartField: 'x' }, 'chartField', ['validation', 'code', 'message', 'path']],
    ['email', { submitterEmail: 'x' }, 'submitterEmail', ['validation', 'code', 'message', 'path']],
    ['invalid_enum_value', { priority: 'x' }, 'priority', ['received', 'code', 'options', 'path', 'message']],
    ['refine', { concentration: 2, volume: 3, totalAmount: 1 }, 'totalAmount', ['code', 'message', 'path']],
    ['number-or-null given a string', { volume: 'x' }, 'volume', ['code', 'unionErrors', 'path', 'message']],
  ];
  for (const [kind, overrides, field, keys] of keyOrders) {
    test(`5 key order of ${kind}`, async () => {
      const input = validSample(overrides);
      for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete input[k];
      const issue = issues(await mutate(f.base, 'nanopore.create', input)).find((i) => i.path[0] === field);
      assert.deepEqual(Object.keys(issue), keys);
    });
  }
  test('5 too_small details and the custom enum issue', async () => {
    const list = issues(await mutate(f.base, 'nanopore.create', validSample({ sampleName: '', sampleType: undefined })));
    assert.deepEqual(list[0], { code: 'too_small', minimum: 1, type: 'string', inclusive: true, exact: false, message: 'This field is required', path: ['sampleName'] });
    assert.deepEqual(list.at(-1), { expected: "'DNA' | 'RNA' | 'Protein' | 'Other'", received: 'undefined', code: 'invalid_type', path: ['sampleType'], message: 'This field is required' });
  });
  test('5 invalid_union lists the number, null and undefined branches', async () => {
    const [issue] = issues(await mutate(f.base, 'nanopore.create', validSample({ concentration: 'x', totalAmount: undefined })));
    assert.equal(issue.message, 'Invalid input');
    assert.deepEqual(issue.unionErrors.map((e) => [e.name, e.issues[0].expected, e.issues[0].message]), [
      ['ZodError', 'number', 'Expected number, received string'],
      ['ZodError', 'null', 'Expected null, received string'],
      ['ZodError', 'undefined', 'Expected undefined, received string'],
    ]);
  });
  test('5 path is [] for a bare-string input', async () => {
    assert.deepEqual(issues(await mutate(f.base, 'nanopore.delete', 'x'))[0].path, []);
  });
  test('5 issue order: declaration order, concentration and volume last (create)', async () => {
    const res = await mutate(f.base, 'nanopore.create', {
      concentration: 'x', volume: 0.01, sampleName: '', submitterName: 'Jo', submitterEmail: 'jo@lab.org', sampleType: 'DNA', totalAmount: 0, flowCellCount: 0, chartField: 'bad',
    });
    assert.deepEqual(issues(res).map((i) => i.path.join('.')), ['sampleName', 'sampleName', 'totalAmount', 'flowCellCount', 'chartField', 'concentration', 'volume']);
  });
  test('5 issue order: the same in update, with data-prefixed paths and status', async () => {
    const res = await mutate(f.base, 'nanopore.update', { id: NIL, data: { volume: 'x', concentration: 0, sampleName: '#', status: 'x', priority: 'x' } });
    assert.deepEqual(issues(res).map((i) => i.path.join('.')), ['data.sampleName', 'data.status', 'data.priority', 'data.concentration', 'data.volume']);
  });
  test('4.3 the cross-field rule still runs when fields only failed checks (zod "dirty")', async () => {
    const list = issues(await mutate(f.base, 'nanopore.create', validSample({ sampleName: '', concentration: 2, volume: 3, totalAmount: 7 })));
    assert.deepEqual(list.map((i) => i.code), ['too_small', 'invalid_string', 'custom']);
  });
  test('5 the cross-field rule is not run when a field aborts the object', async () => {
    const list = issues(await mutate(f.base, 'nanopore.create', validSample({ concentration: 2, volume: 3, totalAmount: 1, sampleType: 5 })));
    assert.deepEqual(list.map((i) => i.code), ['invalid_type']);
  });
});
