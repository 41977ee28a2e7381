// Legacy admin authentication (platform contract section 1): two hard-coded
// users, in-memory sessions of a fixed hour, per-username lockout, Bearer
// sessions for /api/admin/session and /api/admin/logout, and cookie
// sessions (admin_session) with a permission check for the admin routes.
// Deliberately as weak as the original; never reuse outside tests.
import { internalError, json, readJsonBody } from './http.mjs';

const USERS = {
  admin: {
    password: 'admin123',
    role: 'admin',
    permissions: ['memory_optimization', 'backup_management', 'system_monitoring', 'user_management',
      'audit_logs', 'disaster_recovery', 'performance_tuning', 'security_settings'],
  },
  operator: {
    password: 'operator123',
    role: 'user',
    permissions: ['memory_optimization', 'system_monitoring', 'backup_management'],
  },
};

const SESSION_MS = 60 * 60 * 1000;
const WINDOW_MS = 15 * 60 * 1000;
const LOCK_MS = 30 * 60 * 1000;
const MAX_FAILURES = 5;

/** AdminStore is the process-local session, failure and lock state. */
export class AdminStore {
  constructor(now = () => Date.now()) {
    this.now = now;
    this.sessions = new Map();
    this.failures = new Map(); // username -> [ms]
    this.locks = new Map(); // username -> lockedUntil ms
  }

  /** lookup returns the live session with that id, deleting an expired one. */
  lookup(id) {
    const session = this.sessions.get(id);
    if (!session) return null;
    if (this.now() >= session.expiresAt) {
      this.sessions.delete(id);
      return null;
    }
    return session;
  }

  recordFailure(username) {
    const at = this.now();
    const recent = (this.failures.get(username) ?? []).filter((t) => at - t < WINDOW_MS);
    recent.push(at);
    this.failures.set(username, recent);
    if (recent.length >= MAX_FAILURES) this.locks.set(username, at + LOCK_MS);
  }

  /** login answers the login body and status (platform contract 1.5). */
  login(username, password, ipAddress, userAgent) {
    if (!username || !password) {
      return [400, { success: false, error: 'Username and password are required' }];
    }
    const user = Object.hasOwn(USERS, username) ? USERS[username] : null;
    const lockedUntil = user ? this.locks.get(username) : undefined;
    if (lockedUntil !== undefined && this.now() < lockedUntil) {
      const minutes = Math.ceil((lockedUntil - this.now()) / 60000);
      return [401, { success: false, error: `Account locked. Try again in ${minutes} minutes.` }];
    }
    if (!user || password !== user.password) {
      if (user) this.recordFailure(username);
      return [401, { success: false, error: 'Invalid username or password' }];
    }
    this.locks.delete(username);
    const at = this.now();
    const id = `session-${at}-${Math.random().toString(36).substring(2, 15)}`;
    this.sessions.set(id, {
      id, username, role: user.role, permissions: [...user.permissions],
      loginTime: at, lastActivity: at, ipAddress, userAgent, expiresAt: at + SESSION_MS,
    });
    return [200, { success: true, sessionId: id, message: 'Login successful' }];
  }
}

function clientIp(request) {
  return request.headers.get('x-forwarded-for') ?? request.headers.get('x-real-ip') ?? '127.0.0.1';
}

function bearer(request) {
  const header = request.headers.get('authorization');
  return header?.startsWith('Bearer ') ? header.slice(7) : null;
}

function sessionBody(s) {
  const iso = (ms) => new Date(ms).toISOString();
  return {
    id: s.id, username: s.username, role: s.role, permissions: s.permissions,
    loginTime: iso(s.loginTime), lastActivity: iso(s.lastActivity), ipAddress: s.ipAddress, expiresAt: iso(s.expiresAt),
  };
}

async function login(request, url, ctx) {
  const parsed = await readJsonBody(request);
  if (!parsed.ok) return internalError();
  const { username, password } = parsed.body ?? {};
  const [status, body] = ctx.admin.login(username, password, clientIp(request),
    request.headers.get('user-agent') ?? 'Unknown');
  return json(body, status);
}

function session(request, url, ctx) {
  const id = bearer(request);
  if (id === null) return json({ success: false, error: 'Authorization header required' }, 401);
  const s = ctx.admin.lookup(id);
  if (!s) return json({ success: false, error: 'Invalid or expired session' }, 401);
  s.lastActivity = ctx.admin.now();
  return json({ success: true, session: sessionBody(s) });
}

function logout(request, url, ctx) {
  const id = bearer(request);
  if (id === null) return json({ success: false, error: 'Authorization header required' }, 401);
  ctx.admin.sessions.delete(id);
  return json({ success: true, message: 'Logout successful' });
}

function cookieSessionId(request) {
  const cookie = request.headers.get('cookie') ?? '';
  for (const part of cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === 'admin_session') return decodeURIComponent(rest.join('='));
  }
  return null;
}

/**
 * withCookieSession wraps a cookie-route handler: POST bodies are read as
 * JSON first (a bad body is a 500 even without credentials), then the
 * session and the permission are checked.
 */
export function withCookieSession(permission, handler, deniedMessage = 'Insufficient permissions') {
  return async (request, url, ctx) => {
    let body;
    if (request.method === 'POST') {
      const parsed = await readJsonBody(request);
      if (!parsed.ok) return internalError();
      body = parsed.body ?? {};
    }
    const id = cookieSessionId(request);
    if (id === null) return json({ success: false, error: 'No session found' }, 401);
    const s = ctx.admin.lookup(id);
    if (!s) return json({ success: false, error: 'Invalid session' }, 401);
    s.lastActivity = ctx.admin.now();
    if (!s.permissions.includes(permission)) return json({ success: false, error: deniedMessage }, 403);
    return handler({ request, url, ctx, session: s, body });
  };
}

/** adminRoutes maps the admin login, session and logout paths. */
export const adminRoutes = {
  '/api/admin/login': { POST: login },
  '/api/admin/session': { GET: session },
  '/api/admin/logout': { POST: logout },
};
