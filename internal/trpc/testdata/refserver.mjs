// refserver serves a small router with the REAL @trpc/server 11.4.3 fetch
// adapter (from testbed/legacy/node_modules) and the stand-in's zod schemas,
// so that the Go Router can be compared with tRPC itself. Like the stand-in
// (testbed/legacy/src/trpc.mjs) it turns a batch member that is null into
// undefined before the input parser, as contract 1.3 [OBSERVED] has the
// legacy app do. No Astro layer: the Go test only compares requests that
// pass Astro's origin check. It prints "listening PORT" once ready.
import http from 'node:http';

const legacy = new URL('../../../testbed/legacy/', import.meta.url);
const { initTRPC, TRPCError } = await import(new URL('node_modules/@trpc/server/dist/index.mjs', legacy));
const { fetchRequestHandler } = await import(new URL('node_modules/@trpc/server/dist/adapters/fetch/index.mjs', legacy));
const { schemas } = await import(new URL('src/schemas.mjs', legacy));

const t = initTRPC.create({ isDev: false });
// The stand-in's batchNullIsUndefined, verbatim: lazy, batch calls only.
const batchNullIsUndefined = t.middleware((opts) => opts.next({
  getRawInput: async () => {
    const raw = await opts.getRawInput();
    return raw === null && opts.ctx.isBatchCall ? undefined : raw;
  },
}));
const procedure = t.procedure.use(batchNullIsUndefined);
const echo = ({ input }) => input ?? null;
const nanopore = {
  getAll: t.procedure.query(() => [{ id: 1, name: 'a<b>&\u2028' }]),
};
for (const [name, schema] of Object.entries(schemas)) {
  const key = name.replace('nanopore.', '');
  const kind = ['getProcessingSteps'].includes(key) ? 'query' : 'mutation';
  nanopore[key] = procedure.input(schema)[kind](echo);
}
const router = t.router({
  health: t.procedure.query(() => ({ status: 'ok' })),
  nothing: t.procedure.query(() => undefined),
  nanopore: t.router(nanopore),
  fail: t.router({
    plain: t.procedure.mutation(() => { throw new Error('Sample not found'); }),
    coded: t.procedure.mutation(() => { throw new TRPCError({ code: 'NOT_FOUND', message: "Sample with ID 'x' not found" }); }),
    conflict: t.procedure.query(() => { throw new TRPCError({ code: 'CONFLICT', message: 'taken' }); }),
  }),
});

const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  const hasBody = !['GET', 'HEAD'].includes(req.method);
  const request = new Request(new URL(req.url, 'http://' + req.headers.host), {
    method: req.method, headers, body: hasBody ? Buffer.concat(chunks) : undefined, duplex: 'half',
  });
  const response = await fetchRequestHandler({
    endpoint: '/api/trpc', req: request, router, createContext: ({ info }) => ({ isBatchCall: info.isBatchCall }),
  });
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
