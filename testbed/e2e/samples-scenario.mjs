// The differential scenario of issue 4: every sample procedure, valid,
// invalid and edge inputs from the legacy contract, single and batched,
// through the real @trpc/client (httpLink, httpBatchLink) and raw HTTP.
// samples-differential.mjs runs it and prints the transcript.
//
// It is deterministic on a FRESH database. Calls that exercise a declared
// fix carry the fix's name (4th element of a client call, `fixes` of a raw
// request); every other call must be answered identically by legacy and by
// the Go service. The fixes (DESIGN.md, "Compatibility decisions"):
//   steps         the processing-step procedures work (legacy: 500 timer.done)
//   getAll-fresh  getAll is always fresh (legacy: a snapshot only create
//                 refreshes); each tagged getAll is followed by a step
//                 "... (refresh)" creating a sample and "... (confirm)", a
//                 getAll both sides answer fresh
//   email         e-mail addresses are stored as given (legacy strips SQL
//                 keywords, then may refuse the address); these come last,
//                 since they leave the two stores different
// Samples created in one millisecond have no getAll order, so the scenario
// waits for the clock to move on after every create.

const NIL = '00000000-0000-0000-0000-000000000000';
const MISSING = '00000000-0000-4000-8000-00000000abcd';
const STEPS_FIX = 'steps';
const FRESH_FIX = 'getAll-fresh';
const EMAIL_FIX = 'email';

const q = (input) => encodeURIComponent(JSON.stringify(input));
const json = { 'content-type': 'application/json' };

export const fullSample = {
  sampleName: 'Scenario Sample A', projectId: 'PRJ-100', submitterName: "Ann O'Neil",
  submitterEmail: 'ann.oneil@lab.org', labName: 'Genomics Lab, Room 2', sampleType: 'DNA',
  sampleBuffer: 'TE', concentration: 12.5, volume: 20, totalAmount: 250, flowCellType: 'R10.4.1',
  flowCellCount: 2, priority: 'high', assignedTo: 'Kim Park', libraryPrepBy: 'Lee Wong', chartField: 'HTSF-001',
};

export const minimal = (name, extra = {}) => ({
  sampleName: name, submitterName: 'Jo Doe', submitterEmail: 'jo@lab.org', sampleType: 'RNA', chartField: 'NANO-002', ...extra,
});

// Invalid create inputs (contract 4.3 and 5), each sent on its own.
const invalidCreates = [
  ['no input', undefined], ['null', null], ['empty object', {}], ['a string', 'sample'], ['a number', 42], ['an array', []],
  ['empty sampleName', minimal('')], ['blank sampleName (service re-check)', minimal('   ')],
  ['sampleName 256 chars', minimal('S'.repeat(256))], ['non-ASCII sampleName', minimal('Café μ')],
  ['empty projectId', minimal('P', { projectId: '' })], ['digit in submitterName', minimal('P', { submitterName: 'J0' })],
  ['bad email', minimal('P', { submitterEmail: 'nope' })],
  ['email over 255 chars (column limit)', minimal('P', { submitterEmail: `${'a'.repeat(250)}@lab.org` })],
  ['lab name #', minimal('P', { labName: '#' })], ['sampleType dna', minimal('P', { sampleType: 'dna' })],
  ['sampleType number', minimal('P', { sampleType: 5 })], ['sampleType missing', minimal('P', { sampleType: undefined })],
  ['sampleBuffer 101 chars', minimal('P', { sampleBuffer: 'b'.repeat(101) })],
  ['concentration string (union)', minimal('P', { concentration: '5' })],
  ['every wrong type', { sampleName: 1, submitterName: true, submitterEmail: null, sampleType: [], chartField: {}, volume: 'x', flowCellCount: '2' }],
];

