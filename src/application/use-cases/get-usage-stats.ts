import { inject, injectable } from 'tsyringe';
import { percentages } from '../../domain/percentages';
import { coverageOf, type PricingCoverage } from '../../domain/pricing-coverage';
import { localPeriodStart } from '../../domain/usage-window';
import type { Clock } from '../ports/clock.port';
import type { LiveUsage, OperationUsage } from '../ports/live-usage.port';
import { TOKENS } from '../ports/tokens';
import type { ModelUsage, UsageQueries, UsageScope, UsageTotals } from '../ports/usage-queries.port';
import { shareBasis } from './share-basis';
import { scopeOf, type UsageRequest } from './usage-scope';

export const TOP_MODELS = 5;

export interface UsageStats {
  scope: UsageScope;
  totals: UsageTotals;
  /** the share of the range's requests and tokens priced, as GET /v1/admin/models/unpriced answers it */
  coverage: PricingCoverage;
  activeUsers: number;
  /** with each model's share of all tokens in the range */
  topModels: Array<ModelUsage & { percentage: number }>;
  windows: { today: UsageTotals; week: UsageTotals; month: UsageTotals };
  windowStarts: { today: Date; week: Date; month: Date };
  /** from the raw records of the range; only when asked for (a raw read grows with the range) */
  operations?: OperationUsage[];
}

@injectable()
export class GetUsageStats {
  constructor(
    @inject(TOKENS.UsageQueries) private readonly queries: UsageQueries,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.LiveUsage) private readonly live: LiveUsage,
  ) {}

  async execute(workspaceId: string, request: UsageRequest, withOperations = false): Promise<UsageStats> {
    const now = this.clock.now();
    const scope = scopeOf(workspaceId, request, now);
    const windowStarts = {
      today: localPeriodStart('day', now, scope.window.timeZone),
      week: localPeriodStart('week', now, scope.window.timeZone),
      month: localPeriodStart('month', now, scope.window.timeZone),
    };
    const since = (from: Date): UsageScope => ({ ...scope, window: { ...scope.window, from, to: now } });
    const [totals, activeUsers, models, today, week, month, operations] = await Promise.all([
      this.queries.totals(scope),
      this.queries.activeUsers(scope),
      this.queries.byModel(scope),
      this.queries.totals(since(windowStarts.today)),
      this.queries.totals(since(windowStarts.week)),
      this.queries.totals(since(windowStarts.month)),
      withOperations ? this.live.operations(scope) : undefined,
    ]);
    const shares = percentages(shareBasis(models));
    const topModels = models.slice(0, TOP_MODELS).map((m, i) => ({ ...m, percentage: shares[i]! }));
    return {
      scope,
      totals,
      coverage: coverageOf(totals),
      activeUsers,
      topModels,
      windows: { today, week, month },
      windowStarts,
      operations,
    };
  }
}
