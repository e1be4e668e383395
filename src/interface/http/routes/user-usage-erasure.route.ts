import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { EraseUserUsage } from '../../../application/use-cases/erase-user-usage';
import { userOf } from '../auth';
import { BEARER, errorResponses } from '../schemas/common';
import { UserUsageErased, UserUsageParams } from './user-usage-erasure.schemas';
import { access, type RouteContext } from './route-context';

export const userUsageErasureRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, context) => {
  const erase = context.container.resolve(EraseUserUsage);

  app.delete(
    '/v1/admin/users/:userId/usage',
    {
      onRequest: access(context, { role: 'admin' }),
      schema: {
        operationId: 'eraseUserUsage',
        tags: ['usage'],
        summary: 'Erase one user’s usage in the workspace (right to erasure)',
        description:
          'Deletes, in one transaction and in the caller’s workspace only, the user’s raw usage records, the request ids of those records, the user’s rows in every per-user rollup, and the user’s share of the per-model rollup. Afterwards every total and chart reads as if the user had never sent usage. Idempotent: erasing again returns zeros. A request id erased here is forgotten, so a later re-send of it is stored as a new record.',
        security: BEARER,
        params: UserUsageParams,
        response: { 200: UserUsageErased, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const erased = await erase.execute(userOf(request), request.params.userId);
      return {
        userId: erased.userId,
        deletedRecords: erased.deletedRecords,
        deletedRollupRows: erased.deletedRollupRows,
      };
    },
  );
};
