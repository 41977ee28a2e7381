// TEST-ONLY ROUTES. Not part of the legacy app: they exist for the proxy's
// streaming, forwarding and passthrough tests, live under /__standin/ and
// are served only when the stand-in runs with --test-routes. They work on
// the raw node request/response (no Astro pipeline, no security headers, no
// origin check) so that nothing is buffered on the way.
import { createHash } from 'node:crypto';
import { WebSocketServer } from 'ws';

/** TEST_PREFIX is the path prefix of every test-only route. */
export const TEST_PREFIX = '/__standin/';

const CHUNK = 64 * 1024;

/** patternByte is byte i of every download: a fixed, easily checked pattern. */
export function patternByte(i) {
  return (i * 31 + 7) & 0xff;
}

function intParam(url, name, fallback) {
  const n = Number(url.searchParams.get(name) ?? fallback);
  return Number.isFinite(n) && n >= 0 ? Math.floor(n) : fallback;
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

// download streams N pattern bytes in 64 KiB chunks, honouring backpressure.
function download(req, res, url) {
  const total = intParam(url, 'bytes', 0);
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const n = Math.min(CHUNK, total - sent);
      const buf = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) buf[i] = patternByte(sent + i);
      sent += n;
      if (!res.write(buf)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  res.on('close', () => { sent = total; });
  pump();
}

// upload hashes the body as it arrives and never holds more than one chunk.
function upload(req, res) {
  const hash = createHash('sha256');
  let bytes = 0;
  req.on('data', (chunk) => {
    bytes += chunk.length;
    hash.update(chunk);
  });
  req.on('end', () => sendJson(res, 200, { bytes, sha256: hash.digest('hex') }));
  req.on('error', () => res.destroy());
}

// sse sends n events, each flushed on its own, interval_ms apart.
function sse(req, res, url) {
  const n = intParam(url, 'n', 3);
  const interval = intParam(url, 'interval_ms', 100);
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.flushHeaders();
  let i = 0;
  let timer = null;
  const next = () => {
    if (i >= n) {
      res.end();
      return;
    }
    res.write(`id: ${i}\nevent: tick\ndata: {"i":${i}}\n\n`);
    i += 1;
    timer = setTimeout(next, interval);
  };
  res.on('close', () => clearTimeout(timer));
  next();
}

// slow answers after ms milliseconds; with hang=1 it never answers.
function slow(req, res, url) {
  if (url.searchParams.get('hang') === '1') {
    req.resume();
    return;
  }
  const ms = intParam(url, 'ms', 1000);
  const timer = setTimeout(() => sendJson(res, 200, { slept_ms: ms }), ms);
  res.on('close', () => clearTimeout(timer));
}

function headers(req, res) {
  sendJson(res, 200, {
    method: req.method,
    url: req.url,
    httpVersion: req.httpVersion,
    headers: req.headers,
    rawHeaders: req.rawHeaders,
  });
}

// cookie sets two cookies and redirects to the header echo.
function cookie(req, res, url) {
  const name = url.searchParams.get('name') ?? 'standin';
  const value = url.searchParams.get('value') ?? '1';
  res.writeHead(302, {
    location: `${TEST_PREFIX}headers`,
    'set-cookie': [`${name}=${value}; Path=/; HttpOnly; SameSite=Lax`, 'standin_second=2; Path=/'],
    'content-type': 'text/plain',
  });
  res.end('Found');
}

const handlers = {
  GET: { download, sse, slow, headers, cookie },
  POST: { upload, headers },
};

/** handleTestRoute serves a /__standin/ request; it returns false if it is none of them. */
export function handleTestRoute(req, res, url) {
  if (!url.pathname.startsWith(TEST_PREFIX)) return false;
  const name = url.pathname.slice(TEST_PREFIX.length);
  const handler = handlers[req.method]?.[name] ?? (req.method === 'HEAD' ? handlers.GET[name] : undefined);
  if (!handler) {
    sendJson(res, 404, { error: `no test route ${req.method} ${url.pathname}` });
    return true;
  }
  handler(req, res, url);
  return true;
}

/**
 * attachWebSocketEcho serves the WebSocket echo at /__standin/ws: every
 * message comes back as it was sent (text stays text, binary stays binary).
 * Other upgrade requests are refused with 404.
 */
export function attachWebSocketEcho(server) {
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  server.on('upgrade', (req, socket, head) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== `${TEST_PREFIX}ws`) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  return wss;
}
