// Contract section 1: tRPC transport, envelopes, status rules, guards, headers.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createSample, fixture, mutate, parsed, query, request, SECURITY_HEADER_NAMES,
} from './helpers.mjs';

const f = fixture(before, after);
const NIL = '00000000-0000-0000-0000-000000000000';
const json = { 'content-type': 'application/json' };
const enc = (v) => encodeURIComponent(JSON.stringify(v));

describe('1.1 endpoint and URL form', () => {
  test('1.1 procedure path /api/trpc/<dotted name>', async () => {
    const res = await query(f.base, 'health');
    assert.equal(res.status, 200);
    assert.equal(parsed(res).result.data.status, 'ok');
  });
  test('1.1 batch path joins names with commas', async () => {
    const res = await request(f.base, 'GET', '/api/trpc/nanopore.getAll,health?batch=1');
    assert.equal(res.status, 200);
    assert.equal(parsed(res).length, 2);
  });
  test('1.1 trailing slash is ignored', async () => {
    const res = await request(f.base, 'GET', '/api/trpc/health/');
    assert.equal(res.status, 200);
    assert.equal(parsed(res).result.data.status, 'ok');
  });
  test('1.1 empty name is a call to "" and fails NOT_FOUND', async () => {
    for (const path of ['/api/trpc', '/api/trpc/']) {
      const res = await request(f.base, 'GET', path);
      assert.equal(res.status, 404);
      assert.deepEqual(parsed(res), { error: { message: 'No procedure found on path ""', code: -32004, data: { code: 'NOT_FOUND', httpStatus: 404, path: '' } } });
    }
    const batch = parsed(await request(f.base, 'GET', '/api/trpc/health,,health?batch=1'));
    assert.equal(batch[1].error.message, 'No procedure found on path ""');
    assert.equal(batch[0].result.data.status, 'ok');
  });
  test('1.1 no data transformer: plain JSON, no {"json":...} wrapper', async () => {
    const body = parsed(await query(f.base, 'health'));
    assert.deepEqual(Object.keys(body.result.data), ['status', 'timestamp']);
  });
});

describe('1.2 single calls', () => {
  test('1.2 query input is the URL-encoded JSON text of the raw input (bare string)', async () => {
    const res = await query(f.base, 'nanopore.getProcessingSteps', NIL);
    assert.equal(res.status, 500);
    assert.equal(parsed(res).error.message, 'timer.done is not a function');
  });
  test('1.2 no input parameter means undefined input', async () => {
    const res = await query(f.base, 'nanopore.getProcessingSteps');
    assert.equal(res.status, 400);
    assert.deepEqual(JSON.parse(parsed(res).error.message), [{ code: 'invalid_type', expected: 'string', received: 'undefined', path: [], message: 'Required' }]);
  });
  test('1.2 mutation body is the JSON text of the raw input; charset accepted', async () => {
    const res = await request(f.base, 'POST', '/api/trpc/nanopore.delete', {
      headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(NIL),
    });
    assert.equal(res.status, 404);
    assert.equal(parsed(res).error.message, `Sample with ID '${NIL}' not found`);
  });
  test('1.2 only batch=1 switches on batch mode; unknown parameters are ignored', async () => {
    for (const qs of ['batch=0', 'batch=true', 'foo=bar']) {
      const res = await request(f.base, 'GET', `/api/trpc/health?${qs}`);
      assert.equal(res.status, 200);
      assert.ok(!Array.isArray(parsed(res)), qs);
    }
  });
});

