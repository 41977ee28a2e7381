// Small helpers shared by the plain (non-tRPC) API routes of the stand-in.

/** NO_CACHE is the cache-control value of the monitoring-style routes. */
export const NO_CACHE = 'no-cache, no-store, must-revalidate';

/**
 * json answers with compact JSON and `content-type: application/json` (no
 * charset), as the legacy Astro API routes do. `indent` pretty-prints.
 */
export function json(body, status = 200, headers = {}, indent = undefined) {
  return new Response(JSON.stringify(body, null, indent), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/**
 * readJsonBody reads a POST body as JSON the way the legacy handlers do,
 * before any session check; it returns `{ ok: false }` on an empty or
 * malformed body (the caller answers 500).
 */
export async function readJsonBody(request) {
  try {
    return { ok: true, body: await request.json() };
  } catch {
    return { ok: false };
  }
}

/** internalError is the body the admin routes answer when a handler throws. */
export function internalError() {
  return json({ success: false, error: 'Internal server error' }, 500);
}

/** memoryReport is a volatile memory description used by several routes. */
export function memoryReport() {
  const m = process.memoryUsage();
  return {
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    rss: m.rss,
    external: m.external,
    percentage: Math.round((m.heapUsed / m.heapTotal) * 10000) / 100,
  };
}

const bareResponses = new WeakSet();

/**
 * bare marks a response that the app's middleware never got to decorate
 * (the framework's 403, a route that crashed): it goes out without the
 * security headers.
 */
export function bare(response) {
  bareResponses.add(response);
  return response;
}

/** isBare reports whether bare marked the response. */
export function isBare(response) {
  return bareResponses.has(response);
}
