#!/usr/bin/env node
// trpc-scenario runs a fixed scenario against a legacy-compatible tRPC API
// with the real @trpc/client (both httpLink and httpBatchLink) and prints a
// normalised JSON transcript to stdout: ids become <id:1>, <id:2>... in
// order of first appearance, ISO timestamps become <ts> (null stays null).
//
//   node testbed/e2e/trpc-scenario.mjs --url http://127.0.0.1:3001
//
// It is deterministic on a FRESH database: getAll is only called on the empty
// table or right after a successful create, so the legacy getAll snapshot
// (contract 4.2) and a fresh implementation give the same answer. It uses no
// raw HTTP; the Go tests do raw HTTP themselves.
import { parseArgs } from 'node:util';
import { createTRPCUntypedClient, httpBatchLink, httpLink, TRPCClientError } from '@trpc/client';

const NIL = '00000000-0000-0000-0000-000000000000';
// Constant ids that stay as they are in the transcript.
const STABLE_IDS = new Set([NIL, '550e8400-e29b-41d4-a716-446655440000']);
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const ISO_TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

function parseCommandLine() {
  const { values } = parseArgs({ options: { url: { type: 'string' } }, strict: true });
  if (!values.url) {
    console.error('usage: node trpc-scenario.mjs --url BASE_URL');
    process.exit(2);
  }
  return `${values.url.replace(/\/+$/, '')}/api/trpc`;
}

/** Recorder runs calls and keeps the raw transcript. */
class Recorder {
  constructor(url) {
    this.clients = {
      httpLink: createTRPCUntypedClient({ links: [httpLink({ url })] }),
      httpBatchLink: createTRPCUntypedClient({ links: [httpBatchLink({ url })] }),
    };
    this.steps = [];
  }

  // step runs calls ([type, path, input]) at once on one link: with
  // httpBatchLink calls of one type made together travel in one request.
  async step(name, link, calls) {
    const client = this.clients[link];
    const settled = await Promise.allSettled(calls.map(([type, path, input]) => (
      type === 'query' ? client.query(path, input) : client.mutation(path, input))));
    const outcomes = settled.map((s) => (s.status === 'fulfilled' ? { ok: true, data: s.value } : outcomeOfError(s.reason)));
    this.steps.push({
      step: name,
      link,
      calls: calls.map(([type, path, input]) => ({ type, path, input: input === undefined ? null : input })),
      outcomes,
    });
    return outcomes;
  }
}

// outcomeOfError records a tRPC error; anything without a tRPC error shape
// (connection refused, a non-tRPC answer) ends the scenario instead.
function outcomeOfError(err) {
  if (!(err instanceof TRPCClientError) || !err.shape) throw err;
  const data = err.data ?? {};
  return { ok: false, error: { message: err.message, code: data.code ?? null, httpStatus: data.httpStatus ?? null, path: data.path ?? null } };
}

