import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { GetQuota, type Quota as QuotaModel } from '../../../application/use-cases/get-quota';
import { ReserveQuota } from '../../../application/use-cases/reserve-quota';
import { Decimal } from '../../../domain/decimal';
import { principalOf, userOf } from '../auth';
import { BEARER, BEARER_OR_API_KEY, errorResponses } from '../schemas/common';
import { access, costVisible, type RouteContext } from './route-context';
import {
  Quota,
  ReservationBody,
  ReservationConflict,
  ReservationGranted,
  ReservationParams,
  UserQuotaParams,
} from './quota.schemas';

const TAGS = ['quota'];

export const quotaRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, context) => {
  const quotas = context.container.resolve(GetQuota);
  const reservations = context.container.resolve(ReserveQuota);
  const showCost = costVisible(context);
  const toJson = (quota: QuotaModel) => ({
    plan: quota.plan,
    limitType: quota.limitType,
    periodStart: quota.periodStart.toISOString(),
    resetsAt: quota.resetsAt.toISOString(),
    status: quota.status,
    tokens: quota.tokens,
    ...(showCost
      ? {
          cost: {
            limit: quota.cost.limit?.toString() ?? null,
            used: quota.cost.used.toString(),
            reserved: quota.cost.reserved.toString(),
            remaining: quota.cost.remaining?.toString() ?? null,
            usagePercentage: quota.cost.usagePercentage,
          },
        }
      : {}),
  });

  app.get(
    '/v1/me/quota',
    {
      onRequest: access(context, {}),
      schema: {
        operationId: 'getMyQuota',
        tags: TAGS,
        summary: 'The caller’s plan, limits and usage in the current period',
        security: BEARER,
        response: { 200: Type.Ref(Quota), ...errorResponses(401, 429) },
      },
    },
    async (request) => {
      const user = userOf(request);
      return toJson(await quotas.execute(user.workspaceId, user.userId));
    },
  );

  app.get(
    '/v1/admin/users/:userId/quota',
    {
      onRequest: access(context, { role: 'admin' }),
      schema: {
        operationId: 'getUserQuota',
        tags: TAGS,
        summary: 'A user’s plan, limits and usage in the current period',
        security: BEARER,
        params: UserQuotaParams,
        response: { 200: Type.Ref(Quota), ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => toJson(await quotas.execute(userOf(request).workspaceId, request.params.userId)),
  );

  app.post(
    '/v1/quota/reservations',
    {
      onRequest: access(context, { apiKey: true }),
      schema: {
        operationId: 'createReservation',
        tags: TAGS,
        summary:
          'Before a call: hold its estimated tokens (and cost) if the user’s limits allow; its usage record settles it',
        description:
          'Atomic across any number of instances. Idempotent on requestId: a retry returns the same reservation ' +
          'while it holds. Refused with 429 quota_exceeded (or rate_limited for the plan’s requestsPerMinute) and ' +
          'Retry-After. 409 reservation_ended when the requestId’s reservation was released, expired or settled ' +
          '(a new call needs a new requestId); 409 conflict when the requestId is another user’s.',
        security: BEARER_OR_API_KEY,
        body: ReservationBody,
        response: {
          200: Type.Ref(ReservationGranted, { description: 'The reservation made before for this requestId' }),
          201: Type.Ref(ReservationGranted, { description: 'Reserved' }),
          ...errorResponses(400, 401, 403, 409, 429),
          409: ReservationConflict,
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const granted = await reservations.reserve(principalOf(request), {
        ...body,
        estimatedCost: body.estimatedCost === undefined ? undefined : Decimal.parse(body.estimatedCost),
      });
      const { tokenLimit, usage } = granted.view;
      return reply.status(granted.created ? 201 : 200).send({
        allowed: true,
        reservationId: granted.reservation.id,
        expiresAt: granted.reservation.expiresAt.toISOString(),
        overLimit: granted.reservation.overLimit,
        tokens: {
          limit: tokenLimit,
          used: usage.usedTokens,
          reserved: usage.reservedTokens,
          remaining: tokenLimit === null ? null : Math.max(0, tokenLimit - usage.usedTokens - usage.reservedTokens),
        },
      });
    },
  );

  app.delete(
    '/v1/quota/reservations/:reservationId',
    {
      onRequest: access(context, { apiKey: true }),
      schema: {
        operationId: 'releaseReservation',
        tags: TAGS,
        summary: 'The call failed: release its reservation so it stops holding budget',
        security: BEARER_OR_API_KEY,
        params: ReservationParams,
        response: { 204: Type.Null({ description: 'Released' }), ...errorResponses(400, 401, 404, 409, 429) },
      },
    },
    async (request, reply) => {
      await reservations.release(principalOf(request), request.params.reservationId);
      return reply.status(204).send(null);
    },
  );
};
