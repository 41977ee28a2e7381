// Contract sections 8.5 and 9, and the platform routes (platform contract
// sections 0, 1, 7 and 9) that the proxy must deny.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSample, fixture, mutate, parsed, query, request, withDb } from './helpers.mjs';

const f = fixture(before, after);
const wreck = fixture(before, after); // for the destructive calls
const json = { 'content-type': 'application/json' };

const get = (path, headers) => request(f.base, 'GET', path, { headers });
const login = (base, username, password, headers = {}) => request(base, 'POST', '/api/admin/login', {
  headers: { ...json, ...headers }, body: { username, password },
});

describe('9 pages', () => {
  test('9 GET / and /nanopore: 200 text/html app shell with a spinner', async () => {
    for (const path of ['/', '/nanopore', '/nanopore/']) {
      const res = await get(path);
      assert.equal(res.status, 200);
      assert.match(res.headers['content-type'], /^text\/html/);
      assert.match(res.body, /class="spinner"/);
    }
  });
  test('9 unknown path: 404 HTML page in the look of Astro\'s default one', async () => {
    const res = await get('/does-not-exist');
    assert.equal(res.status, 404);
    assert.match(res.headers['content-type'], /^text\/html/);
    assert.match(res.body, /<title>404: Not Found<\/title>/);
    assert.match(res.body, /Path: \/does-not-exist/);
  });
  test('platform 0 unsupported method on an API route: 404 HTML page, not 405', async () => {
    for (const [method, path] of [['GET', '/api/admin/login'], ['POST', '/api/admin/session'], ['POST', '/api/audit-trail'], ['GET', '/api/admin/logout']]) {
      const res = await request(f.base, method, path, { headers: json, body: method === 'POST' ? '{}' : undefined });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.match(res.headers['content-type'], /^text\/html/);
    }
  });
});

