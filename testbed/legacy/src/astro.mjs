// What Astro 5.11's standalone Node adapter and middleware do around every
// route of the legacy app: node request -> fetch Request, the framework's
// origin check, the app's security-header middleware, and fetch Response ->
// node response streamed chunk by chunk (so answers without a known length
// go out with Transfer-Encoding: chunked).

// The security headers of contract 1.8, set by the app's global middleware
// on every response produced inside the app (not on the framework's 403).
export const SECURITY_HEADERS = Object.freeze({
  'content-security-policy': "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline' https://fonts.googleapis.com; img-src 'self' data: https:; connect-src 'self' ws: wss:; font-src 'self' https://fonts.gstatic.com; object-src 'none'; media-src 'self'; frame-src 'none'",
  'cross-origin-embedder-policy': 'unsafe-none',
  'cross-origin-opener-policy': 'same-origin-allow-popups',
  'cross-origin-resource-policy': 'same-site',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), gyroscope=(), magnetometer=(), accelerometer=(), payment=(), usb=()',
  'referrer-policy': 'strict-origin-when-cross-origin',
  server: '',
  'strict-transport-security': 'max-age=31536000; includeSubDomains; preload',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'DENY',
  'x-permitted-cross-domain-policies': 'none',
  'x-powered-by': '',
  'x-xss-protection': '1; mode=block',
});

/** withSecurityHeaders sets the security headers on a response, in place. */
export function withSecurityHeaders(response) {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    response.headers.set(name, value);
  }
  return response;
}

// firstForwarded returns the first comma-separated value of a header.
function firstForwarded(value) {
  return value?.toString().split(',').map((e) => e.trim())[0];
}

/**
 * requestUrl rebuilds the URL the way Astro 5.11's NodeApp.createRequest
 * does: protocol from X-Forwarded-Proto (else http), host from
 * X-Forwarded-Host (else Host), port from X-Forwarded-Port when the host has
 * none. Astro 5.11 trusts these headers without an allow-list; when they make
 * no valid URL, the plain Host header is used.
 */
export function requestUrl(req) {
  const protocol = firstForwarded(req.headers['x-forwarded-proto']) ?? 'http';
  const hostname = firstForwarded(req.headers['x-forwarded-host']) ?? req.headers.host;
  const port = firstForwarded(req.headers['x-forwarded-port']);
  const withPort = (h) => (typeof h === 'string' && /:\d+$/.test(h) ? h : `${h}${port ? `:${port}` : ''}`);
  try {
    return new URL(`${protocol}://${withPort(hostname)}${req.url}`);
  } catch {
    return new URL(`http://${req.headers.host ?? 'localhost'}${req.url}`);
  }
}

/** createRequest converts a node request to a fetch Request with a streamed body. */
export function createRequest(req) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) headers.append(name, item);
  }
  const method = req.method || 'GET';
  const init = { method, headers };
  if (method !== 'GET' && method !== 'HEAD') {
    init.body = req;
    init.duplex = 'half';
  }
  return new Request(requestUrl(req), init);
}

const FORM_CONTENT_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];
const SAFE_METHODS = ['GET', 'HEAD', 'OPTIONS'];

/**
 * originCheck is Astro's createOriginCheckMiddleware: any method but GET,
 * HEAD and OPTIONS, whose content type is missing or form-like (a
 * lower-cased substring match), is refused unless its Origin equals the
 * request URL's origin. It returns the 403 Response, or null to go on.
 */
export function originCheck(request) {
  if (SAFE_METHODS.includes(request.method)) return null;
  const sameOrigin = request.headers.get('origin') === new URL(request.url).origin;
  const contentType = request.headers.get('content-type');
  const formLike = contentType === null
    || FORM_CONTENT_TYPES.some((t) => contentType.toLowerCase().includes(t));
  if (formLike && !sameOrigin) {
    return new Response(`Cross-site ${request.method} form submissions are forbidden`, { status: 403 });
  }
  return null;
}

// outgoingHeaders turns fetch Headers into node's header object, keeping
// repeated Set-Cookie headers apart.
function outgoingHeaders(headers) {
  const out = {};
  for (const [name, value] of headers) {
    if (name !== 'set-cookie') out[name] = value;
  }
  const cookies = headers.getSetCookie();
  if (cookies.length > 0) out['set-cookie'] = cookies;
  return out;
}

/**
 * writeResponse streams a fetch Response into a node response the way
 * Astro's NodeApp.writeResponse does: status and headers first, then every
 * body chunk as it comes, then end.
 */
export async function writeResponse(response, res) {
  res.writeHead(response.status, outgoingHeaders(response.headers));
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  res.on('close', () => {
    reader.cancel().catch(() => {});
  });
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      res.write(r.value);
    }
    res.end();
  } catch (err) {
    res.write('Internal server error', () => res.destroy(err instanceof Error ? err : undefined));
  }
}
