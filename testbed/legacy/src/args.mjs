// Command-line parsing of the stand-in (no dependency: node:util parseArgs).
import { parseArgs } from 'node:util';

const usage = `usage: node testbed/legacy/server.mjs --port PORT --database-url URL
  [--host 127.0.0.1] [--getall-ttl SECONDS] [--request-log FILE] [--test-routes]`;

/**
 * parseCommandLine turns argv into the stand-in options, or throws an Error
 * whose message includes the usage text.
 */
export function parseCommandLine(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        'database-url': { type: 'string' },
        'getall-ttl': { type: 'string', default: '300' },
        'request-log': { type: 'string' },
        'test-routes': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    throw new Error(`${err.message}\n${usage}`);
  }
  if (values.help) {
    throw new Error(usage);
  }
  const port = Number(values.port);
  if (values.port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be an integer between 0 and 65535\n${usage}`);
  }
  const databaseUrl = values['database-url'] ?? process.env.DATABASE_URL;
  if (!databaseUrl) {
    throw new Error(`--database-url is required\n${usage}`);
  }
  const ttl = Number(values['getall-ttl']);
  if (!Number.isFinite(ttl) || ttl < 0) {
    throw new Error(`--getall-ttl must be a number of seconds >= 0\n${usage}`);
  }
  return {
    port,
    host: values.host,
    databaseUrl,
    getAllTtlMs: ttl * 1000,
    requestLog: values['request-log'] ?? null,
    testRoutes: values['test-routes'],
  };
}
