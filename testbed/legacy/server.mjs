#!/usr/bin/env node
// Legacy stand-in: a small Node.js app that answers like the legacy Nanopore
// Tracking App (Astro 5 + tRPC 11 + PostgreSQL), defects included, for the
// strangler proxy's tests. See README.md beside this file.
//
// usage: node server.mjs --port PORT --database-url URL [--host 127.0.0.1]
//          [--getall-ttl SECONDS] [--request-log FILE] [--test-routes]
import { createServer } from 'node:http';
import { appendRequestLog, createApp } from './src/app.mjs';
import { parseCommandLine } from './src/args.mjs';
import { createPool, setupSchema } from './src/db.mjs';
import { SampleService } from './src/samples.mjs';
import { attachWebSocketEcho } from './src/testroutes.mjs';

async function main() {
  let options;
  try {
    options = parseCommandLine(process.argv.slice(2));
  } catch (err) {
    console.error(err.message);
    process.exit(2);
  }
  const pool = createPool(options.databaseUrl);
  await setupSchema(pool);
  const service = new SampleService({ pool, getAllTtlMs: options.getAllTtlMs });
  const server = createServer(createApp({
    pool, service, requestLog: options.requestLog, testRoutes: options.testRoutes,
  }));
  if (options.testRoutes) {
    if (options.requestLog) server.on('upgrade', (req) => appendRequestLog(options.requestLog, req));
    attachWebSocketEcho(server);
  }
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const { address, port } = server.address();
  const host = address.includes(':') ? `[${address}]` : address;
  console.log(`legacy stand-in listening on http://${host}:${port}`);

  // Unlike the legacy app (contract 10), the stand-in exits on SIGTERM/SIGINT.
  const stop = () => {
    server.close();
    server.closeAllConnections();
    pool.end().catch(() => {}).finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => {
  console.error(`legacy stand-in: ${err.stack ?? err}`);
  process.exit(1);
});