// More invalid creates, sent four at a time with httpBatchLink (all 400).
const invalidCreateBatches = [
  [minimal('P', { concentration: 0 }), minimal('P', { concentration: 10001 }), minimal('P', { volume: 0.01 }), minimal('P', { volume: 1001 })],
  [minimal('P', { totalAmount: null }), minimal('P', { totalAmount: 0 }), minimal('P', { totalAmount: 100001 }),
    minimal('P', { concentration: 2, volume: 3, totalAmount: 7 })],
  [minimal('P', { flowCellType: 'R9' }), minimal('P', { flowCellType: 1 }), minimal('P', { flowCellCount: 1.5 }), minimal('P', { flowCellCount: 11 })],
  [minimal('P', { priority: 'asap' }), minimal('P', { priority: 1 }), minimal('P', { assignedTo: '' }), minimal('P', { libraryPrepBy: 'L33t' })],
  [minimal('P', { chartField: 'ABC-001' }), minimal('P', { chartField: 'htsf-001' }), minimal('P', { chartField: 'HTSF-001 ' }),
    minimal('P', { chartField: undefined })],
  [minimal('<script>alert(1)</script>'), minimal('P', { submitterName: "Robert'); DROP TABLE nanopore_samples;--" }),
    minimal('P', { sampleName: '', concentration: 2, volume: 3, totalAmount: 7 }), minimal('P', { flowCellCount: 0, chartField: '' })],
];

// waitAfter waits until the clock has left the millisecond of a created
// sample, so that the next one sorts strictly after it in getAll.
async function waitAfter(sample) {
  if (!sample?.submitted_at) return;
  while (Date.now() <= Date.parse(sample.submitted_at)) await new Promise((r) => setTimeout(r, 1));
}

function rawData(ex) {
  try {
    const v = JSON.parse(ex.body);
    return v?.result?.data;
  } catch {
    return undefined;
  }
}

async function create(r, step, link, input) {
  const [o] = await r.client(step, link, [['mutation', 'nanopore.create', input]]);
  if (!o.ok) throw new Error(`${step}: ${JSON.stringify(o)}`);
  await waitAfter(o.data);
  return o.data.id;
}

// transport: reads on the empty table and the wire rules of contract 1.
async function transport(r) {
  await r.client('health', 'httpLink', [['query', 'health']]);
  await r.client('getAll on the empty table', 'httpLink', [['query', 'nanopore.getAll']]);
  const get = (step, target, headers = {}) => r.raw(step, { method: 'GET', target, headers });
  await get('health ignores its input', `/api/trpc/health?input=${q({ x: 1 })}`);
  await get('trailing slash', '/api/trpc/health/');
  await get('query batch', '/api/trpc/health,nanopore.getAll?batch=1');
  await get('lazy input parsing: malformed input, no schema', '/api/trpc/health,nanopore.getAll?batch=1&input=%7Bnot-json');
  await get('batch=0 is a single call', '/api/trpc/health?batch=0');
  await get('batch=true is a single call', '/api/trpc/health?batch=true');
  await get('batch without input', '/api/trpc/health?batch=1');
  await get('unknown query parameter', '/api/trpc/nanopore.getAll?foo=bar');
  await r.raw('HEAD', { method: 'HEAD', target: '/api/trpc/nanopore.getAll' });
  await r.raw('OPTIONS without content type (415)', { method: 'OPTIONS', target: '/api/trpc/health' });
  await r.raw('POST to a query (405)', { method: 'POST', target: '/api/trpc/health', headers: json, body: '{}' });
  await get('GET of a mutation (405)', `/api/trpc/nanopore.create?input=${q(minimal('X'))}`);
  await get('unknown procedure (404)', '/api/trpc/nanopore.nope');
  await get('no procedure name', '/api/trpc');
  await get('empty name in a batch', '/api/trpc/health,,nanopore.getAll?batch=1');
  await get('malformed input of a single query', '/api/trpc/nanopore.getProcessingSteps?input=%7B');
  await get('batch input that is an array', `/api/trpc/nanopore.getProcessingSteps,nanopore.getProcessingSteps?batch=1&input=${q([1])}`);
  await get('single call asking for jsonl', '/api/trpc/health', { 'trpc-accept': 'application/jsonl' });
  await get('batch asking for jsonl (streaming form)', '/api/trpc/health,nanopore.getAll?batch=1', { 'trpc-accept': 'application/jsonl' });
}