// normalise rewrites the transcript in document order: ids get placeholders
// in order of first appearance (inside longer strings too), whole-string
// ISO timestamps become <ts>.
export function normalise(transcript) {
  const ids = new Map();
  const walk = (v) => {
    if (typeof v === 'string') {
      if (ISO_TS.test(v)) return '<ts>';
      return v.replace(UUID, (id) => {
        const key = id.toLowerCase();
        if (STABLE_IDS.has(key)) return id;
        if (!ids.has(key)) ids.set(key, `<id:${ids.size + 1}>`);
        return ids.get(key);
      });
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(transcript);
}

// afterMillisecond waits until the wall clock has left the millisecond of ts,
// so that the next sample sorts strictly after the previous one in getAll.
async function afterMillisecond(ts) {
  while (Date.now() <= Date.parse(ts)) await new Promise((r) => setTimeout(r, 1));
}

const fullSample = {
  sampleName: 'Scenario Sample A', projectId: 'PRJ-100', submitterName: "Ann O'Neil",
  submitterEmail: 'ann.oneil@lab.org', labName: 'Genomics Lab, Room 2', sampleType: 'DNA',
  sampleBuffer: 'TE', concentration: 12.5, volume: 20, totalAmount: 250, flowCellType: 'R10.4.1',
  flowCellCount: 2, priority: 'high', assignedTo: 'Kim Park', libraryPrepBy: 'Lee Wong', chartField: 'HTSF-001',
};
const minimalSample = (name, chartField) => ({
  sampleName: name, submitterName: 'Jo Doe', submitterEmail: 'jo@lab.org', sampleType: 'RNA', chartField,
});
const invalidSample = {
  sampleName: '', submitterName: 'J0', submitterEmail: 'nope', sampleType: 'dna',
  concentration: 'x', volume: 0.01, flowCellCount: 1.5, priority: 'asap', chartField: 'ABC-001',
};

// createAndList creates A and B around getAll calls and returns their ids.
async function createAndList(r) {
  await r.step('health', 'httpLink', [['query', 'health']]);
  await r.step('getAll on the empty table', 'httpLink', [['query', 'nanopore.getAll']]);
  const [a] = await r.step('create A (every field)', 'httpLink', [['mutation', 'nanopore.create', fullSample]]);
  await r.step('getAll after create', 'httpLink', [['query', 'nanopore.getAll']]);
  const idA = a.data.id;
  await afterMillisecond(a.data.submitted_at);
  const [b] = await r.step('batched create: B valid, one invalid', 'httpBatchLink', [
    ['mutation', 'nanopore.create', minimalSample('Scenario Sample B', 'NANO-002')],
    ['mutation', 'nanopore.create', invalidSample],
  ]);
  const idB = b.data.id;
  await r.step('batched getAll and health after create', 'httpBatchLink', [['query', 'nanopore.getAll'], ['query', 'health']]);
  return { idA, idB };
}

// changeAndFail runs update, assign and updateStatus, valid and failing.
async function changeAndFail(r, { idA, idB }) {
  await r.step('update A (status prep, lab)', 'httpLink', [['mutation', 'nanopore.update', { id: idA, data: { status: 'prep', labName: 'New Lab', concentration: null } }]]);
  await r.step('batched assign A and updateStatus B', 'httpBatchLink', [
    ['mutation', 'nanopore.assign', { id: idA, assignedTo: 'Sam Lee' }],
    ['mutation', 'nanopore.updateStatus', { id: idB, status: 'sequencing' }],
  ]);
  await r.step('update invalid input', 'httpLink', [['mutation', 'nanopore.update', { id: 'not-a-uuid', data: { priority: 'asap', volume: 'x' } }]]);
  await r.step('update unknown id', 'httpLink', [['mutation', 'nanopore.update', { id: NIL, data: {} }]]);
  await r.step('batched unknown assign and invalid updateStatus', 'httpBatchLink', [
    ['mutation', 'nanopore.assign', { id: NIL, assignedTo: 'Sam Lee' }],
    ['mutation', 'nanopore.updateStatus', { id: 'x', status: 'PREP' }],
  ]);
  await r.step('updateStatus A completed', 'httpLink', [['mutation', 'nanopore.updateStatus', { id: idA, status: 'completed' }]]);
}

// stepsAndDeletes covers the step procedures, delete and the transport errors.
async function stepsAndDeletes(r, { idA, idB }) {
  await r.step('getProcessingSteps A', 'httpLink', [['query', 'nanopore.getProcessingSteps', idA]]);
  await r.step('batched step mutations', 'httpBatchLink', [
    ['mutation', 'nanopore.createDefaultProcessingSteps', idA],
    ['mutation', 'nanopore.updateProcessingStep', { stepId: NIL, updates: { notes: 'n', estimatedDurationHours: 2 } }],
    ['mutation', 'nanopore.startProcessingStep', { stepId: NIL, assignedTo: 'Kim Park' }],
    ['mutation', 'nanopore.completeProcessingStep', { stepId: NIL, notes: 'done', resultsData: { reads: 1 } }],
  ]);
  await r.step('step procedures with invalid input', 'httpBatchLink', [
    ['mutation', 'nanopore.startProcessingStep', { stepId: 'x' }],
    ['mutation', 'nanopore.updateProcessingStep', { stepId: NIL }],
  ]);
  await r.step('delete B', 'httpLink', [['mutation', 'nanopore.delete', idB]]);
  await r.step('delete B again (404)', 'httpLink', [['mutation', 'nanopore.delete', idB]]);
  await r.step('batched invalid deletes', 'httpBatchLink', [
    ['mutation', 'nanopore.delete', 'not-a-uuid'],
    ['mutation', 'nanopore.delete', { id: idA }],
  ]);
  await r.step('unknown procedure', 'httpLink', [['query', 'nanopore.nope']]);
  await r.step('batched health and unknown procedure', 'httpBatchLink', [['query', 'health'], ['query', 'nope']]);
  await r.step('query of a mutation (405)', 'httpLink', [['query', 'nanopore.create', minimalSample('X', 'SEQ-001')]]);
  await r.step('mutation of a query (405)', 'httpLink', [['mutation', 'health']]);
  const [c] = await r.step('create C', 'httpLink', [['mutation', 'nanopore.create', minimalSample('Scenario Sample C', 'SEQ-999')]]);
  await r.step('getAll after create C', 'httpLink', [['query', 'nanopore.getAll']]);
  await r.step('batched delete A and C', 'httpBatchLink', [
    ['mutation', 'nanopore.delete', idA],
    ['mutation', 'nanopore.delete', c.data.id],
  ]);
}

async function main() {
  const recorder = new Recorder(parseCommandLine());
  const ids = await createAndList(recorder);
  await changeAndFail(recorder, ids);
  await stepsAndDeletes(recorder, ids);
  process.stdout.write(`${JSON.stringify(normalise(recorder.steps), null, 2)}\n`);
}

main().catch((err) => {
  console.error(`trpc-scenario: ${err.stack ?? err}`);
  process.exit(1);
});