describe('9 operational routes', () => {
  test('9 /health 200 with its keys and cache headers', async () => {
    const res = await get('/health');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.headers['cache-control'], 'no-cache, no-store, must-revalidate');
    assert.equal(res.headers.pragma, 'no-cache');
    assert.equal(res.headers.expires, '0');
    const body = parsed(res);
    assert.deepEqual(Object.keys(body), ['status', 'timestamp', 'service', 'version', 'uptime', 'environment', 'components', 'metrics']);
    assert.deepEqual([body.status, body.service, body.version], ['healthy', 'nanopore-tracking-app', '1.0.0']);
    assert.deepEqual(Object.keys(body.components), ['database', 'memory', 'system', 'cache']);
  });
  test('9 /api/migrate status, pending, validate, unknown action', async () => {
    const status = await get('/api/migrate?action=status');
    assert.equal(status.headers['cache-control'], 'no-cache, no-store, must-revalidate');
    assert.deepEqual({ ...parsed(status), data: { ...parsed(status).data, timestamp: null } }, { success: true, message: 'Migration system is operational', data: { status: 'ready', timestamp: null } });
    assert.equal((await get('/api/migrate?action=pending')).body, '{"success":true,"message":"No pending migrations","data":{"pending":[],"count":0}}');
    assert.equal((await get('/api/migrate?action=validate')).body, '{"success":true,"message":"Migration validation passed","data":{"valid":true,"checks":["schema_exists","tables_created","data_integrity"]}}');
    const other = await get('/api/migrate?action=drop');
    assert.equal(other.status, 400);
    assert.equal(other.body, '{"success":false,"message":"Unknown action: drop","data":null}');
  });
  test('9 /api/version-info embeds Host and counts requests; cached an hour', async () => {
    const res = await get('/api/version-info', { host: 'legacy.example:3001' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['cache-control'], 'public, max-age=3600');
    const body = parsed(res);
    assert.ok(body.endpoints.examples.every((e) => e.curl.includes('legacy.example:3001')));
    assert.equal(typeof body.statistics.requests, 'number');
  });
  test('9 /api/service-health, /api/monitoring, /api/metrics', async () => {
    assert.equal((await get('/api/service-health')).body, '{"success":true,"data":{}}');
    const mon = await get('/api/monitoring');
    assert.equal(mon.headers['cache-control'], 'no-cache, no-store, must-revalidate');
    const metrics = await get('/api/metrics');
    assert.equal(metrics.headers['content-type'], 'text/plain; charset=utf-8');
    assert.match(metrics.body, /^# HELP /m);
    assert.match(metrics.body, /^# TYPE \S+ (counter|gauge)$/m);
  });
  test('9 /api/admin/session 401; cookie routes 401 No session found', async () => {
    const s = await get('/api/admin/session');
    assert.equal(s.status, 401);
    assert.equal(s.body, '{"success":false,"error":"Authorization header required"}');
    for (const path of ['/api/config', '/api/audit', '/api/shutdown', '/api/migration']) {
      const res = await get(path);
      assert.equal(res.status, 401, path);
      assert.equal(res.body, '{"success":false,"error":"No session found"}');
      assert.equal(res.headers['cache-control'], undefined);
    }
  });
  test('9 /api/submission/health 503 fetch failed', async () => {
    const res = await get('/api/submission/health');
    assert.equal(res.status, 503);
    assert.equal(res.body, '{"status":"error","service":"submission-service","error":"fetch failed"}');
  });
  test('9 /api/audit-trail 500 because audit_logs does not exist (pretty JSON)', async () => {
    const res = await get('/api/audit-trail');
    assert.equal(res.status, 500);
    const body = parsed(res);
    assert.deepEqual(Object.keys(body), ['error', 'message', 'timestamp']);
    assert.equal(body.error, 'Audit trail request failed');
    assert.equal(body.message, 'relation "audit_logs" does not exist');
    assert.match(res.body, /^\{\n {2}"error"/);
  });
  test('9 /api/ai-service 503 (Ollama absent); unknown action 400', async () => {
    const res = await get('/api/ai-service');
    assert.equal(res.status, 503);
    assert.equal(parsed(res).healthy, false);
    assert.equal((await get('/api/ai-service?action=metrics')).status, 200);
    assert.equal((await get('/api/ai-service?action=nope')).status, 400);
  });
  test('platform 7.6 routes that crash on load: 500 with an empty body', async () => {
    for (const path of ['/api/discovery', '/api/gateway']) {
      const res = await get(path);
      assert.equal(res.status, 500);
      assert.equal(res.body, '');
    }
  });
});

describe('platform 1 admin authentication', () => {
  test('1.5 login: success body, no cookie', async () => {
    const res = await login(f.base, 'admin', 'admin123');
    assert.equal(res.status, 200);
    const body = parsed(res);
    assert.deepEqual(Object.keys(body), ['success', 'sessionId', 'message']);
    assert.match(body.sessionId, /^session-\d+-[0-9a-z]{1,13}$/);
    assert.equal(res.headers['set-cookie'], undefined);
  });
  test('1.5 login errors: 400 missing, 401 unknown, 500 malformed body', async () => {
    assert.equal((await login(f.base, 'admin', '')).status, 400);
    assert.equal(parsed(await login(f.base, 'Admin', 'admin123')).error, 'Invalid username or password');
    const bad = await request(f.base, 'POST', '/api/admin/login', { headers: json, body: '{"username":' });
    assert.equal(bad.status, 500);
    assert.equal(bad.body, '{"success":false,"error":"Internal server error"}');
  });
  test('1.4 lockout after 5 failures, even with the right password; per username', async () => {
    for (let i = 0; i < 5; i++) assert.equal(parsed(await login(f.base, 'operator', 'wrong')).error, 'Invalid username or password');
    const locked = await login(f.base, 'operator', 'operator123');
    assert.equal(locked.status, 401);
    assert.equal(parsed(locked).error, 'Account locked. Try again in 30 minutes.');
    assert.equal((await login(f.base, 'admin', 'admin123')).status, 200);
    for (let i = 0; i < 7; i++) assert.equal(parsed(await login(f.base, 'ghost', 'x')).error, 'Invalid username or password');
  });
  test('1.6 Bearer session: body, XFF ip, lower-case bearer is missing; logout', async () => {
    const { sessionId } = parsed(await login(f.base, 'admin', 'admin123', { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' }));
    const res = await get('/api/admin/session', { authorization: `Bearer ${sessionId}` });
    assert.equal(res.status, 200);
    const { session } = parsed(res);
    assert.deepEqual(Object.keys(session), ['id', 'username', 'role', 'permissions', 'loginTime', 'lastActivity', 'ipAddress', 'expiresAt']);
    assert.equal(session.ipAddress, '203.0.113.7, 10.0.0.1');
    assert.equal(Date.parse(session.expiresAt) - Date.parse(session.loginTime), 3_600_000);
    assert.equal((await get('/api/admin/session', { authorization: `bearer ${sessionId}` })).status, 401);
    const out = await request(f.base, 'POST', '/api/admin/logout', { headers: { ...json, authorization: `Bearer ${sessionId}` } });
    assert.equal(out.body, '{"success":true,"message":"Logout successful"}');
    assert.equal(parsed(await get('/api/admin/session', { authorization: `Bearer ${sessionId}` })).error, 'Invalid or expired session');
  });
  test('0 / 1.6 bodyless logout without content type or Origin is the framework 403', async () => {
    const res = await request(f.base, 'POST', '/api/admin/logout', { headers: { authorization: 'Bearer x' } });
    assert.equal(res.status, 403);
    assert.equal(res.body, 'Cross-site POST form submissions are forbidden');
  });
  test('1.3 / 1.7 cookie routes: Invalid session, permissions, Bearer not accepted', async () => {
    const admin = parsed(await login(f.base, 'admin', 'admin123')).sessionId;
    const cookie = (id) => ({ cookie: `theme=dark; admin_session=${id}` });
    assert.equal(parsed(await get('/api/config', cookie('session-0-x'))).error, 'Invalid session');
    assert.equal(parsed(await get('/api/config', { authorization: `Bearer ${admin}` })).error, 'No session found');
    const features = await get('/api/config?action=features', cookie(admin));
    assert.equal(features.status, 200);
    assert.equal(parsed(features).data.pdfProcessing, true);
    assert.equal(parsed(await get('/api/config?action=nope', cookie(admin))).error, 'Invalid action. Supported actions: get, environment, features, validate, hash');
    assert.equal(parsed(await get('/api/audit?action=logs', cookie(admin))).success, true);
  });
});

describe('platform 9 routes the proxy must deny still answer here', () => {
  const routes = [
    ['GET', '/api/backup-recovery?action=list', 200],
    ['POST', '/api/backup-recovery', 200],
    ['GET', '/api/backup?type=status', 200],
    ['POST', '/api/backup', 200],
    ['GET', '/api/performance/load-test', 200],
    ['POST', '/api/performance/load-test', 200],
    ['GET', '/api/memory-optimize', 200],
    ['POST', '/api/memory-optimize?action=gc', 200],
    ['GET', '/api/security/hardening', 200],
    ['POST', '/api/security/hardening?action=encrypt', 200],
    ['POST', '/api/ai-service?action=clear-cache', 200],
  ];
  for (const [method, path, status] of routes) {
    test(`9 ${method} ${path} -> ${status}`, async () => {
      const res = await request(f.base, method, path, { headers: json, body: method === 'POST' ? '{"action":"restore_backup"}' : undefined });
      assert.equal(res.status, status);
      assert.equal(res.headers['content-type'], 'application/json');
    });
  }
});

describe('8.5 and 7.2 destructive calls (their own stand-in)', () => {
  test('8.5 GET /api/migrate with no action drops and recreates the samples table', async () => {
    await createSample(wreck.base);
    const res = await request(wreck.base, 'GET', '/api/migrate');
    assert.equal(res.status, 200);
    assert.equal(res.body, '{"success":true,"message":"Migrations completed successfully"}');
    await withDb(wreck.dbUrl, async (c) => {
      assert.equal((await c.query('SELECT count(*)::int AS n FROM nanopore_samples')).rows[0].n, 0);
      const idx = await c.query("SELECT indexname FROM pg_indexes WHERE tablename = 'nanopore_samples' ORDER BY 1");
      assert.ok(idx.rows.some((r) => r.indexname === 'idx_nanopore_samples_submitter_email'));
      assert.ok(!idx.rows.some((r) => r.indexname === 'idx_nanopore_samples_assigned_to'));
      const fk = await c.query("SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = 'nanopore_processing_steps'::regclass AND contype = 'f'");
      assert.equal(fk.rows[0].n, 0, 'CASCADE removed the steps foreign key');
    });
    assert.equal((await mutate(wreck.base, 'nanopore.create', { sampleName: 'After', submitterName: 'Jo', submitterEmail: 'jo@lab.org', sampleType: 'DNA', chartField: 'SEQ-001' })).status, 200);
  });
  test('7.2 confirmed graceful shutdown closes the pool and keeps serving', async () => {
    const id = parsed(await login(wreck.base, 'operator', 'operator123')).sessionId;
    const headers = { ...json, cookie: `admin_session=${id}` };
    const body = { action: 'graceful_shutdown', confirm: 'I_UNDERSTAND_THIS_WILL_SHUTDOWN_THE_SERVER' };
    const res = await request(wreck.base, 'POST', '/api/shutdown', { headers, body });
    assert.equal(parsed(res).success, true);
    const again = await request(wreck.base, 'POST', '/api/shutdown', { headers, body });
    assert.equal(parsed(again).error, 'Shutdown already in progress');
    const all = await query(wreck.base, 'nanopore.getAll');
    assert.equal(all.status, 500);
    assert.equal(parsed(all).error.message, 'Cannot use a pool after calling end on the pool');
    assert.equal(parsed(await query(wreck.base, 'health')).result.data.status, 'ok');
    assert.equal((await request(wreck.base, 'GET', '/health')).status, 503);
  });
});
