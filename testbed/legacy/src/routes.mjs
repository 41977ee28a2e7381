// Operational API routes of the legacy app (contract section 9 and platform
// contract sections 4, 5 and 7.6). Each entry maps a path to its methods;
// a method that is not listed answers the 404 page (platform contract 0).
import os from 'node:os';
import { runDestructiveMigration } from './db.mjs';
import { bare, json, memoryReport, NO_CACHE, readJsonBody } from './http.mjs';

// checkDatabase runs a real query; it never waits longer than timeoutMs.
async function checkDatabase(pool, timeoutMs = 3000) {
  const started = Date.now();
  let timer;
  try {
    await Promise.race([
      pool.query('SELECT 1'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('Database health check timeout')), timeoutMs);
      }),
    ]);
    return { status: 'healthy', responseTime: Date.now() - started, message: 'Database connection successful' };
  } catch (err) {
    return { status: 'unhealthy', responseTime: Date.now() - started, message: err.message };
  } finally {
    clearTimeout(timer);
  }
}

async function health(request, url, ctx) {
  const database = await checkDatabase(ctx.pool);
  const memory = memoryReport();
  const status = database.status === 'healthy' ? 'healthy' : 'unhealthy';
  const body = {
    status,
    timestamp: new Date().toISOString(),
    service: 'nanopore-tracking-app',
    version: '1.0.0',
    uptime: process.uptime(),
    environment: 'production',
    components: {
      database,
      memory: { status: 'healthy', ...memory },
      system: { status: 'healthy', platform: process.platform, nodeVersion: process.version, pid: process.pid, loadAverage: os.loadavg() },
      cache: { status: 'healthy', entries: ctx.service.snapshot ? 1 : 0 },
    },
    metrics: { requests: ctx.stats.requests, startedAt: ctx.stats.startedAt },
  };
  return json(body, status === 'unhealthy' ? 503 : 200, {
    'cache-control': NO_CACHE,
    pragma: 'no-cache',
    expires: '0',
  });
}

// migrate: every answer carries the no-cache header, as the status answer
// of contract 9 does; the default action is the destructive run.
async function migrate(request, url, ctx) {
  const action = url.searchParams.get('action') || 'run';
  const h = { 'cache-control': NO_CACHE };
  switch (action) {
    case 'status':
      return json({ success: true, message: 'Migration system is operational', data: { status: 'ready', timestamp: new Date().toISOString() } }, 200, h);
    case 'pending':
      return json({ success: true, message: 'No pending migrations', data: { pending: [], count: 0 } }, 200, h);
    case 'validate':
      return json({ success: true, message: 'Migration validation passed', data: { valid: true, checks: ['schema_exists', 'tables_created', 'data_integrity'] } }, 200, h);
    case 'run':
      try {
        await runDestructiveMigration(ctx.pool);
        console.log('legacy stand-in: GET /api/migrate dropped and recreated nanopore_samples');
        return json({ success: true, message: 'Migrations completed successfully' }, 200, h);
      } catch (err) {
        return json({ success: false, message: `Migration failed: ${err.message}`, data: null }, 500, h);
      }
    default:
      return json({ success: false, message: `Unknown action: ${action}`, data: null }, 400, h);
  }
}

function versionInfo(request, url, ctx) {
  const host = request.headers.get('host') ?? 'localhost';
  const example = (name, path) => ({ name, curl: `curl http://${host}${path}` });
  return json({
    name: 'Nanopore Tracking App',
    version: '1.0.0',
    description: 'Sample tracking for Oxford Nanopore sequencing submissions',
    build: { framework: 'Astro 5.11.1', runtime: 'Node 20', api: 'tRPC 11.4.3', database: 'PostgreSQL 15' },
    endpoints: {
      trpc: '/api/trpc',
      health: '/health',
      procedures: ['health', 'nanopore.getAll', 'nanopore.create', 'nanopore.update', 'nanopore.assign', 'nanopore.updateStatus', 'nanopore.delete'],
      examples: [
        example('health', '/api/trpc/health'),
        example('list samples', '/api/trpc/nanopore.getAll'),
        example('service health', '/health'),
      ],
    },
    statistics: { requests: ctx.stats.requests, since: ctx.stats.startedAt },
  }, 200, { 'cache-control': 'public, max-age=3600' });
}

