import { Type, type TProperties } from '@sinclair/typebox';
import { TOKEN_SOURCES } from '../../../domain/usage-record';
import { DecimalString, Nullable, StringEnum, WithDefault } from '../schemas/common';
import { CostField, WithCostValues } from '../schemas/cost';
import { PricingCoverage } from './pricing.schemas';

const COST_NOTE = 'absent when DEPLOYMENT_MODE=cloud';
const Cost = () =>
  CostField(
    Nullable(DecimalString('exact USD of the priced records', '12.409315'), {
      description: `exact USD of the priced records; null when every record is of unknown price; ${COST_NOTE}`,
    }),
  );
const Unpriced = () =>
  CostField(Type.Integer({ description: `records of unknown price, not in cost; ${COST_NOTE}`, examples: [3] }));
const Count = (description: string, example: number) => Type.Integer({ minimum: 0, description, examples: [example] });
const UserStatus = (options: { description?: string } = {}) => StringEnum(['active', 'inactive'], options);

export const UsageQuery = Type.Object({
  from: Type.Optional(
    Type.String({
      format: 'date-time',
      description: 'inclusive; default: 30 days before `to`',
      examples: ['2026-10-01T00:00:00Z'],
    }),
  ),
  to: Type.Optional(
    Type.String({ format: 'date-time', description: 'exclusive; default: now', examples: ['2026-11-01T00:00:00Z'] }),
  ),
  tz: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'IANA time zone for buckets and windows; default UTC',
      examples: ['Europe/Berlin'],
    }),
  ),
  granularity: Type.Optional(
    StringEnum(['hour', 'day', 'week', 'month'], {
      description: 'bucket size; default day (weeks start on Monday)',
    }),
  ),
  provider: Type.Optional(Type.String({ minLength: 1, maxLength: 100, examples: ['openai'] })),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 200, examples: ['gpt-4o'] })),
  userId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, examples: ['alice'] })),
});

const { userId: _userId, ...withoutUser } = UsageQuery.properties;
const { granularity: _granularity, ...withoutUserOrGranularity } = withoutUser;
export const MyUsageQuery = Type.Object(withoutUser as TProperties);
export const UserDetailQuery = Type.Object(withoutUserOrGranularity as TProperties);

export const UsageRange = Type.Object(
  {
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    tz: Type.String({ examples: ['Europe/Berlin'] }),
    granularity: Type.String({ examples: ['day'] }),
  },
  { $id: 'UsageRange', title: 'UsageRange', description: 'the range and bucketing the answer is for' },
);

export const UsageTotals = Type.Object(
  {
    requests: Count('calls', 1520),
    inputTokens: Count('input tokens, cached and cache-write included', 3_400_000),
    outputTokens: Count('output tokens, reasoning included', 910_000),
    cachedInputTokens: Count('part of inputTokens read from cache', 1_200_000),
    cacheWriteTokens: Count('part of inputTokens written to cache', 40_000),
    reasoningTokens: Count('part of outputTokens spent reasoning', 120_000),
    totalTokens: Count('inputTokens + outputTokens', 4_310_000),
    errors: Count('failed calls', 12),
    errorRate: Type.Number({ minimum: 0, maximum: 1, description: 'errors / requests', examples: [0.0079] }),
    avgDurationMs: Nullable(Type.Number(), {
      description: 'mean of the durations sent; null when no record had one',
      examples: [843.2],
    }),
    cost: Cost(),
    unpricedRequests: Unpriced(),
  },
  { $id: 'UsageTotals', title: 'UsageTotals' },
);

const WindowTotals = Type.Object({
  from: Type.String({ format: 'date-time', description: 'local start of the period in tz' }),
  requests: Count('calls', 42),
  totalTokens: Count('tokens', 120_400),
  errors: Count('failed calls', 0),
  cost: Cost(),
  unpricedRequests: Unpriced(),
});

export const ModelUsage = Type.Object(
  {
    provider: Type.String({ examples: ['openai'] }),
    model: Type.String({ examples: ['gpt-4o'] }),
    requests: Count('calls', 800),
    totalTokens: Count('tokens', 2_100_000),
    cost: Cost(),
    percentage: Type.Number({
      description: 'share of total tokens, percent; all shares sum to 100',
      examples: [48.72],
    }),
  },
  { $id: 'ModelUsage', title: 'ModelUsage' },
);

export const OperationUsage = Type.Object(
  {
    operation: Nullable(Type.String({ examples: ['chat'] }), { description: 'null where the records did not say' }),
    requests: Count('calls', 1200),
    totalTokens: Count('tokens', 3_900_000),
    errors: Count('failed calls', 4),
  },
  { $id: 'OperationUsage', title: 'OperationUsage' },
);

