import { Type } from '@sinclair/typebox';
import { DecimalString, Nullable, WithDefault } from '../schemas/common';
import { CostOnly } from '../schemas/cost';

const Count = (description: string, example: number) => Type.Integer({ minimum: 0, description, examples: [example] });
const Instant = (description: string, example: string) =>
  Type.String({ format: 'date-time', description, examples: [example] });
const Percent = (description: string, example: number) =>
  Nullable(Type.Number({ minimum: 0, maximum: 100, description, examples: [example] }));

export const PricingCoverage = Type.Object(
  {
    requests: Count('records in the range', 1200),
    pricedRequests: Count('of them with a known cost (computed or provided)', 1150),
    tokens: Count('tokens in the range', 2_400_000),
    pricedTokens: Count('of them in records with a known cost', 2_300_000),
    requestsPricedPercent: Percent('share of requests priced, truncated to hundredths; null without requests', 95.83),
    tokensPricedPercent: Percent('share of tokens priced, truncated to hundredths; null without tokens', 95.83),
  },
  { $id: 'PricingCoverage', title: 'PricingCoverage', description: 'how much of the range has a known cost' },
);

export const UnpricedModel = Type.Object(
  {
    provider: Type.String({ examples: ['openai'] }),
    model: Type.String({ examples: ['gpt-9-preview'] }),
    requests: Count('unpriced records of this model in the range', 50),
    tokens: Count('their tokens', 100_000),
    firstSeenHour: Instant(
      'the UTC hour (its start) of its first unpriced record in the range',
      '2026-11-02T09:00:00Z',
    ),
    lastSeenHour: Instant('the UTC hour (its start) of its last unpriced record in the range', '2026-11-30T17:00:00Z'),
  },
  { $id: 'UnpricedModel', title: 'UnpricedModel' },
);

export const UnpricedQuery = Type.Object({
  from: Type.Optional(Instant('inclusive; default: 30 days before `to`', '2026-11-01T00:00:00Z')),
  to: Type.Optional(Instant('exclusive; default: now', '2026-12-01T00:00:00Z')),
});

export const UnpricedModelsResponse = Type.Object({
  from: Instant('the range, inclusive', '2026-11-01T00:00:00Z'),
  to: Instant('the range, exclusive', '2026-12-01T00:00:00Z'),
  coverage: Type.Ref(PricingCoverage),
  models: Type.Array(Type.Ref(UnpricedModel), { description: 'the most recently seen first' }),
});

export const RepricingRequest = Type.Object(
  {
    from: Instant('records from this instant, inclusive', '2026-11-01T00:00:00Z'),
    to: Instant('to this instant, exclusive', '2026-12-01T00:00:00Z'),
    provider: Type.Optional(Type.String({ minLength: 1, maxLength: 100, examples: ['openai'] })),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200, examples: ['gpt-4o'] })),
    dryRun: Type.Boolean({ description: 'true: answer what would change and change nothing' }),
  },
  { $id: 'RepricingRequest', title: 'RepricingRequest', additionalProperties: false },
);

const Money = (description: string, example: string) => DecimalString(description, example);

export const RepricingModelChange = Type.Object(
  {
    provider: Type.String({ examples: ['openai'] }),
    model: Type.String({ examples: ['gpt-4o'] }),
    records: Count('records of this model in the range whose cost is computed here (not sent by the client)', 1000),
    tokens: Count('their tokens', 2_000_000),
    costBefore: Money('USD of those records before', '10.000000'),
    costAfter: Money('USD after', '12.500000'),
    difference: Money('costAfter − costBefore', '2.500000'),
    repriced: Count('records whose cost changes', 1000),
    newlyPriced: Count('records that go from unpriced to priced', 0),
    newlyUnpriced: Count('records that lose their price (the price they had is gone from the catalog)', 0),
  },
  { $id: 'RepricingModelChange', title: 'RepricingModelChange' },
);

export const SkippedHours = Type.Object(
  {
    from: Instant('first hour, inclusive', '2025-01-08T10:00:00Z'),
    to: Instant('last hour, exclusive', '2025-01-08T11:00:00Z'),
    reason: Type.String({
      examples: [
        'a price version starts within this hour, and its raw records are gone (RAW_RETENTION_DAYS): which price each had is unknown',
      ],
    }),
  },
  {
    $id: 'SkippedHours',
    title: 'SkippedHours',
    description:
      'hours of months whose raw records are gone that could not be re-priced exactly from the hourly rollup, left as they were, and why',
  },
);

const RepricingTotals = {
  records: Count('records considered', 1000),
  repriced: Count('records whose cost changes', 1000),
  costBefore: Money('USD before', '10.000000'),
  costAfter: Money('USD after', '12.500000'),
  difference: Money('costAfter − costBefore', '2.500000'),
  unpricedBefore: Count('unpriced records before', 10),
  unpricedAfter: Count('unpriced records after', 0),
};

export const RepricingResult = Type.Object(
  {
    dryRun: Type.Boolean(),
    id: Nullable(Type.String({ format: 'uuid', description: 'the audit entry; null for a dry run' })),
    from: Instant('range, inclusive', '2026-11-01T00:00:00Z'),
    to: Instant('range, exclusive', '2026-12-01T00:00:00Z'),
    provider: Nullable(Type.String()),
    model: Nullable(Type.String()),
    ...RepricingTotals,
    models: Type.Array(Type.Ref(RepricingModelChange)),
    skippedHours: Type.Array(Type.Ref(SkippedHours)),
  },
  { $id: 'RepricingResult', title: 'RepricingResult' },
);

export const RepricingRun = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    createdAt: Instant('when it was applied', '2026-12-05T06:30:00Z'),
    createdBy: Type.String({ description: 'who applied it (the token subject)', examples: ['alice'] }),
    from: Instant('range, inclusive', '2026-11-01T00:00:00Z'),
    to: Instant('range, exclusive', '2026-12-01T00:00:00Z'),
    provider: Nullable(Type.String()),
    model: Nullable(Type.String()),
    ...RepricingTotals,
    models: Type.Array(Type.Ref(RepricingModelChange)),
    skippedHours: Type.Array(Type.Ref(SkippedHours)),
  },
  { $id: 'RepricingRun', title: 'RepricingRun', description: 'an applied re-pricing, as audited' },
);

export const RepricingRunList = Type.Object({
  items: Type.Array(Type.Ref(RepricingRun), { description: 'the newest first' }),
  page: Type.Integer({ minimum: 1 }),
  pageSize: Type.Integer({ minimum: 1 }),
  total: Type.Integer({ minimum: 0 }),
});

export const RepricingListQuery = Type.Object({
  page: WithDefault(Type.Integer({ minimum: 1, maximum: 100_000, default: 1 })),
  pageSize: WithDefault(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
});

export const RepricingParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

/** Pricing truth exists only where cost is shown: in cloud mode none of these is registered. */
export const PRICING_SCHEMAS = [
  PricingCoverage,
  UnpricedModel,
  RepricingRequest,
  RepricingModelChange,
  SkippedHours,
  RepricingResult,
  RepricingRun,
].map((schema) => CostOnly(schema));