describe('1.3 batch calls', () => {
  test('1.3 query batch maps string indexes to inputs', async () => {
    const res = await request(f.base, 'GET', `/api/trpc/nanopore.getProcessingSteps,nanopore.getProcessingSteps?batch=1&input=${enc({ 0: NIL, 1: 'x' })}`);
    assert.equal(res.status, 207);
    const [a, b] = parsed(res);
    assert.equal(a.error.data.httpStatus, 500);
    assert.equal(b.error.data.httpStatus, 400);
  });
  test('1.3 null or missing key gives undefined input', async () => {
    const res = await request(f.base, 'GET', `/api/trpc/nanopore.getProcessingSteps,nanopore.getProcessingSteps?batch=1&input=${enc({ 0: null })}`);
    for (const entry of parsed(res)) assert.match(entry.error.message, /"message": "Required"/);
    const post = await request(f.base, 'POST', '/api/trpc/nanopore.delete,nanopore.delete?batch=1', { headers: json, body: { 0: null } });
    for (const entry of parsed(post)) assert.match(entry.error.message, /"message": "Required"/);
  });
  test('1.3 ?batch=1 with no input at all is accepted', async () => {
    const res = await request(f.base, 'GET', '/api/trpc/health,health?batch=1');
    assert.equal(res.status, 200);
  });
  test('1.3 mutation batch with a keyed body', async () => {
    const res = await request(f.base, 'POST', '/api/trpc/nanopore.delete,nanopore.delete?batch=1', { headers: json, body: { 0: NIL, 1: 'bad' } });
    assert.equal(res.status, 207);
    const [a, b] = parsed(res);
    assert.equal(a.error.data.code, 'NOT_FOUND');
    assert.equal(b.error.data.code, 'BAD_REQUEST');
  });
  test('1.3 a JSON array body fails every entry', async () => {
    const res = await request(f.base, 'POST', '/api/trpc/nanopore.delete,nanopore.delete?batch=1', { headers: json, body: [NIL, NIL] });
    assert.equal(res.status, 400);
    for (const [i, entry] of parsed(res).entries()) {
      assert.deepEqual(entry, { error: { message: '"input" needs to be an object when doing a batch call', code: -32600, data: { code: 'BAD_REQUEST', httpStatus: 400, path: 'nanopore.delete' } } }, `entry ${i}`);
    }
  });
  test('1.3 mixing queries and mutations fails whole, non-array, text/plain', async () => {
    const res = await request(f.base, 'GET', '/api/trpc/health,nanopore.create?batch=1');
    assert.equal(res.status, 400);
    assert.equal(res.headers['content-type'], 'text/plain;charset=UTF-8');
    assert.deepEqual(parsed(res), { error: { message: 'Cannot mix procedure types in call: query, mutation', code: -32600, data: { code: 'BAD_REQUEST', httpStatus: 400 } } });
  });
  test('1.3 results in request order; a failing entry rolls nothing back', async () => {
    const s = await createSample(f.base);
    const res = await request(f.base, 'POST', '/api/trpc/nanopore.updateStatus,nanopore.delete?batch=1', { headers: json, body: { 0: { id: s.id, status: 'prep' }, 1: NIL } });
    assert.equal(res.status, 207);
    const [ok, failed] = parsed(res);
    assert.equal(ok.result.data.status, 'prep');
    assert.equal(failed.error.data.code, 'NOT_FOUND');
    const again = await mutate(f.base, 'nanopore.updateStatus', { id: s.id, status: 'prep' });
    assert.equal(parsed(again).result.data.status, 'prep');
  });
  test('1.3 lazy input parsing: bad input is ignored when no procedure takes input', async () => {
    for (const input of ['%7Bnot-json', '%5B1%2C2%5D']) {
      const res = await request(f.base, 'GET', `/api/trpc/health,nanopore.getAll?batch=1&input=${input}`);
      assert.equal(res.status, 200, input);
      assert.equal(parsed(res)[0].result.data.status, 'ok');
    }
  });
});

