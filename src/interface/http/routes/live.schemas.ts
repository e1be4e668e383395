import { Type } from '@sinclair/typebox';
import { Nullable } from '../schemas/common';
import { OperationUsage } from './usage-tab.schemas';

const Count = (description: string, example: number) => Type.Integer({ minimum: 0, description, examples: [example] });
const AverageMs = (description: string) =>
  Nullable(Type.Number({ minimum: 0, examples: [812.4] }), { description: `${description}; null when none had one` });

const LiveMinute = Type.Object({
  minuteStart: Type.String({ format: 'date-time', examples: ['2026-12-05T10:41:00.000Z'] }),
  requests: Count('calls', 31),
  totalTokens: Count('tokens', 48_200),
  errors: Count('failed calls', 1),
  avgDurationMs: AverageMs('mean duration of the calls of the minute'),
});

export const RealtimeUsageResponse = Type.Object(
  {
    from: Type.String({ format: 'date-time', description: 'start of the oldest minute' }),
    to: Type.String({ format: 'date-time', description: 'end of the current minute (exclusive)' }),
    minutes: Type.Array(LiveMinute, { description: 'the 60 minutes of the hour, oldest first, zero-filled' }),
    requests: Count('calls in the hour', 1840),
    errors: Count('failed calls in the hour', 12),
    successRate: Nullable(Type.Number({ minimum: 0, maximum: 1, examples: [0.9935] }), {
      description: 'successful / all calls of the hour; null without calls',
    }),
    avgDurationMs: AverageMs('mean duration of the hour'),
    activeUsers: Count('users with a call in the hour', 17),
    lastMinuteRequests: Count('calls that occurred in the last 60 seconds', 29),
    operations: Type.Array(Type.Ref(OperationUsage), { description: 'the hour by operation, most first' }),
  },
  { $id: 'RealtimeUsage', title: 'RealtimeUsage' },
);

export const ServiceStatusResponse = Type.Object(
  {
    now: Type.String({ format: 'date-time' }),
    acknowledgedLastMinute: Count(
      'records of this workspace received in the last minute (among those that occurred within the hour)',
      1200,
    ),
    rollupBacklog: Type.Object({
      entries: Count('queued sums not yet folded into the rollups (normally folded within a second)', 0),
      oldestOccurredAt: Nullable(Type.String({ format: 'date-time' }), {
        description: 'the latest occurrence in the oldest queued entry; null when the backlog is empty',
      }),
      ageSeconds: Nullable(Type.Number({ minimum: 0, examples: [0.4] }), {
        description: 'now − oldestOccurredAt; null when empty',
      }),
    }),
    databaseBytes: Count('size of the database', 1_073_741_824),
    oldestRawPartition: Nullable(
      Type.Object({
        name: Type.String({ examples: ['usage_records_p202609'] }),
        from: Type.String({ format: 'date-time' }),
      }),
      { description: 'the oldest monthly partition of raw records kept; null when none' },
    ),
    webhookBacklog: Type.Object({
      pending: Count('deliveries of this workspace waiting to be sent or retried', 0),
      oldestCreatedAt: Nullable(Type.String({ format: 'date-time' }), {
        description: 'when the oldest waiting event was created; null when none waits',
      }),
    }),
  },
  { $id: 'ServiceStatus', title: 'ServiceStatus' },
);

export const LIVE_SCHEMAS = [RealtimeUsageResponse, ServiceStatusResponse];
