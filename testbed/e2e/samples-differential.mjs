#!/usr/bin/env node
// samples-differential runs the differential scenario of issue 4
// (samples-scenario.mjs) against one legacy-compatible tRPC API and prints
// its RAW transcript as JSON on stdout: every wire exchange (status, headers,
// body text) and, for calls made through the real @trpc/client, what the
// client returned. The Go test (cmd/strangler/samples_diff_test.go) runs it
// against the legacy stand-in and against the proxy with every sample route
// in new mode, then maps ids, masks timestamps and compares.
//
//   node testbed/e2e/samples-differential.mjs --url http://127.0.0.1:3001 [--token T]
//
// --token adds X-Strangler-Token to every request, so that the proxy tells
// which side answered (x-strangler-target is then kept in the transcript).
// Exit code: 0 when the scenario ran (errors are part of the transcript), 1
// on anything else, 2 on a bad command line.
import http from 'node:http';
import { parseArgs } from 'node:util';
import { createTRPCUntypedClient, httpBatchLink, httpLink, TRPCClientError } from '@trpc/client';
import { runScenario } from './samples-scenario.mjs';

// Headers that are per connection or per run; they are not recorded.
const VOLATILE_HEADERS = new Set(['date', 'connection', 'keep-alive', 'x-request-id']);

function parseCommandLine() {
  const { values } = parseArgs({ options: { url: { type: 'string' }, token: { type: 'string' } }, strict: true });
  if (!values.url) {
    console.error('usage: node samples-differential.mjs --url BASE_URL [--token ADMIN_TOKEN]');
    process.exit(2);
  }
  return { base: values.url.replace(/\/+$/, ''), token: values.token };
}

function recordHeaders(raw) {
  const out = {};
  for (const [k, v] of Object.entries(raw)) {
    if (!VOLATILE_HEADERS.has(k)) out[k] = Array.isArray(v) ? v.join('\n') : String(v);
  }
  return out;
}

/**
 * Recorder runs the scenario's steps against one base URL and keeps the raw
 * transcript: one element per step, in order.
 */
class Recorder {
  constructor({ base, token }) {
    this.base = base;
    this.origin = new URL(base).origin;
    this.token = token;
    this.steps = [];
    this.exchanges = null; // the running step's wire exchanges
    const url = `${base}/api/trpc`;
    const opts = { url, fetch: (u, init) => this.fetch(u, init), headers: () => this.extraHeaders() };
    this.clients = {
      httpLink: createTRPCUntypedClient({ links: [httpLink(opts)] }),
      httpBatchLink: createTRPCUntypedClient({ links: [httpBatchLink(opts)] }),
    };
    this.agent = new http.Agent({ keepAlive: true });
  }

  extraHeaders() {
    return this.token ? { 'x-strangler-token': this.token } : {};
  }

  // fetch is the clients' fetch: it records the exchange as sent and answered.
  async fetch(url, init = {}) {
    const res = await globalThis.fetch(url, init);
    const body = await res.clone().text();
    const u = new URL(url);
    this.exchanges.push({
      method: init.method ?? 'GET',
      target: u.pathname + u.search,
      reqBody: typeof init.body === 'string' ? init.body : null,
      status: res.status,
      headers: recordHeaders(Object.fromEntries(res.headers)),
      body,
    });
    return res;
  }

  /**
   * client runs calls ([type, path, input, fix]) at once on one link: with
   * httpBatchLink calls of one type made together travel in one request.
   * fix names the declared fix a call exercises (null: must be identical).
   */
  async client(step, link, calls) {
    this.exchanges = [];
    const c = this.clients[link];
    const settled = await Promise.allSettled(calls.map(([type, path, input]) => (
      type === 'query' ? c.query(path, input) : c.mutation(path, input))));
    const outcomes = settled.map((s) => (s.status === 'fulfilled' ? { ok: true, data: s.value } : outcomeOfError(s.reason)));
    this.push(step, link, calls.map(([type, path, input, fix]) => ({ type, path, input, fix: fix ?? null })), outcomes);
    return outcomes;
  }

  /**
   * raw sends one HTTP request exactly as given (node:http adds only Host,
   * Connection and Content-Length). req: {method, target, headers, body};
   * fixes: the declared fix of each procedure listed in the target, in order.
   * The token header is added when set; {origin} in a header value is this
   * server's own origin.
   */
  async raw(step, req, fixes = []) {
    this.exchanges = [];
    const headers = { ...this.extraHeaders() };
    for (const [k, v] of Object.entries(req.headers ?? {})) headers[k] = v.replaceAll('{origin}', this.origin);
    const ex = await this.send(req.method, req.target, headers, req.body);
    this.exchanges.push(ex);
    const names = procedureNames(req.target);
    this.push(step, 'raw', names.map((path, i) => ({ type: null, path, input: null, fix: fixes[i] ?? null })), null);
    return ex;
  }

  send(method, target, headers, body) {
    return new Promise((resolve, reject) => {
      const u = new URL(this.base);
      const opts = { host: u.hostname, port: u.port, method, path: target, headers: { ...headers }, agent: this.agent };
      if (body !== undefined) opts.headers['content-length'] = Buffer.byteLength(body);
      const req = http.request(opts, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({
          method, target, reqBody: body ?? null, status: res.statusCode,
          headers: recordHeaders(res.headers), body: Buffer.concat(chunks).toString('utf8'),
        }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  push(step, via, calls, outcomes) {
    if (this.steps.some((s) => s.step === step)) throw new Error(`duplicate step name ${step}`);
    this.steps.push({ step, via, calls, outcomes, exchanges: this.exchanges });
    this.exchanges = null;
  }
}

// procedureNames lists the procedures of a tRPC target, as written.
function procedureNames(target) {
  const path = target.split('?')[0];
  const rest = path.startsWith('/api/trpc') ? path.slice('/api/trpc'.length).replace(/^\/|\/$/g, '') : '';
  return rest.split(',').map((n) => decodeURIComponent(n));
}

// outcomeOfError records a tRPC error as the client saw it.
function outcomeOfError(err) {
  if (!(err instanceof TRPCClientError) || !err.shape) {
    return { ok: false, nonTRPC: String(err?.message ?? err) };
  }
  const data = err.data ?? {};
  return { ok: false, error: { message: err.message, code: data.code ?? null, httpStatus: data.httpStatus ?? null, path: data.path ?? null } };
}

async function main() {
  const recorder = new Recorder(parseCommandLine());
  await runScenario(recorder);
  process.stdout.write(`${JSON.stringify(recorder.steps)}\n`);
}

main().catch((err) => {
  console.error(`samples-differential: ${err.stack ?? err}`);
  process.exit(1);
});
