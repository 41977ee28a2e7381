// The stand-in's own machinery: command line, concurrent schema setup, the
// request log and the test-only routes under /__standin/.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { patternByte } from '../src/testroutes.mjs';
import {
  createDatabase, databaseUrl, dropDatabase, fixture, mutate, parsed, query, request, startStandin, withDb,
} from './helpers.mjs';

const logDir = mkdtempSync(join(tmpdir(), 'standin-log-'));
const logFile = join(logDir, 'requests.jsonl');
const f = fixture(before, after, ['--test-routes', '--request-log', logFile]);
const plain = fixture(before, after);
after(() => rmSync(logDir, { recursive: true, force: true }));

const readLog = () => readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

describe('command line and start-up', () => {
  test('missing --port or --database-url exits 2 with the usage', () => {
    const server = fileURLToPath(new URL('../server.mjs', import.meta.url));
    for (const args of [['--database-url', 'postgres://x/y'], ['--port', '1']]) {
      const r = spawnSync(process.execPath, [server, ...args], { encoding: 'utf8', env: { ...process.env, DATABASE_URL: '' } });
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, /usage: node testbed\/legacy\/server\.mjs/);
    }
  });
  test('two stand-ins starting at once on a fresh database both come up (advisory lock)', async () => {
    const db = await createDatabase();
    try {
      const [a, b] = await Promise.all([startStandin(databaseUrl(db)), startStandin(databaseUrl(db))]);
      try {
        assert.equal((await mutate(a.url, 'nanopore.create', { sampleName: 'X', submitterName: 'Jo', submitterEmail: 'jo@lab.org', sampleType: 'DNA', chartField: 'SEQ-001' })).status, 200);
        assert.equal(parsed(await query(b.url, 'nanopore.getAll')).result.data.length, 1);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
      const restarted = await startStandin(databaseUrl(db));
      await restarted.stop();
    } finally {
      await dropDatabase(db);
    }
  });
  test('8.1 prerequisites: users table, trigger function, demo user', async () => {
    await withDb(f.dbUrl, async (c) => {
      const { rows } = await c.query("SELECT email, name FROM users WHERE id = '550e8400-e29b-41d4-a716-446655440000'");
      assert.deepEqual(rows, [{ email: 'demo@example.com', name: 'Demo User' }]);
      const fn = await c.query("SELECT count(*)::int AS n FROM pg_proc WHERE proname = 'update_updated_at_column'");
      assert.equal(fn.rows[0].n, 1);
    });
  });
  test('8.2 column order of nanopore_samples', async () => {
    await withDb(f.dbUrl, async (c) => {
      const { rows } = await c.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'nanopore_samples' ORDER BY ordinal_position");
      assert.equal(rows.at(-1).column_name, 'chart_field');
      assert.equal(rows.length, 24);
    });
  });
});

describe('request log', () => {
  test('one JSON line per request, written before processing', async () => {
    await request(f.base, 'POST', '/api/trpc/nanopore.create', { headers: { 'x-trace': 'abc' }, body: 'x' });
    const entry = readLog().findLast((e) => e.headers['x-trace'] === 'abc');
    assert.deepEqual(Object.keys(entry), ['method', 'url', 'headers', 'ts']);
    assert.equal(entry.method, 'POST');
    assert.equal(entry.url, '/api/trpc/nanopore.create');
    assert.match(entry.ts, /Z$/);
  });
});

describe('test-only routes (--test-routes)', () => {
  test('they are absent without --test-routes', async () => {
    const res = await request(plain.base, 'GET', '/__standin/headers');
    assert.equal(res.status, 404);
    assert.match(res.headers['content-type'], /^text\/html/);
  });
  test('GET /__standin/download streams N pattern bytes, chunked', async () => {
    const n = 300_000;
    const res = await request(f.base, 'GET', `/__standin/download?bytes=${n}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.equal(res.bytes.length, n);
    for (const i of [0, 1, 65_535, 65_536, n - 1]) assert.equal(res.bytes[i], patternByte(i));
  });
  test('POST /__standin/upload answers the size and sha256 of a streamed body', async () => {
    const body = Buffer.alloc(1_000_000, 7);
    const res = await request(f.base, 'POST', '/__standin/upload', { headers: { 'content-type': 'application/octet-stream' }, body });
    assert.deepEqual(parsed(res), { bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
  });
  test('GET /__standin/sse flushes each event on its own', async () => {
    const first = await new Promise((resolve, reject) => {
      const req = http.get(new URL('/__standin/sse?n=2&interval_ms=600000', f.base), (res) => {
        assert.equal(res.headers['content-type'], 'text/event-stream');
        res.setEncoding('utf8');
        res.once('data', (chunk) => {
          req.destroy();
          resolve(chunk);
        });
      });
      req.on('error', (err) => (err.code === 'ECONNRESET' ? null : reject(err)));
    });
    assert.equal(first, 'id: 0\nevent: tick\ndata: {"i":0}\n\n');
  });
  test('WebSocket echo at /__standin/ws', async () => {
    const ws = new WebSocket(new URL('/__standin/ws', f.base.replace('http', 'ws')));
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    const echoed = new Promise((resolve) => ws.once('message', (data, isBinary) => resolve([data.toString(), isBinary])));
    ws.send('hello');
    assert.deepEqual(await echoed, ['hello', false]);
    ws.close();
  });
  test('GET /__standin/slow?ms=N answers after N ms; hang=1 never answers', async () => {
    const started = Date.now();
    const res = await request(f.base, 'GET', '/__standin/slow?ms=50');
    assert.deepEqual(parsed(res), { slept_ms: 50 });
    assert.ok(Date.now() - started >= 50);
    let answered = false;
    const req = http.get(new URL('/__standin/slow?hang=1&tag=h1', f.base), () => { answered = true; });
    req.on('error', () => {});
    const deadline = Date.now() + 10_000;
    while (!readLog().some((e) => e.url.includes('tag=h1')) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    // The server got the request; an echo sent after it comes back first.
    await request(f.base, 'GET', '/__standin/headers');
    assert.equal(answered, false);
    req.destroy();
  });
  test('GET /__standin/headers echoes the request headers', async () => {
    const res = await request(f.base, 'GET', '/__standin/headers?x=1', { headers: { 'x-forwarded-for': '203.0.113.9', cookie: 'a=b' } });
    const body = parsed(res);
    assert.equal(body.method, 'GET');
    assert.equal(body.url, '/__standin/headers?x=1');
    assert.equal(body.headers['x-forwarded-for'], '203.0.113.9');
    assert.ok(body.rawHeaders.includes('cookie'));
  });
  test('GET /__standin/cookie sets two cookies and redirects', async () => {
    const res = await request(f.base, 'GET', '/__standin/cookie?name=sid&value=42');
    assert.equal(res.status, 302);
    assert.equal(res.headers.location, '/__standin/headers');
    assert.deepEqual(res.headers['set-cookie'], ['sid=42; Path=/; HttpOnly; SameSite=Lax', 'standin_second=2; Path=/']);
  });
});