export const UsageStatsResponse = Type.Object({
  range: Type.Ref(UsageRange),
  totals: Type.Ref(UsageTotals),
  coverage: CostField(
    Type.Ref(PricingCoverage, { description: 'as GET /v1/admin/models/unpriced answers it; absent in cloud mode' }),
  ),
  activeUsers: Count('users with usage in the range', 37),
  topModels: Type.Array(Type.Ref(ModelUsage), { description: 'the 5 models with the most tokens' }),
  windows: Type.Object(
    { today: WindowTotals, week: WindowTotals, month: WindowTotals },
    {
      description: 'today, this week (from Monday) and this month so far, in tz',
    },
  ),
  operations: Type.Array(Type.Ref(OperationUsage), {
    description: 'the range by operation (chat, embeddings, …), the most requests first',
  }),
});

export const ProviderUsageResponse = Type.Object({
  range: Type.Ref(UsageRange),
  providers: Type.Array(
    Type.Object({
      provider: Type.String({ examples: ['anthropic'] }),
      requests: Count('calls', 610),
      totalTokens: Count('tokens', 1_900_000),
      cost: Cost(),
      percentage: Type.Number({ description: 'share of total tokens, percent; sums to 100', examples: [44.08] }),
    }),
  ),
  series: Type.Array(
    Type.Object({
      bucketStart: Type.String({
        format: 'date-time',
        description: 'local bucket start as an instant',
        examples: ['2026-10-31T23:00:00.000Z'],
      }),
      provider: Type.String({ examples: ['anthropic'] }),
      requests: Count('calls', 20),
      totalTokens: Count('tokens', 64_000),
      cost: Cost(),
    }),
    { description: 'every bucket of the range for every provider, zero-filled' },
  ),
  unpricedRequests: Unpriced(),
});

export const ModelDistributionQuery = Type.Composite([
  UsageQuery,
  Type.Object({
    limit: WithDefault(
      Type.Integer({ minimum: 1, maximum: 50, default: 5, description: 'models shown before "Others"' }),
    ),
  }),
]);

export const ModelDistributionResponse = Type.Object({
  range: Type.Ref(UsageRange),
  models: Type.Array(Type.Ref(ModelUsage)),
  others: Nullable(
    Type.Object({
      models: Count('how many models are folded in', 14),
      requests: Count('calls', 90),
      totalTokens: Count('tokens', 210_000),
      cost: Cost(),
      percentage: Type.Number({ examples: [4.87] }),
    }),
    { description: 'every model after the top `limit`; null when none is left over' },
  ),
  unpricedRequests: Unpriced(),
});

/**
 * The users table's query. Where the deployment hides cost (cloud), cost is no sort field
 * either: the order would tell the cost ranking the answer leaves out.
 */
export const UserListQuery = Type.Composite([
  UsageQuery,
  Type.Object({
    search: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'case-insensitive substring of the user id' }),
    ),
    sort: WithDefault(
      WithCostValues(
        StringEnum(['totalTokens', 'cost', 'requests', 'lastActiveAt', 'userId', 'usagePercentage'], {
          default: 'totalTokens',
          description: 'usagePercentage: of the current quota period, unlimited users last',
        }),
        ['cost'],
        'cost: an unknown cost (null) last, not accepted when DEPLOYMENT_MODE=cloud',
      ),
    ),
    order: WithDefault(StringEnum(['asc', 'desc'], { default: 'desc' })),
    status: Type.Optional(UserStatus({ description: 'active: used within the last 7 days' })),
    page: WithDefault(Type.Integer({ minimum: 1, default: 1 })),
    pageSize: WithDefault(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    modelsPerUser: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'each user’s models with the most tokens, at most this many (0: none, a faster answer); every model when absent',
      }),
    ),
  }),
]);

export const UserUsageItem = Type.Object(
  {
    userId: Type.String({ examples: ['alice'] }),
    requests: Count('calls in the range', 212),
    totalTokens: Count('tokens in the range', 640_000),
    cost: Cost(),
    lastActiveAt: Type.String({ format: 'date-time', description: 'latest call at any time' }),
    status: UserStatus({ description: 'active: used within the last 7 days' }),
    models: Type.Array(
      Type.Object({
        provider: Type.String({ examples: ['openai'] }),
        model: Type.String({ examples: ['gpt-4o-mini'] }),
        requests: Count('calls', 150),
        totalTokens: Count('tokens', 400_000),
      }),
    ),
    plan: Nullable(Type.Object({ id: Type.String({ format: 'uuid' }), name: Type.String({ examples: ['pro'] }) }), {
      description: 'the user’s plan',
    }),
    usagePercentage: Nullable(Type.Number({ minimum: 0, examples: [62.5] }), {
      description:
        'of the current quota period (not the range): the higher of tokens and cost used against the plan’s limits; null when unlimited',
    }),
  },
  { $id: 'UserUsage', title: 'UserUsage' },
);

