import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { GetRealtimeUsage, GetServiceStatus } from '../../../application/use-cases/get-live-usage';
import { userOf } from '../auth';
import { BEARER, errorResponses } from '../schemas/common';
import { RealtimeUsageResponse, ServiceStatusResponse } from './live.schemas';
import { access, type RouteContext } from './route-context';

const average = (sum: number, count: number): number | null => (count === 0 ? null : sum / count);

export const liveRoutes: FastifyPluginAsyncTypebox<RouteContext> = async (app, context) => {
  const admin = { onRequest: access(context, { role: 'admin' }) };
  const realtime = context.container.resolve(GetRealtimeUsage);
  const status = context.container.resolve(GetServiceStatus);
  const errors = errorResponses(401, 403, 429);

  app.get(
    '/v1/admin/usage/realtime',
    {
      ...admin,
      schema: {
        operationId: 'getRealtimeUsage',
        tags: ['usage-tab'],
        summary: 'The last 60 minutes by minute, read from the raw records: never behind ingest',
        security: BEARER,
        response: { 200: Type.Ref(RealtimeUsageResponse), ...errors },
      },
    },
    async (request, reply) => {
      const hour = await realtime.execute(userOf(request).workspaceId);
      reply.header('cache-control', 'no-store');
      return {
        from: hour.from.toISOString(),
        to: hour.to.toISOString(),
        minutes: hour.minutes.map((m) => ({
          minuteStart: m.minuteStart.toISOString(),
          requests: m.requests,
          totalTokens: m.totalTokens,
          errors: m.errors,
          avgDurationMs: average(m.durationMsSum, m.durationCount),
        })),
        requests: hour.requests,
        errors: hour.errors,
        successRate: hour.requests === 0 ? null : (hour.requests - hour.errors) / hour.requests,
        avgDurationMs: average(hour.durationMsSum, hour.durationCount),
        activeUsers: hour.activeUsers,
        lastMinuteRequests: hour.lastMinuteRequests,
        operations: hour.operations,
      };
    },
  );

  app.get(
    '/v1/admin/status',
    {
      ...admin,
      schema: {
        operationId: 'getServiceStatus',
        tags: ['status'],
        summary: 'Intake of the last minute, rollup and webhook backlogs, database size, oldest raw partition',
        security: BEARER,
        response: { 200: Type.Ref(ServiceStatusResponse), ...errors },
      },
    },
    async (request, reply) => {
      const s = await status.execute(userOf(request).workspaceId);
      reply.header('cache-control', 'no-store');
      const oldest = s.rollupBacklog.oldestOccurredAt;
      return {
        now: s.now.toISOString(),
        acknowledgedLastMinute: s.acknowledgedLastMinute,
        rollupBacklog: {
          entries: s.rollupBacklog.entries,
          oldestOccurredAt: oldest?.toISOString() ?? null,
          ageSeconds: oldest ? Math.max(0, (s.now.getTime() - oldest.getTime()) / 1000) : null,
        },
        databaseBytes: s.databaseBytes,
        oldestRawPartition: s.oldestRawPartition && {
          name: s.oldestRawPartition.name,
          from: s.oldestRawPartition.from.toISOString(),
        },
        webhookBacklog: {
          pending: s.webhookBacklog.pending,
          oldestCreatedAt: s.webhookBacklog.oldestCreatedAt?.toISOString() ?? null,
        },
      };
    },
  );
};