// creates: valid and invalid creates, through the client and raw.
async function creates(r) {
  const ids = {};
  ids.A = await create(r, 'create A (every field)', 'httpLink', fullSample);
  await r.client('getAll after create A', 'httpLink', [['query', 'nanopore.getAll']]);
  const b = await r.raw('create B raw: charset, trims, escapes, rounding, extra key', {
    method: 'POST', target: '/api/trpc/nanopore.create', headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({
      sampleName: ' Sample\tB ', submitterName: ' Zoe Ann ', submitterEmail: 'John.ONeil@Lab.org', labName: "O'Brien, Lab. 2",
      sampleType: 'Protein', sampleBuffer: ' TE <b>&</b> "q" \\ \u2028 μ× 🧬 ', concentration: 1.23456, volume: 3.456,
      totalAmount: 4.26664, flowCellType: 'Other', flowCellCount: 10, priority: 'urgent', chartField: 'SEQ-999', extra: { x: [1] },
    }).replace('μ', '\\u03bc'),
  });
  ids.B = rawData(b)?.id;
  if (!ids.B) throw new Error(`create B: ${b.status} ${b.body}`);
  await waitAfter(rawData(b));
  const [c] = await r.client('batched create: C valid, two invalid', 'httpBatchLink', [
    ['mutation', 'nanopore.create', minimal('Scenario Sample C', { chartField: 'SEQ-001', sampleBuffer: '', concentration: null })],
    ['mutation', 'nanopore.create', invalidCreates[6][1]],
    ['mutation', 'nanopore.create', { ...fullSample, concentration: 'x', volume: 0.01, flowCellCount: 1.5, priority: 'asap' }],
  ]);
  ids.C = c.data.id;
  await waitAfter(c.data);
  await r.client('batched getAll and health', 'httpBatchLink', [['query', 'nanopore.getAll'], ['query', 'health']]);
  for (const [name, input] of invalidCreates) {
    await r.client(`invalid create: ${name}`, 'httpLink', [['mutation', 'nanopore.create', input]]);
  }
  for (const [i, batch] of invalidCreateBatches.entries()) {
    await r.client(`invalid creates, batch ${i + 1}`, 'httpBatchLink', batch.map((input) => ['mutation', 'nanopore.create', input]));
  }
  ids.D = await create(r, 'create D (edge values)', 'httpLink', minimal('D.edge_1 x', {
    sampleType: 'Protein', sampleBuffer: '', labName: "O'Brien, Lab. 2", concentration: 0.001, volume: 1000,
    totalAmount: 1, flowCellType: 'Other', flowCellCount: 10, priority: 'urgent', projectId: ' P-1 ', submitterName: " Mary-Jo O'Hara. ",
  }));
  ids.E = await create(r, 'create E (amount alone, rounding)', 'httpLink', minimal('E', { totalAmount: 1.0005, concentration: 2.0005, sampleBuffer: '  x  ' }));
  await rawCreates(r, ids);
  await r.client('getAll after the creates', 'httpLink', [['query', 'nanopore.getAll']]);
  return ids;
}

// rawCreates covers the content-type, origin and body rules of contract 1.7.
async function rawCreates(r, ids) {
  const post = (step, headers, body, target = '/api/trpc/nanopore.create') => r.raw(step, { method: 'POST', target, headers, body });
  const valid = JSON.stringify(minimal('Raw F'));
  await post('text/plain without Origin (403)', { 'content-type': 'text/plain' }, valid);
  await post('text/plain with the same Origin (415)', { 'content-type': 'text/plain', origin: '{origin}' }, valid);
  await post('no content type (403)', {}, valid);
  await post('no content type, same Origin (415)', { origin: '{origin}' }, valid);
  await post('form content type (403)', { 'content-type': 'application/x-www-form-urlencoded' }, 'a=1');
  const f = await post('JSON from a foreign Origin is processed', { ...json, origin: 'https://evil.example' }, valid);
  ids.F = rawData(f)?.id;
  await waitAfter(rawData(f));
  await post('empty body', json, '');
  await post('malformed JSON', json, '{"sampleName":}');
  await post('malformed batch JSON', json, '{"0":', '/api/trpc/nanopore.create,nanopore.delete?batch=1');
  await post('batch body that is an array', json, '[1,2]', '/api/trpc/nanopore.create,nanopore.delete?batch=1');
  await post('batch entry null and missing key', json, '{"0":null}', '/api/trpc/nanopore.create,nanopore.delete?batch=1');
  await post('mixed query and mutation', json, '{}', '/api/trpc/health,nanopore.create?batch=1');
  await r.raw('PUT without body (403)', { method: 'PUT', target: '/api/trpc/nanopore.create' });
  await r.raw('DELETE without body (403)', { method: 'DELETE', target: '/api/trpc/nanopore.delete' });
}