function monitoring(request, url, ctx) {
  return json({
    timestamp: new Date().toISOString(),
    system: { uptime: process.uptime(), memory: memoryReport(), cpu: { usage: process.cpuUsage(), loadAverage: os.loadavg() }, pid: process.pid },
    application: { requests: ctx.stats.requests, startedAt: ctx.stats.startedAt },
    alerts: [],
  }, 200, { 'cache-control': NO_CACHE });
}

function metrics(request, url, ctx) {
  const m = process.memoryUsage();
  const lines = [
    '# HELP nanopore_http_requests_total Total HTTP requests received',
    '# TYPE nanopore_http_requests_total counter',
    `nanopore_http_requests_total ${ctx.stats.requests}`,
    '# HELP nodejs_heap_size_used_bytes Process heap size used from Node.js in bytes.',
    '# TYPE nodejs_heap_size_used_bytes gauge',
    `nodejs_heap_size_used_bytes ${m.heapUsed}`,
    '# HELP process_resident_memory_bytes Resident memory size in bytes.',
    '# TYPE process_resident_memory_bytes gauge',
    `process_resident_memory_bytes ${m.rss}`,
    '# HELP process_uptime_seconds Process uptime in seconds.',
    '# TYPE process_uptime_seconds gauge',
    `process_uptime_seconds ${process.uptime()}`,
  ];
  return new Response(`${lines.join('\n')}\n`, { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' } });
}

// auditTrail reads the audit_logs table, which does not exist in the legacy
// schema: the real PostgreSQL error becomes the 500 body (pretty-printed).
async function auditTrail(request, url, ctx) {
  const fail = (message) => json({ error: 'Audit trail request failed', message, timestamp: new Date().toISOString() }, 500, {}, 2);
  const action = url.searchParams.get('action') ?? 'list';
  try {
    const { rows } = await ctx.pool.query('SELECT * FROM audit_logs ORDER BY "timestamp" DESC LIMIT 50');
    if (action !== 'list') return fail(`Unknown action: ${action}`);
    const pagination = { page: 1, limit: 50, total: rows.length, pages: Math.ceil(rows.length / 50), hasNext: false, hasPrev: false };
    return json({ logs: rows, pagination }, 200, { 'cache-control': NO_CACHE }, 2);
  } catch (err) {
    return fail(err.message);
  }
}

// The submission service upstream is absent, so every relay fails as "fetch failed".
async function submissionProcess(request, kind) {
  const failed = (message) => json({ error: `Failed to process ${kind}`, message }, 500);
  try {
    await request.formData();
  } catch (err) {
    return failed(err.message);
  }
  return failed('fetch failed');
}

const aiState = { circuitBreaker: 'closed', trips: 0 };

function aiHealthBody() {
  const unavailable = { healthy: false, status: 'unavailable' };
  return {
    healthy: false,
    timestamp: new Date().toISOString(),
    services: { aiService: unavailable, ragService: { healthy: true, status: 'operational' }, pdfService: unavailable },
    circuitBreaker: { state: aiState.circuitBreaker, status: 'operational' },
    metrics: { totalRequests: 0, successfulRequests: 0, failedRequests: 0, averageResponseTime: 0, circuitBreakerTrips: aiState.trips, fallbackUsage: 0, lastSuccessTime: null, lastFailureTime: null },
  };
}

function aiMetricsBody() {
  return {
    timestamp: new Date().toISOString(),
    metrics: { totalRequests: 0, successfulRequests: 0, failedRequests: 0, averageResponseTime: 0, circuitBreakerTrips: aiState.trips, fallbackUsage: 0, lastSuccessTime: null, lastFailureTime: null, successRate: 0, failureRate: 0, fallbackUsageRate: 0 },
    health: { status: 'unhealthy', lastSuccessTime: null, lastFailureTime: null },
  };
}

function aiServiceGet(request, url) {
  const action = url.searchParams.get('action') ?? 'health';
  if (action === 'health') return json(aiHealthBody(), 503);
  if (action === 'metrics') return json(aiMetricsBody());
  if (action === 'status') {
    return json({ timestamp: new Date().toISOString(), status: 'operational', services: { aiService: false, ragService: true, pdfService: false }, circuitBreaker: { state: aiState.circuitBreaker, failures: 0, trips: aiState.trips }, performance: { averageResponseTime: 0, successRate: 0 }, recommendations: ['Start Ollama to enable AI extraction'] });
  }
  return json({ error: 'Invalid action. Supported actions: health, metrics, status' }, 400);
}

async function aiServicePost(request, url) {
  const action = url.searchParams.get('action');
  const now = new Date().toISOString();
  switch (action) {
    case 'health': return json(aiHealthBody(), 503);
    case 'metrics': return json(aiMetricsBody());
    case 'reset-circuit-breaker':
      aiState.circuitBreaker = 'closed';
      return json({ success: true, message: 'Circuit breaker reset successfully', timestamp: now });
    case 'clear-cache':
      return json({ success: true, message: 'AI service cache cleared successfully', timestamp: now });
    case 'update-config': {
      let body;
      try {
        body = await request.json();
      } catch (err) {
        return json({ error: 'Internal server error', details: err.message }, 500);
      }
      return json({ success: true, message: 'AI service configuration updated successfully', timestamp: now, updatedConfig: { retryConfig: body?.retryConfig ?? null, fallbackConfig: body?.fallbackConfig ?? null } });
    }
    default:
      return json({ error: 'Invalid action. Supported actions: health, metrics, reset-circuit-breaker, clear-cache, update-config' }, 400);
  }
}

// crashOnLoad is the answer of routes whose module throws when it loads.
const crashOnLoad = () => bare(new Response(null, { status: 500 }));
const allMethods = (handler) => Object.fromEntries(
  ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].map((m) => [m, handler]),
);

/** opsRoutes maps each operational path to its method handlers. */
export const opsRoutes = {
  '/health': { GET: health },
  '/api/migrate': { GET: migrate },
  '/api/version-info': { GET: versionInfo },
  '/api/service-health': { GET: () => json({ success: true, data: {} }) },
  '/api/monitoring': {
    GET: monitoring,
    POST: async (request) => ((await readJsonBody(request)).ok
      ? json({ success: true, message: 'Monitoring configuration updated' })
      : json({ success: false, error: 'Internal server error' }, 500)),
  },
  '/api/metrics': { GET: metrics },
  '/api/audit-trail': { GET: auditTrail },
  '/api/submission/health': {
    GET: () => json({ status: 'error', service: 'submission-service', error: 'fetch failed' }, 503),
  },
  '/api/submission/memory-usage': {
    GET: () => json({ error: 'Failed to get memory usage', message: 'fetch failed' }, 503),
  },
  '/api/submission/process-csv': { POST: (request) => submissionProcess(request, 'CSV') },
  '/api/submission/process-pdf': { POST: (request) => submissionProcess(request, 'PDF') },
  '/api/ai-service': { GET: aiServiceGet, POST: aiServicePost },
  '/api/discovery': allMethods(crashOnLoad),
  '/api/gateway': allMethods(crashOnLoad),
  '/api/service-mesh/health': {
    GET: () => json({ status: 'healthy', mode: 'quota-optimized', timestamp: new Date().toISOString(), services: {} }),
  },
  '/api/service-mesh/metrics': {
    GET: () => new Response('# HELP service_mesh_requests_total Requests through the mesh\n# TYPE service_mesh_requests_total counter\nservice_mesh_requests_total 0\n', { headers: { 'content-type': 'text/plain; charset=utf-8' } }),
  },
};
