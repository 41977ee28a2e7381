// Test helpers: a fresh database per stand-in, the stand-in as a real child
// process on a free port, raw HTTP (so that framing and empty headers are
// visible) and small tRPC wrappers. PostgreSQL must be reachable: a missing
// server fails the tests loudly, it never skips them.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** ADMIN_URL is the maintenance database used to create and drop test databases. */
export const ADMIN_URL = process.env.STANDIN_TEST_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const SERVER = fileURLToPath(new URL('../server.mjs', import.meta.url));

/** databaseUrl returns the URL of database name on the admin URL's server. */
export function databaseUrl(name) {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin(sql) {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** createDatabase creates a database with a random suffix and returns its name. */
export async function createDatabase(prefix = 'standin_test') {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  return name;
}

/** dropDatabase drops a test database, closing any connection still open on it. */
export async function dropDatabase(name) {
  await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/**
 * startStandin starts server.mjs on a free port and resolves once it printed
 * its listening line. Returns { url, port, proc, output(), stop() }.
 */
export function startStandin(dbUrl, extraArgs = []) {
  const proc = spawn(process.execPath, [SERVER, '--port', '0', '--database-url', dbUrl, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  return new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk;
      const m = /legacy stand-in listening on (http:\/\/[^\s]+)/.exec(output);
      if (m) {
        proc.stdout.off('data', onData);
        proc.stdout.on('data', (c) => { output += c; });
        const url = m[1];
        resolve({
          url,
          port: Number(new URL(url).port),
          proc,
          output: () => output,
          stop: async () => {
            if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
            return exited;
          },
        });
      }
    };
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', onData);
    proc.stderr.on('data', (c) => { output += c; });
    proc.once('exit', (code) => reject(new Error(`stand-in exited with ${code} before listening:\n${output}`)));
  });
}

/**
 * request sends one raw HTTP/1.1 request and returns { status, headers,
 * rawHeaders, body (string), bytes (Buffer) }. A body object is sent as JSON
 * text without setting a content type: callers choose the headers.
 */
export function request(base, method, path, { headers = {}, body } = {}) {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, body: bytes.toString('utf8'), bytes });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined) req.write(typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body));
    req.end();
  });
}

/** query GETs a tRPC query; input undefined sends no input parameter. */
export function query(base, proc, input, headers = {}) {
  const qs = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
  return request(base, 'GET', `/api/trpc/${proc}${qs}`, { headers });
}

/** mutate POSTs a tRPC mutation with a JSON body. */
export function mutate(base, proc, input, headers = {}) {
  return request(base, 'POST', `/api/trpc/${proc}`, {
    headers: { 'content-type': 'application/json', ...headers },
    body: input === undefined ? '' : JSON.stringify(input),
  });
}

/** parsed returns the JSON body of a response. */
export function parsed(res) {
  return JSON.parse(res.body);
}

/** validSample is a create input that passes every rule. */
export function validSample(overrides = {}) {
  return {
    sampleName: 'Sample-1',
    projectId: 'PRJ-1',
    submitterName: 'Jo Doe',
    submitterEmail: 'jo@lab.org',
    labName: 'Genomics Lab',
    sampleType: 'DNA',
    sampleBuffer: 'TE',
    concentration: 12.5,
    volume: 20,
    totalAmount: 250,
    flowCellType: 'R10.4.1',
    flowCellCount: 2,
    priority: 'high',
    chartField: 'HTSF-001',
    ...overrides,
  };
}

/** createSample creates a sample through tRPC and returns the row. */
export async function createSample(base, overrides = {}) {
  const res = await mutate(base, 'nanopore.create', validSample(overrides));
  if (res.status !== 200) throw new Error(`create failed: ${res.status} ${res.body}`);
  return parsed(res).result.data;
}

/** issues parses the zod issue list out of a single-call error body. */
export function issues(res) {
  return JSON.parse(parsed(res).error.message);
}

/**
 * tcpProxy forwards a local port to target (host:port) until closed; close()
 * destroys every open connection and stops accepting, which makes a
 * database behind it look unreachable.
 */
export async function tcpProxy(targetHost, targetPort) {
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    }),
  };
}

/** SECURITY_HEADER_NAMES are the header names of contract 1.8. */
export const SECURITY_HEADER_NAMES = [
  'content-security-policy', 'cross-origin-embedder-policy', 'cross-origin-opener-policy',
  'cross-origin-resource-policy', 'permissions-policy', 'referrer-policy', 'server',
  'strict-transport-security', 'x-content-type-options', 'x-dns-prefetch-control',
  'x-download-options', 'x-frame-options', 'x-permitted-cross-domain-policies', 'x-powered-by',
  'x-xss-protection',
];

/** DEMO_USER is the created_by of every sample. */
export const DEMO_USER = '550e8400-e29b-41d4-a716-446655440000';

/** withDb runs fn with a pg client on the database at url. */
export async function withDb(url, fn) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * fixture registers before/after hooks on the calling test file that give
 * it a fresh database and a running stand-in; fields are filled in before().
 */
export function fixture(before, after, extraArgs = []) {
  const f = { base: null, db: null, dbUrl: null, standin: null };
  before(async () => {
    f.db = await createDatabase();
    f.dbUrl = databaseUrl(f.db);
    f.standin = await startStandin(f.dbUrl, extraArgs);
    f.base = f.standin.url;
  });
  after(async () => {
    await f.standin?.stop();
    if (f.db) await dropDatabase(f.db);
  });
  return f;
}