// changes: update, assign and updateStatus, valid and failing.
async function changes(r, ids) {
  const m = (step, link, path, input, fix) => r.client(step, link, [['mutation', path, input, fix]]);
  await m('update A: status prep, lab, concentration null', 'httpLink', 'nanopore.update',
    { id: ids.A, data: { status: 'prep', labName: 'New Lab', concentration: null } });
  await m('update A: empty data', 'httpLink', 'nanopore.update', { id: ids.A, data: {} });
  await r.raw('update C raw: every field, chartField stripped, upper-case id', {
    method: 'POST', target: '/api/trpc/nanopore.update', headers: json,
    body: JSON.stringify({ id: ids.C.toUpperCase(), extra: 1, data: { ...fullSample, sampleName: 'C2', chartField: 'SEQ-005', status: 'completed', volume: null, totalAmount: 3.3333 } }),
  });
  const bad = [
    ['id not a uuid', { id: 'not-a-uuid', data: { priority: 'asap', volume: 'x' } }], ['id missing', { data: {} }],
    ['data missing', { id: ids.A }], ['data null', { id: ids.A, data: null }], ['status PREP', { id: ids.A, data: { status: 'PREP' } }],
    ['totalAmount null', { id: ids.A, data: { totalAmount: null } }], ['empty sampleName', { id: ids.A, data: { sampleName: '' } }],
    ['bad email', { id: ids.A, data: { submitterEmail: 'bad' } }], ['flowCellCount 0', { id: ids.A, data: { flowCellCount: 0 } }],
    ['a bare string', ids.A], ['unknown id (500)', { id: MISSING, data: { priority: 'low' } }],
    ['nil uuid (500)', { id: NIL, data: {} }],
  ];
  for (const [name, input] of bad) await m(`update: ${name}`, 'httpLink', 'nanopore.update', input);
  await m('update D: volume null, concentration 7, count 3', 'httpLink', 'nanopore.update', { id: ids.D, data: { volume: null, concentration: 7, flowCellCount: 3 } });
  await m('assign A with libraryPrepBy', 'httpLink', 'nanopore.assign', { id: ids.A, assignedTo: 'Sam Lee', libraryPrepBy: 'Grey' });
  await m('assign A without libraryPrepBy (clears it)', 'httpLink', 'nanopore.assign', { id: ids.A, assignedTo: 'Stephanie' });
  for (const [name, input] of [['empty assignedTo', { id: 'nope', assignedTo: '' }], ['unknown id (500)', { id: MISSING, assignedTo: 'Sam' }],
    ['assignedTo missing', { id: ids.A }], ['digit in libraryPrepBy', { id: ids.A, assignedTo: 'Sam', libraryPrepBy: 'X1' }]]) {
    await m(`assign: ${name}`, 'httpLink', 'nanopore.assign', input);
  }
  for (const status of ['submitted', 'prep', 'prep', 'sequencing', 'analysis', 'completed', 'archived', 'submitted', 'completed']) {
    await m(`updateStatus E ${status} (${r.steps.length})`, 'httpLink', 'nanopore.updateStatus', { id: ids.E, status });
  }
  for (const [name, input] of [['PREP', { id: ids.E, status: 'PREP' }], ['status missing', { id: ids.E }],
    ['status a number', { id: ids.E, status: 5 }], ['unknown id (500)', { id: MISSING, status: 'archived' }], ['id x', { id: 'x', status: 'prep' }]]) {
    await m(`updateStatus: ${name}`, 'httpLink', 'nanopore.updateStatus', input);
  }
  await r.client('batched assign A and updateStatus D', 'httpBatchLink', [
    ['mutation', 'nanopore.assign', { id: ids.A, assignedTo: 'Kim Park' }], ['mutation', 'nanopore.updateStatus', { id: ids.D, status: 'sequencing' }]]);
  await r.client('batched 500 and 400 (207)', 'httpBatchLink', [
    ['mutation', 'nanopore.updateStatus', { id: MISSING, status: 'prep' }], ['mutation', 'nanopore.update', { id: 'x', data: {} }]]);
  await r.client('batched 500s (500)', 'httpBatchLink', [
    ['mutation', 'nanopore.assign', { id: MISSING, assignedTo: 'Sam' }], ['mutation', 'nanopore.update', { id: NIL, data: {} }]]);
  await freshness(r, 'after updates', 'G');
}