export const UserListResponse = Type.Object({
  range: Type.Ref(UsageRange),
  items: Type.Array(Type.Ref(UserUsageItem)),
  page: Type.Integer({ examples: [1] }),
  pageSize: Type.Integer({ examples: [20] }),
  total: Type.Integer({ description: 'users matching the filters', examples: [37] }),
});

export const UsageRecordView = Type.Object(
  {
    requestId: Type.String({ examples: ['chatcmpl-9x2Lk'] }),
    occurredAt: Type.String({ format: 'date-time' }),
    userId: Type.String({ examples: ['alice'] }),
    provider: Type.String({ examples: ['openai'] }),
    model: Type.String({ examples: ['gpt-4o'] }),
    operation: Nullable(Type.String({ examples: ['chat'] })),
    inputTokens: Count('input tokens', 1200),
    outputTokens: Count('output tokens', 300),
    totalTokens: Count('tokens', 1500),
    durationMs: Nullable(Type.Integer({ examples: [912] })),
    success: Type.Boolean(),
    error: Nullable(Type.String()),
    tokenSource: StringEnum(TOKEN_SOURCES, {
      description: 'reported: counted by the provider; estimated: by a tokenizer (a proxied stream cut short)',
    }),
    cost: CostField(Nullable(DecimalString(`USD; null when unpriced; ${COST_NOTE}`, '0.006000'))),
    costStatus: CostField(StringEnum(['computed', 'provided', 'unpriced'], { description: COST_NOTE })),
  },
  { $id: 'UsageRecordView', title: 'UsageRecordView' },
);

const BucketRow = Type.Object({
  bucketStart: Type.String({ format: 'date-time', examples: ['2026-10-31T23:00:00.000Z'] }),
  requests: Count('calls', 12),
  inputTokens: Count('prompt (input) tokens', 30_000),
  outputTokens: Count('output tokens', 9_000),
  totalTokens: Count('tokens', 39_000),
  cost: Cost(),
});

export const UserDetailParams = Type.Object({ userId: Type.String({ minLength: 1, maxLength: 200 }) });

export const UserDetailResponse = Type.Object({
  range: Type.Ref(UsageRange),
  userId: Type.String({ examples: ['alice'] }),
  lastActiveAt: Type.String({ format: 'date-time' }),
  status: UserStatus({ description: 'active: used within the last 7 days' }),
  totals: Type.Ref(UsageTotals),
  daily: Type.Array(BucketRow, { description: 'every local day of the range, zero-filled' }),
  monthly: Type.Array(BucketRow, { description: 'every local month of the range, zero-filled' }),
  models: Type.Array(
    Type.Object({
      provider: Type.String(),
      model: Type.String(),
      requests: Count('calls', 80),
      inputTokens: Count('input tokens', 200_000),
      outputTokens: Count('output tokens', 40_000),
      totalTokens: Count('tokens', 240_000),
      cost: Cost(),
    }),
  ),
  recent: Type.Array(Type.Ref(UsageRecordView), { description: 'the 50 latest records in the range, newest first' }),
});

export const ActivityQuery = Type.Composite([
  UsageQuery,
  Type.Object({ limit: WithDefault(Type.Integer({ minimum: 1, maximum: 100, default: 10 })) }),
]);

export const MyActivityQuery = Type.Object({
  ...withoutUserOrGranularity,
  limit: WithDefault(Type.Integer({ minimum: 1, maximum: 100, default: 10 })),
});

export const ActivityResponse = Type.Object({
  range: Type.Ref(UsageRange),
  items: Type.Array(Type.Ref(UsageRecordView), { description: 'newest first' }),
});

export const MyUsageResponse = Type.Object({
  range: Type.Ref(UsageRange),
  userId: Type.String({ examples: ['alice'] }),
  totals: Type.Ref(UsageTotals),
  series: Type.Array(BucketRow, { description: 'every bucket of the range, zero-filled' }),
  providers: Type.Array(
    Type.Object({
      provider: Type.String(),
      requests: Count('calls', 40),
      totalTokens: Count('tokens', 120_000),
      cost: Cost(),
      percentage: Type.Number({ examples: [61.5] }),
    }),
  ),
  models: Type.Array(Type.Ref(ModelUsage)),
});

export const UsageConfigResponse = Type.Object({
  deploymentMode: StringEnum(['self-hosted', 'cloud']),
  showCost: Type.Boolean({ description: 'whether responses carry cost fields' }),
  currency: Type.Literal('USD'),
});

export const USAGE_TAB_SCHEMAS = [UsageRange, UsageTotals, ModelUsage, UserUsageItem, UsageRecordView, OperationUsage];