describe('1.4 and 1.5 envelopes', () => {
  test('1.4 compact success envelope, single and batch', async () => {
    const single = await query(f.base, 'health');
    assert.match(single.body, /^\{"result":\{"data":\{"status":"ok","timestamp":"[^"]+"\}\}\}$/);
    const batch = await request(f.base, 'GET', '/api/trpc/health?batch=1');
    assert.match(batch.body, /^\[\{"result":\{"data":\{"status":"ok","timestamp":"[^"]+"\}\}\}\]$/);
  });
  test('1.5 error envelope field order, no stack, no zodError', async () => {
    const res = await query(f.base, 'nanopore.nope');
    assert.equal(res.body, '{"error":{"message":"No procedure found on path \\"nanopore.nope\\"","code":-32004,"data":{"code":"NOT_FOUND","httpStatus":404,"path":"nanopore.nope"}}}');
    const invalid = parsed(await mutate(f.base, 'nanopore.delete', 'x'));
    assert.deepEqual(Object.keys(invalid.error.data), ['code', 'httpStatus', 'path']);
  });
});

describe('1.6 HTTP status rules', () => {
  const cases = [
    ['single success', 'GET', '/api/trpc/health', undefined, 200],
    ['single error status', 'GET', '/api/trpc/nope', undefined, 404],
    ['batch all succeed', 'GET', '/api/trpc/health,nanopore.getAll?batch=1', undefined, 200],
    ['batch all 404', 'GET', '/api/trpc/a,b?batch=1', undefined, 404],
    ['batch all 400', 'POST', '/api/trpc/nanopore.delete,nanopore.assign?batch=1', { 0: 1, 1: {} }, 400],
    ['batch all 500', 'POST', '/api/trpc/nanopore.createDefaultProcessingSteps,nanopore.createDefaultProcessingSteps?batch=1', { 0: NIL, 1: NIL }, 500],
    ['batch success and error', 'GET', '/api/trpc/health,nope?batch=1', undefined, 207],
    ['batch 500 and 400', 'POST', '/api/trpc/nanopore.createDefaultProcessingSteps,nanopore.delete?batch=1', { 0: NIL, 1: 'x' }, 207],
  ];
  for (const [name, method, path, body, status] of cases) {
    test(`1.6 ${name} -> ${status}`, async () => {
      const res = await request(f.base, method, path, { headers: body ? json : {}, body });
      assert.equal(res.status, status, res.body);
    });
  }
});

describe('1.7 method, content-type and framework guards', () => {
  const self = () => ({ origin: f.base.replace(/\/$/, '') });
  test('1.7 POST to a query is 405', async () => {
    const res = await mutate(f.base, 'health', {});
    assert.equal(res.status, 405);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(parsed(res).error.message, 'Unsupported POST-request to query procedure at path "health"');
  });
  test('1.7 GET of a mutation is 405', async () => {
    const res = await query(f.base, 'nanopore.create');
    assert.equal(res.status, 405);
    assert.equal(parsed(res).error.message, 'Unsupported GET-request to mutation procedure at path "nanopore.create"');
  });
  test('1.7 HEAD on any tRPC path is 204, empty, no vary', async () => {
    for (const path of ['/api/trpc/health', '/api/trpc/nanopore.create', '/api/trpc/nope']) {
      const res = await request(f.base, 'HEAD', path);
      assert.equal(res.status, 204);
      assert.equal(res.body, '');
      assert.equal(res.headers.vary, undefined);
      assert.equal(res.headers['x-frame-options'], 'DENY');
    }
  });
  test('1.7 OPTIONS without content-type is 415 Missing content-type header', async () => {
    const res = await request(f.base, 'OPTIONS', '/api/trpc/health');
    assert.equal(res.status, 415);
    assert.equal(res.headers['content-type'], 'text/plain;charset=UTF-8');
    assert.deepEqual(parsed(res), { error: { message: 'Missing content-type header', code: -32015, data: { code: 'UNSUPPORTED_MEDIA_TYPE', httpStatus: 415 } } });
  });
  test('1.7 form-like POST without same-origin Origin is the framework 403', async () => {
    for (const headers of [{}, { 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }, { 'content-type': 'Multipart/Form-Data; boundary=x' }, { 'content-type': 'text/plain', origin: 'http://evil.example' }]) {
      const res = await request(f.base, 'POST', '/api/trpc/nanopore.create', { headers, body: '{}' });
      assert.equal(res.status, 403, JSON.stringify(headers));
      assert.equal(res.headers['content-type'], 'text/plain;charset=UTF-8');
      assert.equal(res.body, 'Cross-site POST form submissions are forbidden');
      assert.equal(res.headers['x-frame-options'], undefined);
      assert.equal(res.headers.vary, undefined);
    }
  });
  test('1.7 PUT, DELETE and PATCH without content-type are 403 too', async () => {
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
      const res = await request(f.base, method, '/api/trpc/health');
      assert.equal(res.status, 403);
      assert.equal(res.body, `Cross-site ${method} form submissions are forbidden`);
    }
  });
  test('1.7 text/plain with same-origin Origin reaches tRPC: 415 with the missing quote', async () => {
    const res = await request(f.base, 'POST', '/api/trpc/nanopore.create', { headers: { 'content-type': 'text/plain', ...self() }, body: '{}' });
    assert.equal(res.status, 415);
    assert.equal(parsed(res).error.message, 'Unsupported content-type "text/plain');
  });
  test('1.7 no content-type with same-origin Origin is 415 Missing content-type header', async () => {
    const res = await request(f.base, 'POST', '/api/trpc/nanopore.create', { headers: self(), body: '{}' });
    assert.equal(res.status, 415);
    assert.equal(parsed(res).error.message, 'Missing content-type header');
  });
  test('1.7 origin is computed from Host (and X-Forwarded-Host/-Proto, as Astro 5.11 does)', async () => {
    const viaHost = await request(f.base, 'POST', '/api/trpc/nanopore.create', { headers: { host: 'app.example:8080', origin: 'http://app.example:8080' }, body: '{}' });
    assert.equal(viaHost.status, 415);
    const forwarded = await request(f.base, 'POST', '/api/trpc/nanopore.create', { headers: { 'x-forwarded-host': 'pub.example', 'x-forwarded-proto': 'https', origin: 'https://pub.example' }, body: '{}' });
    assert.equal(forwarded.status, 415);
  });
  test('1.7 application/json from a foreign Origin is processed normally', async () => {
    const res = await mutate(f.base, 'nanopore.delete', NIL, { origin: 'http://evil.example' });
    assert.equal(res.status, 404);
  });
  test('1.7 empty POST body is 400 Unexpected end of JSON input', async () => {
    const res = await mutate(f.base, 'nanopore.create', undefined);
    assert.equal(res.status, 400);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.deepEqual(parsed(res).error, { message: 'Unexpected end of JSON input', code: -32600, data: { code: 'BAD_REQUEST', httpStatus: 400, path: 'nanopore.create' } });
  });
  test('1.7 malformed JSON is 400 with the JSON.parse message', async () => {
    const res = await request(f.base, 'POST', '/api/trpc/nanopore.create', { headers: json, body: '{"sampleName":"x",}' });
    assert.equal(res.status, 400);
    assert.equal(parsed(res).error.message, 'Expected double-quoted property name in JSON at position 18');
  });
  test('1.7 batch POST with malformed JSON: one identical error per procedure', async () => {
    const res = await request(f.base, 'POST', '/api/trpc/nanopore.create,nanopore.delete?batch=1', { headers: json, body: '{"0":{,}' });
    assert.equal(res.status, 400);
    const body = parsed(res);
    assert.equal(body.length, 2);
    assert.equal(body[0].error.message, "Expected property name or '}' in JSON at position 6");
    assert.equal(body[1].error.message, body[0].error.message);
    assert.equal(body[1].error.data.path, 'nanopore.delete');
  });
  test('1.7 GET input that is not JSON, single call', async () => {
    const res = await request(f.base, 'GET', '/api/trpc/nanopore.getProcessingSteps?input=%7Bx');
    assert.equal(res.status, 400);
    assert.equal(parsed(res).error.message, "Expected property name or '}' in JSON at position 1");
  });
  test('1.7 unknown procedure is 404; in a batch the others still run', async () => {
    const res = await request(f.base, 'GET', '/api/trpc/health,nanopore.nope?batch=1');
    const [ok, missing] = parsed(res);
    assert.equal(ok.result.data.status, 'ok');
    assert.equal(missing.error.message, 'No procedure found on path "nanopore.nope"');
  });
});

describe('1.8 response headers', () => {
  test('1.8 tRPC JSON: application/json without charset, vary, chunked, no cache headers', async () => {
    for (const res of [await query(f.base, 'health'), await query(f.base, 'nope')]) {
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(res.headers.vary, 'trpc-accept');
      assert.equal(res.headers['transfer-encoding'], 'chunked');
      assert.equal(res.headers['content-length'], undefined);
      for (const h of ['cache-control', 'set-cookie', 'etag']) assert.equal(res.headers[h], undefined, h);
    }
  });
  test('1.8 vary is also on the 415 and the Cannot-mix answers', async () => {
    assert.equal((await request(f.base, 'OPTIONS', '/api/trpc/health')).headers.vary, 'trpc-accept');
    assert.equal((await request(f.base, 'GET', '/api/trpc/health,nanopore.create?batch=1')).headers.vary, 'trpc-accept');
  });
  test('1.8 security headers exactly, server and x-powered-by present and empty', async () => {
    const res = await query(f.base, 'health');
    for (const name of SECURITY_HEADER_NAMES) assert.ok(name in res.headers, name);
    assert.equal(res.headers.server, '');
    assert.equal(res.headers['x-powered-by'], '');
    assert.equal(res.headers['x-xss-protection'], '1; mode=block');
    assert.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains; preload');
    assert.match(res.headers['content-security-policy'], /^default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval';.*frame-src 'none'$/);
  });
  test('1.8 security headers on pages, API routes and the 404 page', async () => {
    for (const path of ['/', '/nanopore', '/health', '/api/service-health', '/does-not-exist']) {
      const res = await request(f.base, 'GET', path);
      assert.equal(res.headers['x-frame-options'], 'DENY', path);
      assert.equal(res.headers['x-powered-by'], '', path);
    }
  });
  test('1.8 trpc-accept: application/jsonl streams the batch as JSON lines', async () => {
    const res = await request(f.base, 'GET', '/api/trpc/health,nanopore.nope?batch=1', { headers: { 'trpc-accept': 'application/jsonl' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    const lines = res.body.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], { 0: [[0], [null, 0, 0]], 1: [[0], [null, 0, 1]] });
    assert.ok(lines.length > 2);
    const error = lines.map((l) => l[2]?.[0]?.[0]?.error).find(Boolean);
    assert.equal(error.message, 'No procedure found on path "nanopore.nope"');
    // @trpc/server 11.4.3 labels every JSONL error with the first call's path.
    assert.equal(error.data.path, 'health');
  });
});