// freshness reads getAll where legacy's snapshot is stale (tagged), then
// refreshes it with a create and reads again.
async function freshness(r, when, name) {
  await r.client(`getAll ${when}`, 'httpLink', [['query', 'nanopore.getAll', undefined, FRESH_FIX]]);
  await create(r, `getAll ${when} (refresh)`, 'httpLink', minimal(`Refresh ${name}`));
  await r.client(`getAll ${when} (confirm)`, 'httpLink', [['query', 'nanopore.getAll']]);
}

// steps exercises the processing-step procedures (declared fix) and their
// validation (identical).
async function steps(r, ids) {
  const S = STEPS_FIX;
  await r.client('getProcessingSteps A before', 'httpLink', [['query', 'nanopore.getProcessingSteps', ids.A, S]]);
  const [created] = await r.client('createDefaultProcessingSteps A', 'httpLink', [['mutation', 'nanopore.createDefaultProcessingSteps', ids.A, S]]);
  const step = (i) => (created.ok ? created.data[i].id : NIL);
  await r.client('getProcessingSteps A after', 'httpLink', [['query', 'nanopore.getProcessingSteps', ids.A, S]]);
  await r.client('batched update, start, complete', 'httpBatchLink', [
    ['mutation', 'nanopore.updateProcessingStep', { stepId: step(0), updates: { assignedTo: 'Kim', notes: 'n', estimatedDurationHours: 3, resultsData: { reads: [1, 2] } } }, S],
    ['mutation', 'nanopore.startProcessingStep', { stepId: step(1), assignedTo: 'Kim Park' }, S],
    ['mutation', 'nanopore.completeProcessingStep', { stepId: step(2), notes: 'done', resultsData: 'ok' }, S]]);
  await r.client('batched start and complete without options', 'httpBatchLink', [
    ['mutation', 'nanopore.startProcessingStep', { stepId: step(3) }, S],
    ['mutation', 'nanopore.completeProcessingStep', { stepId: step(4) }, S],
    ['mutation', 'nanopore.updateProcessingStep', { stepId: step(5), updates: { resultsData: null, notes: '' } }, S]]);
  await r.client('step procedures on an unknown step', 'httpBatchLink', [
    ['mutation', 'nanopore.updateProcessingStep', { stepId: MISSING, updates: {} }, S],
    ['mutation', 'nanopore.startProcessingStep', { stepId: MISSING }, S],
    ['mutation', 'nanopore.completeProcessingStep', { stepId: MISSING }, S]]);
  await r.client('getProcessingSteps of an unknown sample', 'httpLink', [['query', 'nanopore.getProcessingSteps', MISSING, S]]);
  await r.client('createDefaultProcessingSteps of an unknown sample', 'httpLink', [['mutation', 'nanopore.createDefaultProcessingSteps', MISSING, S]]);
  await r.client('updateProcessingStep with fractional hours', 'httpLink', [
    ['mutation', 'nanopore.updateProcessingStep', { stepId: step(6), updates: { estimatedDurationHours: 1.5 } }, S]]);
  await r.client('getProcessingSteps A at the end', 'httpLink', [['query', 'nanopore.getProcessingSteps', ids.A, S]]);
  const invalid = [
    ['query', 'nanopore.getProcessingSteps', 'x'], ['query', 'nanopore.getProcessingSteps', { id: ids.A }],
    ['query', 'nanopore.getProcessingSteps', undefined], ['mutation', 'nanopore.createDefaultProcessingSteps', 42],
    ['mutation', 'nanopore.updateProcessingStep', { stepId: NIL }], ['mutation', 'nanopore.startProcessingStep', { stepId: 'x' }],
    ['mutation', 'nanopore.completeProcessingStep', { stepId: NIL, notes: 5 }],
    ['mutation', 'nanopore.updateProcessingStep', { stepId: NIL, updates: { estimatedDurationHours: '2' } }],
  ];
  for (const [i, call] of invalid.entries()) await r.client(`invalid step input ${i + 1}: ${call[1]}`, 'httpLink', [call]);
  await r.raw('raw batch: updateStatus and a step procedure', {
    method: 'POST', target: '/api/trpc/nanopore.updateStatus,nanopore.startProcessingStep?batch=1', headers: json,
    body: JSON.stringify({ 0: { id: ids.A, status: 'analysis' }, 1: { stepId: MISSING } }),
  }, [null, S]);
  await r.raw('raw batch: invalid step input and a 404 delete', {
    method: 'POST', target: '/api/trpc/nanopore.createDefaultProcessingSteps,nanopore.delete?batch=1', headers: json,
    body: JSON.stringify({ 0: 'x', 1: MISSING }),
  });
}

