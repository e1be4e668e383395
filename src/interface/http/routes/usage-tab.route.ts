import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { DependencyContainer } from 'tsyringe';
import { GetModelDistribution } from '../../../application/use-cases/get-model-distribution';
import { GetMyUsage } from '../../../application/use-cases/get-my-usage';
import { GetProviderUsage } from '../../../application/use-cases/get-provider-usage';
import { GetRecentActivity } from '../../../application/use-cases/get-recent-activity';
import { GetUserDetail } from '../../../application/use-cases/get-user-detail';
import { GetUserUsage } from '../../../application/use-cases/get-user-usage';
import { GetUsageStats } from '../../../application/use-cases/get-usage-stats';
import { userOf } from '../auth';
import { BEARER, errorResponses } from '../schemas/common';
import { access, costVisible, type RouteContext } from './route-context';
import { UsageJson } from './usage-tab.mappers';
import {
  ActivityQuery,
  ActivityResponse,
  ModelDistributionQuery,
  ModelDistributionResponse,
  MyActivityQuery,
  MyUsageQuery,
  MyUsageResponse,
  ProviderUsageResponse,
  UsageConfigResponse,
  UsageQuery,
  UsageStatsResponse,
  UserDetailParams,
  UserDetailQuery,
  UserDetailResponse,
  UserListQuery,
  UserListResponse,
} from './usage-tab.schemas';

const TAGS = ['usage-tab'];

