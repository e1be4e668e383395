import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ManagePlans, type PlanInput } from '../../../application/use-cases/manage-plans';
import { Decimal } from '../../../domain/decimal';
import type { Plan as PlanModel } from '../../../domain/plan';
import { userOf } from '../auth';
import { BEARER, errorResponses } from '../schemas/common';
import {
  AssignPlanBody,
  CreatePlanBody,
  Plan,
  PlanList,
  PlanParams,
  UpdatePlanBody,
  UserParams,
  UserPlan,
  WorkspaceSettings,
} from './plans.schemas';
import { access, costVisible, type RouteContext } from './route-context';

const TAGS = ['plans'];

/** undefined stays undefined (not sent), null stays null (unlimited), a string becomes exact. */
function costLimit(value: string | null | undefined): Decimal | null | undefined {
  return value === undefined || value === null ? value : Decimal.parse(value);
}

export const planRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, context) => {
  const plans = context.container.resolve(ManagePlans);
  const onRequest = access(context, { role: 'admin' });
  const showCost = costVisible(context);
  const toJson = (plan: PlanModel) => ({
    id: plan.id,
    name: plan.name,
    monthlyTokenLimit: plan.monthlyTokenLimit,
    ...(showCost ? { monthlyCostLimit: plan.monthlyCostLimit?.toString() ?? null } : {}),
    limitType: plan.limitType,
    alertThresholds: plan.alertThresholds,
    requestsPerMinute: plan.requestsPerMinute,
    isDefault: plan.isDefault,
  });
  const input = (body: { monthlyCostLimit?: string | null; [field: string]: unknown }): PlanInput => ({
    ...(body as PlanInput),
    monthlyCostLimit: costLimit(body.monthlyCostLimit),
  });

  app.get(
    '/v1/admin/plans',
    {
      onRequest,
      schema: {
        operationId: 'listPlans',
        tags: TAGS,
        summary: 'List the workspace’s plans (free, basic, pro and enterprise to start with)',
        security: BEARER,
        response: { 200: PlanList, ...errorResponses(401, 403, 429) },
      },
    },
    async (request) => ({ items: (await plans.list(userOf(request).workspaceId)).map(toJson) }),
  );

  app.post(
    '/v1/admin/plans',
    {
      onRequest,
      schema: {
        operationId: 'createPlan',
        tags: TAGS,
        summary: 'Create a plan; with isDefault it becomes the plan of every user without one',
        security: BEARER,
        body: CreatePlanBody,
        response: { 201: Type.Ref(Plan), ...errorResponses(400, 401, 403, 409, 429) },
      },
    },
    async (request, reply) => {
      const created = await plans.create(userOf(request).workspaceId, {
        ...input(request.body),
        name: request.body.name,
      });
      return reply.status(201).send(toJson(created));
    },
  );

  app.patch(
    '/v1/admin/plans/:planId',
    {
      onRequest,
      schema: {
        operationId: 'updatePlan',
        tags: TAGS,
        summary: 'Change a plan; its users’ quotas follow at once',
        security: BEARER,
        params: PlanParams,
        body: UpdatePlanBody,
        response: { 200: Type.Ref(Plan), ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request) =>
      toJson(await plans.update(userOf(request).workspaceId, request.params.planId, input(request.body))),
  );

  app.delete(
    '/v1/admin/plans/:planId',
    {
      onRequest,
      schema: {
        operationId: 'deletePlan',
        tags: TAGS,
        summary: 'Delete a plan; its users fall back to the default plan (which cannot be deleted)',
        security: BEARER,
        params: PlanParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(400, 401, 403, 404, 409, 429) },
      },
    },
    async (request, reply) => {
      await plans.remove(userOf(request).workspaceId, request.params.planId);
      return reply.status(204).send(null);
    },
  );

  app.put(
    '/v1/admin/users/:userId/plan',
    {
      onRequest,
      schema: {
        operationId: 'assignUserPlan',
        tags: TAGS,
        summary: 'Put a user on a plan, optionally with their own token or cost limit',
        security: BEARER,
        params: UserParams,
        body: AssignPlanBody,
        response: { 200: UserPlan, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const { planId, monthlyTokenLimit, monthlyCostLimit } = request.body;
      const plan = await plans.assign(userOf(request).workspaceId, request.params.userId, {
        planId,
        monthlyTokenLimit,
        monthlyCostLimit: costLimit(monthlyCostLimit),
      });
      return { userId: request.params.userId, plan: { id: plan.id, name: plan.name } };
    },
  );

  app.get(
    '/v1/admin/workspace',
    {
      onRequest,
      schema: {
        operationId: 'getWorkspaceSettings',
        tags: TAGS,
        summary: 'The workspace’s settings: the time zone of its quota periods',
        security: BEARER,
        response: { 200: WorkspaceSettings, ...errorResponses(401, 403, 429) },
      },
    },
    async (request) => ({ timeZone: await plans.timeZone(userOf(request).workspaceId) }),
  );

  app.put(
    '/v1/admin/workspace',
    {
      onRequest,
      schema: {
        operationId: 'updateWorkspaceSettings',
        tags: TAGS,
        summary: 'Set the time zone whose calendar months are the quota periods; the current period is recounted in it',
        security: BEARER,
        body: WorkspaceSettings,
        response: { 200: WorkspaceSettings, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      await plans.setTimeZone(userOf(request).workspaceId, request.body.timeZone);
      return { timeZone: request.body.timeZone };
    },
  );
};
