import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ManageWebhooks } from '../../../application/use-cases/manage-webhooks';
import type { WebhookDelivery, WebhookEndpoint } from '../../../domain/webhook';
import { userOf } from '../auth';
import { BEARER, errorResponses } from '../schemas/common';
import { access, type RouteContext } from './route-context';
import {
  CreatedWebhook,
  CreateWebhookBody,
  DeliveriesQuery,
  QueuedTestEvent,
  TestWebhookBody,
  WebhookDeliveryList,
  WebhookList,
  WebhookParams,
} from './webhooks.schemas';

function toWebhook(endpoint: WebhookEndpoint) {
  return {
    id: endpoint.id,
    url: endpoint.url,
    events: endpoint.events,
    description: endpoint.description,
    disabledAt: endpoint.disabledAt?.toISOString() ?? null,
    createdAt: endpoint.createdAt.toISOString(),
  };
}

function toDelivery(delivery: WebhookDelivery) {
  return {
    eventId: delivery.eventId,
    type: delivery.type,
    createdAt: delivery.createdAt.toISOString(),
    status: delivery.status,
    attempts: delivery.attempts.map((a) => ({ ...a, attemptedAt: a.attemptedAt.toISOString() })),
    nextAttemptAt: delivery.nextAttemptAt?.toISOString() ?? null,
  };
}

export const webhookRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, context) => {
  const webhooks = context.container.resolve(ManageWebhooks);
  const adminOnly = access(context, { role: 'admin' });

  app.post(
    '/v1/admin/webhooks',
    {
      onRequest: adminOnly,
      schema: {
        operationId: 'createWebhook',
        tags: ['webhooks'],
        summary: 'Register a webhook endpoint; its signing secret is returned once',
        security: BEARER,
        body: CreateWebhookBody,
        response: { 201: CreatedWebhook, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      const created = await webhooks.create(userOf(request).workspaceId, request.body);
      return reply.status(201).send({ secret: created.secret, webhook: toWebhook(created.endpoint) });
    },
  );

  app.get(
    '/v1/admin/webhooks',
    {
      onRequest: adminOnly,
      schema: {
        operationId: 'listWebhooks',
        tags: ['webhooks'],
        summary: 'List the workspace’s webhook endpoints, without secrets',
        security: BEARER,
        response: { 200: WebhookList, ...errorResponses(401, 403, 429) },
      },
    },
    async (request) => ({ items: (await webhooks.list(userOf(request).workspaceId)).map(toWebhook) }),
  );

  app.delete(
    '/v1/admin/webhooks/:webhookId',
    {
      onRequest: adminOnly,
      schema: {
        operationId: 'deleteWebhook',
        tags: ['webhooks'],
        summary: 'Remove a webhook endpoint with its deliveries; nothing more is sent to it',
        security: BEARER,
        params: WebhookParams,
        response: { 204: Type.Null({ description: 'Removed' }), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      await webhooks.remove(userOf(request).workspaceId, request.params.webhookId);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/v1/admin/webhooks/:webhookId/test',
    {
      onRequest: adminOnly,
      // every field is optional: a request without a body (`curl -X POST`) is read as {}
      preValidation: async (request) => {
        if (request.body === undefined) request.body = {};
      },
      schema: {
        operationId: 'testWebhook',
        tags: ['webhooks'],
        summary: 'Queue a webhook.test event to this endpoint only',
        security: BEARER,
        params: WebhookParams,
        body: TestWebhookBody,
        response: { 202: QueuedTestEvent, ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request, reply) => {
      const user = userOf(request);
      const { webhookId } = request.params;
      const eventId = await webhooks.sendTest(user.workspaceId, webhookId, user.userId, request.body.message);
      return reply.status(202).send({ eventId });
    },
  );

  app.get(
    '/v1/admin/webhooks/:webhookId/deliveries',
    {
      onRequest: adminOnly,
      schema: {
        operationId: 'listWebhookDeliveries',
        tags: ['webhooks'],
        summary: 'The endpoint’s deliveries, newest first, with every attempt',
        security: BEARER,
        params: WebhookParams,
        querystring: DeliveriesQuery,
        response: { 200: WebhookDeliveryList, ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => {
      const { workspaceId } = userOf(request);
      const items = await webhooks.deliveries(workspaceId, request.params.webhookId, request.query.limit);
      return { items: items.map(toDelivery) };
    },
  );
};
