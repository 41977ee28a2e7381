// The request pipeline of the stand-in, in the order the legacy app runs it:
// request log (stand-in only) -> test routes (stand-in only, --test-routes)
// -> Astro's origin check -> route (tRPC catch-all, pages, API routes, 404
// page) -> the app's security-header middleware -> streamed node response.
import { appendFileSync } from 'node:fs';
import { AdminStore, adminRoutes } from './admin.mjs';
import { createRequest, originCheck, withSecurityHeaders, writeResponse } from './astro.mjs';
import { bare, isBare } from './http.mjs';
import { appShell, notFoundPage } from './pages.mjs';
import { platformRoutes } from './platform.mjs';
import { opsRoutes } from './routes.mjs';
import { handleTestRoute } from './testroutes.mjs';
import { createRouter, TRPC_ENDPOINT, trpcRoute } from './trpc.mjs';

const pages = { '/': 'Nanopore Tracking', '/nanopore': 'Nanopore Sample Tracking' };

// normalizePath applies Astro's default trailingSlash "ignore".
function normalizePath(pathname) {
  return pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
}

/**
 * appendRequestLog appends one JSON line for a received request. It is
 * synchronous and runs before anything else, so a test that reads the log
 * after its request sees every request that reached the stand-in.
 */
export function appendRequestLog(file, req) {
  const line = { method: req.method, url: req.url, headers: req.headers, ts: new Date().toISOString() };
  appendFileSync(file, `${JSON.stringify(line)}\n`);
}

/**
 * createApp returns the node request handler. Options: pool, service
 * (SampleService), requestLog (file or null), testRoutes (boolean).
 */
export function createApp({ pool, service, requestLog = null, testRoutes = false }) {
  const trpc = trpcRoute(createRouter(service));
  const routes = { ...opsRoutes, ...adminRoutes, ...platformRoutes };
  const ctx = {
    pool,
    service,
    admin: new AdminStore(),
    stats: { requests: 0, startedAt: new Date().toISOString() },
  };

  async function route(request, url) {
    const path = normalizePath(url.pathname);
    if (path === TRPC_ENDPOINT || path.startsWith(`${TRPC_ENDPOINT}/`)) return trpc(request);
    if (Object.hasOwn(pages, path)) return appShell(pages[path]);
    const methods = Object.hasOwn(routes, path) ? routes[path] : {};
    const handler = methods[request.method] ?? (request.method === 'HEAD' ? methods.GET : undefined);
    if (!handler) return notFoundPage(url.pathname);
    return handler(request, url, ctx);
  }

  async function respond(req) {
    const request = createRequest(req);
    const forbidden = originCheck(request);
    if (forbidden) return bare(forbidden);
    let response;
    try {
      response = await route(request, new URL(request.url));
    } catch (err) {
      console.error(`legacy stand-in: ${req.method} ${req.url} failed: ${err.stack ?? err}`);
      return bare(new Response(null, { status: 500 }));
    }
    return isBare(response) ? response : withSecurityHeaders(response);
  }

  return async function handle(req, res) {
    if (requestLog) appendRequestLog(requestLog, req);
    ctx.stats.requests += 1;
    if (testRoutes && handleTestRoute(req, res, new URL(req.url, 'http://standin'))) return;
    try {
      await writeResponse(await respond(req), res);
    } catch (err) {
      console.error(`legacy stand-in: writing ${req.method} ${req.url} failed: ${err.message}`);
      res.destroy();
    }
  };
}