// deletes covers delete (the only 404) and the client's transport errors.
async function deletes(r, ids) {
  const del = (step, input) => r.client(step, 'httpLink', [['mutation', 'nanopore.delete', input]]);
  await del('delete C', ids.C);
  await del('delete C again (404)', ids.C);
  await del('delete with an object', { id: ids.A });
  await del('delete a non-uuid', 'not-a-uuid');
  await del('delete the nil uuid (404)', NIL);
  await del('delete without input', undefined);
  await del('delete a number', 42);
  await del('delete D by its upper-case id', ids.D.toUpperCase());
  await r.client('batched delete E and an unknown id (207)', 'httpBatchLink', [
    ['mutation', 'nanopore.delete', ids.E], ['mutation', 'nanopore.delete', MISSING]]);
  await freshness(r, 'after deletes', 'H');
  await r.client('query of a mutation (405)', 'httpLink', [['query', 'nanopore.create', minimal('X')]]);
  await r.client('mutation of a query (405)', 'httpLink', [['mutation', 'health']]);
  await r.client('client: unknown procedure', 'httpLink', [['query', 'nanopore.nope']]);
  await r.client('client: batched health and unknown procedure', 'httpBatchLink', [['query', 'health'], ['query', 'nope']]);
  await r.raw('raw batch: delete F and the nil uuid (207)', {
    method: 'POST', target: '/api/trpc/nanopore.delete,nanopore.delete?batch=1', headers: json, body: JSON.stringify({ 0: ids.F ?? NIL, 1: NIL }),
  });
}

// emails are the declared e-mail fix; they come last because they leave the
// stores different (rows only the Go service created or spelled as given).
async function emails(r, ids) {
  const E = EMAIL_FIX;
  await r.client('email: refused by legacy after mangling', 'httpLink', [['mutation', 'nanopore.create', minimal('M1', { submitterEmail: 'Delete.Me@select.org' }), E]]);
  await r.client('email: keyword stripped by legacy', 'httpLink', [['mutation', 'nanopore.create', minimal('M2', { submitterEmail: 'jo.update@lab.org' }), E]]);
  await r.client('email: update keeps the address', 'httpLink', [['mutation', 'nanopore.update', { id: ids.A, data: { submitterEmail: 'ann.drop@lab.org' } }, E]]);
  await r.client('email: xp_ word and -- comment', 'httpBatchLink', [
    ['mutation', 'nanopore.create', minimal('M3', { submitterEmail: 'xp_cmd@lab.org' }), E],
    ['mutation', 'nanopore.create', minimal('M4', { submitterEmail: 'a--b@lab.org' }), E]]);
}

/** runScenario runs every phase in order on a Recorder. */
export async function runScenario(r) {
  await transport(r);
  const ids = await creates(r);
  await changes(r, ids);
  await steps(r, ids);
  await deletes(r, ids);
  await emails(r, ids);
}
