// The legacy tRPC router (contract sections 1 and 4) on the real
// @trpc/server 11.4.3: no data transformer, production error shapes (no
// stack), every procedure public. Input validation is zod's (schemas.mjs).
import { initTRPC } from '@trpc/server';
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { schemas } from './schemas.mjs';
import { brokenStepProcedure, toTRPCError } from './samples.mjs';

/** TRPC_ENDPOINT is where the Astro catch-all route mounts the tRPC handler. */
export const TRPC_ENDPOINT = '/api/trpc';

// isDev false is NODE_ENV=production: error shapes carry no data.stack.
const t = initTRPC.create({ isDev: false });

// guarded runs a procedure body the way the legacy procedures do: every error
// is caught and re-thrown through the app's error mapper.
function guarded(fn) {
  return async (opts) => {
    try {
      return await fn(opts);
    } catch (err) {
      throw toTRPCError(err);
    }
  };
}

// batchNullIsUndefined makes a batch entry whose input is null behave like a
// missing key (contract 1.3, OBSERVED: "null or missing key, both give
// undefined"). @trpc/server 11.4.3 alone would hand null to the parser; single
// calls keep the library behaviour. It runs before the input parser and keeps
// input parsing lazy: getRawInput is only called when the parser asks.
const batchNullIsUndefined = t.middleware((opts) => opts.next({
  getRawInput: async () => {
    const raw = await opts.getRawInput();
    return raw === null && opts.ctx.isBatchCall ? undefined : raw;
  },
}));

const procedure = t.procedure.use(batchNullIsUndefined);

function mutation(name, fn) {
  return procedure.input(schemas[name]).mutation(guarded(fn));
}

function query(name, fn) {
  return procedure.input(schemas[name]).query(guarded(fn));
}

/** createRouter builds the app router around one SampleService. */
export function createRouter(service) {
  const broken = () => brokenStepProcedure();
  return t.router({
    health: t.procedure.query(() => ({ status: 'ok', timestamp: new Date().toISOString() })),
    nanopore: t.router({
      getAll: t.procedure.query(guarded(() => service.getAll())),
      create: mutation('nanopore.create', ({ input }) => service.create(input)),
      update: mutation('nanopore.update', ({ input }) => service.update(input.id, input.data)),
      assign: mutation('nanopore.assign', ({ input }) =>
        service.assign(input.id, input.assignedTo, input.libraryPrepBy)),
      updateStatus: mutation('nanopore.updateStatus', ({ input }) =>
        service.updateStatus(input.id, input.status)),
      delete: mutation('nanopore.delete', ({ input }) => service.delete(input)),
      getProcessingSteps: query('nanopore.getProcessingSteps', broken),
      createDefaultProcessingSteps: mutation('nanopore.createDefaultProcessingSteps', broken),
      updateProcessingStep: mutation('nanopore.updateProcessingStep', broken),
      startProcessingStep: mutation('nanopore.startProcessingStep', broken),
      completeProcessingStep: mutation('nanopore.completeProcessingStep', broken),
    }),
  });
}

/** trpcRoute answers a fetch Request under /api/trpc, as the Astro ALL route does. */
export function trpcRoute(router) {
  return (request) => fetchRequestHandler({
    endpoint: TRPC_ENDPOINT,
    req: request,
    router,
    createContext: ({ info }) => ({ isBatchCall: info.isBatchCall }),
  });
}
