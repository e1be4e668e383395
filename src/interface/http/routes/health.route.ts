import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { CheckReadiness } from '../../../application/use-cases/check-readiness';
import { DatabaseUnavailableError } from '../../../domain/errors';
import { StringEnum } from '../schemas/common';
import type { RouteContext } from './route-context';

const Liveness = Type.Object({ status: Type.Literal('ok') });
const Readiness = Type.Object({
  status: StringEnum(['ready', 'not_ready']),
  problems: Type.Array(Type.String()),
});

export const healthRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, context) => {
  const readiness = context.container.resolve(CheckReadiness);

  app.get(
    '/health',
    {
      schema: {
        operationId: 'getHealth',
        tags: ['health'],
        summary: 'Liveness: the process is up',
        response: { 200: Liveness },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    {
      schema: {
        operationId: 'getReadiness',
        tags: ['health'],
        summary: 'Readiness: the database answers and every migration is applied',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (request, reply) => {
      const result = await readiness.execute();
      // probes and load balancers must see the current state, never a cached one
      reply.header('cache-control', 'no-store');
      if (!result.ready) reply.header('retry-after', String(new DatabaseUnavailableError().retryAfterSeconds));
      // the answer gives the generic reason; the driver's detail (address, user) is for the log
      for (const problem of result.problems) {
        request.log.warn({ detail: problem.detail }, `not ready: ${problem.reason}`);
      }
      return reply.status(result.ready ? 200 : 503).send({
        status: result.ready ? ('ready' as const) : ('not_ready' as const),
        problems: result.problems.map((problem) => problem.reason),
      });
    },
  );
};
