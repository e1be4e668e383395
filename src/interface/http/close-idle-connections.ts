import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/**
 * While the app closes, every connection is closed as soon as it is idle. Node closes the idle
 * ones once, when closing starts; a keep-alive connection busy at that moment (a stream, an
 * ingest batch) stayed open after its last response until its client let it go — up to the
 * 72 s keep-alive fastify announces — and held the shutdown (Ctrl-C, a rolling restart) that long.
 *
 * A connection a client opened ahead and has sent nothing on (HTTP clients keep spares) is not
 * idle to Node, which waits for its request headers: such a connection held a shutdown ~70 s.
 * Closing, it is closed too; one whose request has begun to arrive is left to finish.
 */
export function closeConnectionsOnceIdle(app: FastifyInstance, everyMs = 50): void {
  const unused = new Set<Socket>();
  app.server.on('connection', (socket: Socket) => {
    unused.add(socket);
    socket.once('close', () => unused.delete(socket));
  });
  app.server.on('request', (request: { socket: Socket }) => unused.delete(request.socket));

  let timer: NodeJS.Timeout | undefined;
  app.addHook('preClose', async () => {
    timer = setInterval(() => {
      app.server.closeIdleConnections();
      for (const socket of unused) if (socket.bytesRead === 0) socket.destroy();
    }, everyMs);
  });
  app.addHook('onClose', async () => clearInterval(timer));
}
