import type {
  BucketUsage,
  UsageRecordView,
  UsageScope,
  UsageTotals,
} from '../../../application/ports/usage-queries.port';

type Priced = Pick<UsageTotals, 'cost' | 'requests' | 'unpricedRequests'>;

/**
 * Turns read models into JSON. With `showCost` false (cloud mode) no cost key is written at
 * all: not null, absent.
 */
export class UsageJson {
  constructor(private readonly showCost: boolean) {}

  /** null, not 0, when every record of the row is of unknown price */
  cost(row: Priced): { cost?: string | null } {
    if (!this.showCost) return {};
    return { cost: row.requests > 0 && row.unpricedRequests === row.requests ? null : row.cost.toString() };
  }

  pricing(row: Priced): { cost?: string | null; unpricedRequests?: number } {
    return this.showCost ? { ...this.cost(row), unpricedRequests: row.unpricedRequests } : {};
  }

  unpriced(count: number): { unpricedRequests?: number } {
    return this.showCost ? { unpricedRequests: count } : {};
  }

  range(scope: UsageScope) {
    const { from, to, timeZone, granularity } = scope.window;
    return { from: from.toISOString(), to: to.toISOString(), tz: timeZone, granularity };
  }

  totals(t: UsageTotals) {
    return {
      requests: t.requests,
      inputTokens: t.inputTokens,
      outputTokens: t.outputTokens,
      cachedInputTokens: t.cachedInputTokens,
      cacheWriteTokens: t.cacheWriteTokens,
      reasoningTokens: t.reasoningTokens,
      totalTokens: t.totalTokens,
      errors: t.errors,
      errorRate: t.requests === 0 ? 0 : Math.round((t.errors / t.requests) * 10_000) / 10_000,
      avgDurationMs: t.durationCount === 0 ? null : Math.round((t.durationMsSum / t.durationCount) * 10) / 10,
      ...this.pricing(t),
    };
  }

  bucket(b: BucketUsage) {
    return {
      bucketStart: b.bucketStart.toISOString(),
      requests: b.requests,
      inputTokens: b.inputTokens,
      outputTokens: b.outputTokens,
      totalTokens: b.totalTokens,
      ...this.cost(b),
    };
  }

  record(r: UsageRecordView) {
    return {
      requestId: r.requestId,
      occurredAt: r.occurredAt.toISOString(),
      userId: r.userId,
      provider: r.provider,
      model: r.model,
      operation: r.operation,
      inputTokens: r.inputTokens,
      outputTokens: r.outputTokens,
      totalTokens: r.totalTokens,
      durationMs: r.durationMs,
      success: r.success,
      error: r.error,
      tokenSource: r.tokenSource,
      ...(this.showCost ? { cost: r.cost?.toString() ?? null, costStatus: r.costStatus } : {}),
    };
  }
}
