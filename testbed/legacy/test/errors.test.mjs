// Contract section 6: how internal failures map to tRPC errors, with real
// PostgreSQL errors, a real missing demo user and a really unreachable
// database (a TCP proxy in front of PostgreSQL that the test closes).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { toTRPCError } from '../src/samples.mjs';
import {
  ADMIN_URL, createDatabase, databaseUrl, DEMO_USER, dropDatabase, fixture, mutate, parsed, query,
  request, startStandin, tcpProxy, validSample, withDb,
} from './helpers.mjs';

const f = fixture(before, after);

// pgError runs sql on the fixture database and returns the real error.
async function pgError(sql, options = {}) {
  const client = new pg.Client({ connectionString: f.dbUrl, ...options });
  await client.connect();
  try {
    await client.query(sql);
  } catch (err) {
    return err;
  } finally {
    await client.end().catch(() => {});
  }
  throw new Error(`no error from: ${sql}`);
}

describe('6 error mapping with real pg errors', () => {
  const cases = [
    ['unique violation', `INSERT INTO users (email, name) VALUES ('demo@example.com', 'x')`, 'BAD_REQUEST', 'A record with this value already exists'],
    ['foreign-key violation', `INSERT INTO nanopore_samples (sample_name, submitter_name, submitter_email, sample_type, created_by) VALUES ('a', 'b', 'c', 'DNA', gen_random_uuid())`, 'BAD_REQUEST', 'Referenced record does not exist'],
    ['not-null violation', 'INSERT INTO users (email, name) VALUES (NULL, NULL)', 'BAD_REQUEST', 'Required field is missing'],
    ['invalid uuid syntax', "SELECT 'nope'::uuid", 'BAD_REQUEST', 'Invalid ID format'],
    ['value too long', `INSERT INTO users (email, name) VALUES ('${'x'.repeat(300)}', 'x')`, 'BAD_REQUEST', 'Input value is too long'],
    ['other invalid input syntax', "SELECT 'nope'::integer", 'BAD_REQUEST', 'Invalid input format'],
    ['other pg error', 'SELECT * FROM audit_logs', 'INTERNAL_SERVER_ERROR', 'relation "audit_logs" does not exist'],
  ];
  for (const [name, sql, code, message] of cases) {
    test(`6 ${name} -> ${code} ${message}`, async () => {
      const mapped = toTRPCError(await pgError(sql));
      assert.equal(mapped.code, code);
      assert.equal(mapped.message, message);
    });
  }
  test('6 message containing "timeout" -> Database operation timed out', async () => {
    const err = await pgError('SELECT pg_sleep(5)', { query_timeout: 50 });
    assert.match(err.message, /timeout/);
    const mapped = toTRPCError(err);
    assert.deepEqual([mapped.code, mapped.message], ['INTERNAL_SERVER_ERROR', 'Database operation timed out']);
  });
  test('6 connection refused -> Database connection failed', async () => {
    const proxy = await tcpProxy('127.0.0.1', 1);
    await proxy.close();
    const client = new pg.Client({ host: '127.0.0.1', port: proxy.port, user: 'postgres', database: 'postgres' });
    const err = await client.connect().then(() => null, (e) => e);
    assert.equal(err.code, 'ECONNREFUSED');
    const mapped = toTRPCError(err);
    assert.deepEqual([mapped.code, mapped.message], ['INTERNAL_SERVER_ERROR', 'Database connection failed']);
  });
  test('6 plain errors keep their message as a 500', () => {
    const mapped = toTRPCError(new Error('Sample not found'));
    assert.deepEqual([mapped.code, mapped.message], ['INTERNAL_SERVER_ERROR', 'Sample not found']);
  });
});

describe('6 over HTTP', () => {
  test('6 / 8.1 without the demo user every create fails 400 Referenced record does not exist', async () => {
    await withDb(f.dbUrl, (c) => c.query('DELETE FROM users WHERE id = $1', [DEMO_USER]));
    try {
      const res = await mutate(f.base, 'nanopore.create', validSample());
      assert.equal(res.status, 400);
      assert.deepEqual(parsed(res).error, { message: 'Referenced record does not exist', code: -32600, data: { code: 'BAD_REQUEST', httpStatus: 400, path: 'nanopore.create' } });
    } finally {
      await withDb(f.dbUrl, (c) => c.query("INSERT INTO users (id, email, name) VALUES ($1, 'demo@example.com', 'Demo User')", [DEMO_USER]));
    }
    assert.equal((await mutate(f.base, 'nanopore.create', validSample())).status, 200);
  });

  test('6 / 9 database unreachable: procedures 500 Database connection failed, /health 503, tRPC health ok', async () => {
    const db = await createDatabase();
    const pgUrl = new URL(ADMIN_URL);
    const proxy = await tcpProxy(pgUrl.hostname, Number(pgUrl.port || 5432));
    const viaProxy = new URL(databaseUrl(db));
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const standin = await startStandin(viaProxy.toString());
    try {
      assert.equal((await request(standin.url, 'GET', '/health')).status, 200);
      await proxy.close();
      const deadline = Date.now() + 20_000;
      let res;
      // Dead pooled clients fail first with their own message; wait until
      // the pool has to open a new connection, which is refused.
      do {
        res = await query(standin.url, 'nanopore.getAll');
      } while (parsed(res).error?.message !== 'Database connection failed' && Date.now() < deadline);
      assert.equal(res.status, 500);
      assert.deepEqual(parsed(res).error.data, { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500, path: 'nanopore.getAll' });
      assert.equal(parsed(res).error.message, 'Database connection failed');
      const health = await request(standin.url, 'GET', '/health');
      assert.equal(health.status, 503);
      assert.equal(parsed(health).status, 'unhealthy');
      assert.equal(parsed(await query(standin.url, 'health')).result.data.status, 'ok');
    } finally {
      await standin.stop();
      await proxy.close();
      await dropDatabase(db);
    }
  });
});
