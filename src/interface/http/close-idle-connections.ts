import type { FastifyInstance } from 'fastify';

/**
 * While the app closes, every connection is closed as soon as it is idle. Node closes the idle
 * ones once, when closing starts; a keep-alive connection busy at that moment (a stream, an
 * ingest batch) stayed open after its last response until its client let it go — up to the
 * 72 s keep-alive fastify announces — and held the shutdown (Ctrl-C, a rolling restart) that long.
 */
export function closeConnectionsOnceIdle(app: FastifyInstance, everyMs = 50): void {
  let timer: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    timer = setInterval(() => app.server.closeIdleConnections(), everyMs);
  });
  app.addHook('onClose', async () => clearInterval(timer));
}
