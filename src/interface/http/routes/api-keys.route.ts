import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ApiKeyInfo } from '../../../application/ports/api-key-store.port';
import { ManageApiKeys } from '../../../application/use-cases/manage-api-keys';
import { userOf } from '../auth';
import { BEARER, errorResponses } from '../schemas/common';
import { ApiKeyList, ApiKeyParams, CreateApiKeyBody, CreatedApiKey } from './api-keys.schemas';
import { access, type RouteContext } from './route-context';

function toApiKey(info: ApiKeyInfo) {
  return {
    id: info.id,
    name: info.name,
    prefix: info.prefix,
    createdBy: info.createdBy,
    createdAt: info.createdAt.toISOString(),
    lastUsedAt: info.lastUsedAt?.toISOString() ?? null,
    revokedAt: info.revokedAt?.toISOString() ?? null,
  };
}

export const apiKeyRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, context) => {
  const keys = context.container.resolve(ManageApiKeys);
  const adminOnly = access(context, { role: 'admin' });

  app.post(
    '/v1/admin/api-keys',
    {
      onRequest: adminOnly,
      schema: {
        operationId: 'createApiKey',
        tags: ['api-keys'],
        summary: 'Create an API key for ingesting from a backend; the secret is returned once',
        security: BEARER,
        body: CreateApiKeyBody,
        response: { 201: CreatedApiKey, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      const user = userOf(request);
      const created = await keys.create(user.workspaceId, request.body.name, user.userId);
      return reply.status(201).send({ key: created.key, apiKey: toApiKey(created.info) });
    },
  );

  app.get(
    '/v1/admin/api-keys',
    {
      onRequest: adminOnly,
      schema: {
        operationId: 'listApiKeys',
        tags: ['api-keys'],
        summary: 'List the workspace’s API keys, without secrets',
        security: BEARER,
        response: { 200: ApiKeyList, ...errorResponses(401, 403, 429) },
      },
    },
    async (request) => ({ items: (await keys.list(userOf(request).workspaceId)).map(toApiKey) }),
  );

  app.delete(
    '/v1/admin/api-keys/:id',
    {
      onRequest: adminOnly,
      schema: {
        operationId: 'revokeApiKey',
        tags: ['api-keys'],
        summary: 'Revoke an API key; it stops working at once',
        security: BEARER,
        params: ApiKeyParams,
        response: { 204: Type.Null({ description: 'Revoked' }), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      await keys.revoke(userOf(request).workspaceId, request.params.id);
      return reply.status(204).send(null);
    },
  );
};