export const usageTabRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, context) => {
  const json = new UsageJson(costVisible(context));
  const adminOnly = access(context, { role: 'admin' });
  const anyUser = access(context, {});
  const resolve: DependencyContainer['resolve'] = (token) => context.container.resolve(token);
  const stats = resolve(GetUsageStats);
  const providerUsage = resolve(GetProviderUsage);
  const modelDistribution = resolve(GetModelDistribution);
  const userUsage = resolve(GetUserUsage);
  const userDetail = resolve(GetUserDetail);
  const activity = resolve(GetRecentActivity);
  const myUsage = resolve(GetMyUsage);
  const admin = { onRequest: adminOnly };
  const adminErrors = errorResponses(400, 401, 403, 429);

  app.get(
    '/v1/admin/usage/stats',
    {
      ...admin,
      schema: {
        operationId: 'getUsageStats',
        tags: TAGS,
        summary: 'Overall stats: totals, active users, top 5 models, and today / this week / this month in tz',
        security: BEARER,
        querystring: UsageQuery,
        response: { 200: UsageStatsResponse, ...adminErrors },
      },
    },
    async (request) => {
      const result = await stats.execute(userOf(request).workspaceId, request.query);
      const window = (name: 'today' | 'week' | 'month', from: Date) => {
        const t = result.windows[name];
        return {
          from: from.toISOString(),
          requests: t.requests,
          totalTokens: t.totalTokens,
          errors: t.errors,
          ...json.pricing(t),
        };
      };
      return {
        range: json.range(result.scope),
        totals: json.totals(result.totals),
        ...(costVisible(context) && { coverage: result.coverage }),
        activeUsers: result.activeUsers,
        topModels: result.topModels.map((m) => ({
          provider: m.provider,
          model: m.model,
          requests: m.requests,
          totalTokens: m.totalTokens,
          ...json.cost(m),
          percentage: m.percentage,
        })),
        windows: {
          today: window('today', result.windowStarts.today),
          week: window('week', result.windowStarts.week),
          month: window('month', result.windowStarts.month),
        },
        operations: result.operations,
      };
    },
  );

  app.get(
    '/v1/admin/usage/providers',
    {
      ...admin,
      schema: {
        operationId: 'getProviderUsage',
        tags: TAGS,
        summary: 'Usage by provider over time: shares of tokens and a zero-filled series per provider',
        security: BEARER,
        querystring: UsageQuery,
        response: { 200: ProviderUsageResponse, ...adminErrors },
      },
    },
    async (request) => {
      const result = await providerUsage.execute(userOf(request).workspaceId, request.query);
      return {
        range: json.range(result.scope),
        providers: result.providers.map((p) => ({
          provider: p.provider,
          requests: p.requests,
          totalTokens: p.totalTokens,
          ...json.cost(p),
          percentage: p.percentage,
        })),
        series: result.series.map((s) => ({
          bucketStart: s.bucketStart.toISOString(),
          provider: s.provider,
          requests: s.requests,
          totalTokens: s.totalTokens,
          ...json.cost(s),
        })),
        ...json.unpriced(result.unpricedRequests),
      };
    },
  );

  app.get(
    '/v1/admin/usage/models',
    {
      ...admin,
      schema: {
        operationId: 'getModelDistribution',
        tags: TAGS,
        summary: 'Model distribution: the top models by tokens and an "Others" bucket for the rest',
        security: BEARER,
        querystring: ModelDistributionQuery,
        response: { 200: ModelDistributionResponse, ...adminErrors },
      },
    },
    async (request) => {
      const { limit, ...query } = request.query;
      const result = await modelDistribution.execute(userOf(request).workspaceId, query, limit);
      return {
        range: json.range(result.scope),
        models: result.models.map((m) => ({
          provider: m.provider,
          model: m.model,
          requests: m.requests,
          totalTokens: m.totalTokens,
          ...json.cost(m),
          percentage: m.percentage,
        })),
        others: result.others && {
          models: result.others.models,
          requests: result.others.requests,
          totalTokens: result.others.totalTokens,
          ...json.cost(result.others),
          percentage: result.others.percentage,
        },
        ...json.unpriced(result.unpricedRequests),
      };
    },
  );

  app.get(
    '/v1/admin/usage/users',
    {
      ...admin,
      schema: {
        operationId: 'listUserUsage',
        tags: TAGS,
        summary: 'Usage per user, searchable, sortable and paginated, with each user’s models',
        security: BEARER,
        querystring: UserListQuery,
        response: { 200: UserListResponse, ...adminErrors },
      },
    },
    async (request) => {
      const result = await userUsage.execute(userOf(request).workspaceId, request.query);
      return {
        range: json.range(result.scope),
        items: result.items.map((u) => ({
          userId: u.userId,
          requests: u.requests,
          totalTokens: u.totalTokens,
          ...json.cost(u),
          lastActiveAt: u.lastActiveAt.toISOString(),
          status: u.status,
          models: u.models.map((m) => ({
            provider: m.provider,
            model: m.model,
            requests: m.requests,
            totalTokens: m.totalTokens,
          })),
          plan: u.plan,
          usagePercentage: u.usagePercentage,
        })),
        page: result.page,
        pageSize: result.pageSize,
        total: result.total,
      };
    },
  );

  app.get(
    '/v1/admin/usage/users/:userId',
    {
      ...admin,
      schema: {
        operationId: 'getUserUsage',
        tags: TAGS,
        summary: 'One user: totals, daily and monthly breakdowns, models, and the 50 latest records',
        security: BEARER,
        params: UserDetailParams,
        querystring: UserDetailQuery,
        response: { 200: UserDetailResponse, ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => {
      const result = await userDetail.execute(userOf(request).workspaceId, request.params.userId, request.query);
      return {
        range: json.range(result.scope),
        userId: result.userId,
        lastActiveAt: result.lastActiveAt.toISOString(),
        status: result.status,
        totals: json.totals(result.totals),
        daily: result.daily.map((b) => json.bucket(b)),
        monthly: result.monthly.map((b) => json.bucket(b)),
        models: result.models.map((m) => ({
          provider: m.provider,
          model: m.model,
          requests: m.requests,
          inputTokens: m.inputTokens,
          outputTokens: m.outputTokens,
          totalTokens: m.totalTokens,
          ...json.cost(m),
        })),
        recent: result.recent.map((r) => json.record(r)),
      };
    },
  );

  app.get(
    '/v1/admin/usage/activity',
    {
      ...admin,
      schema: {
        operationId: 'getRecentActivity',
        tags: TAGS,
        summary: 'The most recent records, newest first',
        security: BEARER,
        querystring: ActivityQuery,
        response: { 200: ActivityResponse, ...adminErrors },
      },
    },
    async (request) => {
      const { limit, ...query } = request.query;
      const result = await activity.execute(userOf(request).workspaceId, query, limit);
      return { range: json.range(result.scope), items: result.items.map((r) => json.record(r)) };
    },
  );

  app.get(
    '/v1/me/usage',
    {
      onRequest: anyUser,
      schema: {
        operationId: 'getMyUsage',
        tags: TAGS,
        summary: 'The caller’s own usage: totals, a zero-filled series, by provider and by model',
        security: BEARER,
        querystring: MyUsageQuery,
        response: { 200: MyUsageResponse, ...errorResponses(400, 401, 429) },
      },
    },
    async (request) => {
      const user = userOf(request);
      const result = await myUsage.execute(user.workspaceId, user.userId, request.query);
      return {
        range: json.range(result.scope),
        userId: user.userId,
        totals: json.totals(result.totals),
        series: result.series.map((b) => json.bucket(b)),
        providers: result.providers.map((p) => ({
          provider: p.provider,
          requests: p.requests,
          totalTokens: p.totalTokens,
          ...json.cost(p),
          percentage: p.percentage,
        })),
        models: result.models.map((m) => ({
          provider: m.provider,
          model: m.model,
          requests: m.requests,
          totalTokens: m.totalTokens,
          ...json.cost(m),
          percentage: m.percentage,
        })),
      };
    },
  );

  app.get(
    '/v1/me/activity',
    {
      onRequest: anyUser,
      schema: {
        operationId: 'getMyActivity',
        tags: TAGS,
        summary: 'The caller’s own most recent records, newest first',
        security: BEARER,
        querystring: MyActivityQuery,
        response: { 200: ActivityResponse, ...errorResponses(400, 401, 429) },
      },
    },
    async (request) => {
      const user = userOf(request);
      const { limit, ...query } = request.query;
      const result = await activity.execute(user.workspaceId, { ...query, userId: user.userId }, limit);
      return { range: json.range(result.scope), items: result.items.map((r) => json.record(r)) };
    },
  );

  app.get(
    '/v1/usage/config',
    {
      onRequest: anyUser,
      schema: {
        operationId: 'getUsageConfig',
        tags: TAGS,
        summary: 'What the UI should draw: deployment mode and whether cost is shown',
        security: BEARER,
        response: { 200: UsageConfigResponse, ...errorResponses(401, 429) },
      },
    },
    async () => ({ deploymentMode: context.deploymentMode, showCost: costVisible(context), currency: 'USD' as const }),
  );
};
