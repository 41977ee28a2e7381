// Platform routes of the legacy app, minimally (platform contract sections
// 2.2, 7 and 9): the cookie-session admin routes and the anonymous
// destructive operations routes. They exist so that the proxy's deny tests
// can prove such requests never reach legacy; none of them does anything
// destructive here, except the confirmed graceful shutdown, which closes the
// database pool and keeps serving, as the legacy app does.
import { withCookieSession } from './admin.mjs';
import { internalError, json, memoryReport, NO_CACHE } from './http.mjs';

const ok = (extra) => json({ success: true, ...extra });
const soft = (error) => json({ success: false, error });

function byAction(table, supported) {
  return ({ url, body }) => {
    const action = body ? body.action : url.searchParams.get('action');
    const handler = Object.hasOwn(table, action) ? table[action] : null;
    return handler ? handler({ url, body }) : soft(`Invalid action. Supported actions: ${supported}`);
  };
}

const configGet = byAction({
  features: () => ok({ data: { pdfProcessing: true, aiExtraction: true, realTimeUpdates: true, auditLogging: true, memoryOptimization: true, backupRecovery: true } }),
  validate: () => json({ success: true, message: 'Configuration validation passed' }),
  environment: () => ok({ data: { nodeVersion: process.version, platform: process.platform, uptime: process.uptime(), environment: 'production', debug: false, version: '1.0.0' } }),
}, 'get, environment, features, validate, hash');

const configPost = byAction({
  reload: () => soft('Hot reload not implemented for this endpoint'),
}, 'set_override, reload, toggle_feature');

const auditGet = byAction({
  logs: () => ok({ data: [] }),
  stats: () => ok({ data: { totalEvents: 0, eventsByType: {}, eventsByCategory: {}, successfulEvents: 0, failedEvents: 0 } }),
  cleanup: () => json({ success: true, message: 'Audit logs cleanup completed' }),
}, 'logs, stats, cleanup');

const auditPost = byAction({
  log_event: () => json({ success: true, message: 'Audit event logged successfully' }),
}, 'log_event, log_admin_action, log_security_event');

const shutdownState = { status: 'idle' };
const CONFIRM = 'I_UNDERSTAND_THIS_WILL_SHUTDOWN_THE_SERVER';

const shutdownGet = byAction({
  status: () => ok({ data: { status: shutdownState.status, isShuttingDown: shutdownState.status === 'shutting_down', stats: { status: shutdownState.status, isShuttingDown: false, registeredHooks: 5, elapsedTime: 0 } } }),
  hooks: () => ok({ data: [['audit_logger', 10, 5000, false], ['config_manager', 20, 3000, false], ['database', 30, 10000, true], ['metrics', 40, 2000, false], ['final_cleanup', 100, 1000, false]].map(([name, priority, timeout, required]) => ({ name, priority, timeout, required })) }),
}, 'status, hooks, test');

function gracefulShutdown({ body, ctx }) {
  if (body.confirm !== CONFIRM) {
    return soft(`Graceful shutdown requires explicit confirmation. Set confirm to "${CONFIRM}"`);
  }
  if (shutdownState.status !== 'idle') return soft('Shutdown already in progress');
  shutdownState.status = 'completed';
  // The legacy shutdown closes the pool but never exits the process.
  ctx.pool.end().catch(() => {});
  return ok({ message: 'Graceful shutdown initiated. Server will terminate after cleanup completes.', data: { shutdownInitiated: true, estimatedDuration: '30-60 seconds' } });
}

function shutdownPost(args) {
  if (args.body.action === 'graceful_shutdown') return gracefulShutdown(args);
  return soft('Invalid action. Supported actions: graceful_shutdown, register_hook, unregister_hook');
}

const migrationGet = byAction({
  status: () => ok({ data: { totalMigrations: 2, appliedMigrations: 0, pendingMigrations: 2, failedMigrations: 0, lastMigration: null, systemLocked: false } }),
  history: () => ok({ data: [] }),
  applied: () => ok({ data: [] }),
  validate: () => ok({ data: { valid: true, issues: [] } }),
  plan: () => soft('Migration 002 depends on 001_create_sample_tracking which is not available'),
}, 'status, history, pending, applied, plan, validate');

const migrationPost = byAction({
  dry_run: () => soft('Migration 002 depends on 001_create_sample_tracking which is not available'),
  execute_plan: () => soft('Migration 002 depends on 001_create_sample_tracking which is not available'),
  rollback: () => soft('Rollback version is required'),
}, 'execute_plan, rollback, dry_run');

// anonymousPost reads an optional JSON body (500 when it is malformed) and
// answers success without doing the dangerous thing the legacy route does.
function anonymousPost(answer) {
  return async (request, url) => {
    let body = {};
    try {
      const text = await request.text();
      if (text !== '') body = JSON.parse(text);
    } catch {
      return internalError();
    }
    const action = url.searchParams.get('action') ?? body?.action ?? null;
    return json({ success: true, action, ...answer, timestamp: new Date().toISOString() });
  };
}

function backupRecoveryGet(request, url) {
  const action = url.searchParams.get('action') ?? 'list';
  if (action === 'health') return json({ status: 'warning', checks: [{ name: 'backup_directory', status: 'warning', message: 'No backups found' }] });
  if (action === 'config') return json({ schedule: '0 2 * * *', retentionDays: 30, backupDir: '/app/data/backups' });
  return json({ backups: [], total: 0 });
}

function backupGet(request, url) {
  if (url.searchParams.get('type') === 'history') return json({ success: true, backups: [] });
  return json({ success: true, activeJobs: [], recentBackups: [], summary: { total: 0, successful: 0, failed: 0 } });
}

function hardeningGet(request, url) {
  const action = url.searchParams.get('action') ?? 'status';
  return json({ success: true, action, data: { status: 'active', threats: [], blockedIps: 0, lastScan: new Date().toISOString() } });
}

/** platformRoutes maps the cookie admin routes and the destructive operations routes. */
export const platformRoutes = {
  '/api/config': {
    GET: withCookieSession('system_monitoring', configGet),
    POST: withCookieSession('security_settings', configPost),
  },
  '/api/audit': {
    GET: withCookieSession('audit_logs', auditGet),
    POST: withCookieSession('audit_logs', auditPost),
  },
  '/api/shutdown': {
    GET: withCookieSession('system_monitoring', shutdownGet),
    POST: withCookieSession('system_monitoring', shutdownPost, 'Insufficient permissions for shutdown operations'),
  },
  '/api/migration': {
    GET: withCookieSession('system_monitoring', migrationGet),
    POST: withCookieSession('system_monitoring', migrationPost, 'Insufficient permissions for migration operations'),
  },
  '/api/backup-recovery': { GET: backupRecoveryGet, POST: anonymousPost({ message: 'Backup operation accepted' }) },
  '/api/backup': { GET: backupGet, POST: anonymousPost({ message: 'Backup operation accepted' }) },
  '/api/performance/load-test': {
    GET: () => json({ success: true, results: [], summary: { total: 0 } }),
    POST: anonymousPost({ message: 'Load test completed', results: [] }),
    DELETE: () => json({ success: true, message: 'Load test results cleared' }),
  },
  '/api/memory-optimize': {
    GET: () => json({ success: true, data: memoryReport() }, 200, { 'cache-control': NO_CACHE }),
    POST: anonymousPost({ message: 'Memory optimization completed', data: memoryReport() }),
  },
  '/api/security/hardening': { GET: hardeningGet, POST: anonymousPost({ message: 'Security operation completed' }) },
};
