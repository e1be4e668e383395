import { inject, injectable } from 'tsyringe';
import { percentages } from '../../domain/percentages';
import { coverageOf, type PricingCoverage } from '../../domain/pricing-coverage';
import { localPeriodStart } from '../../domain/usage-window';
import type { Clock } from '../ports/clock.port';
import { TOKENS } from '../ports/tokens';
import type { ModelUsage, OperationUsage, UsageQueries, UsageScope, UsageTotals } from '../ports/usage-queries.port';
import { shareBasis } from './share-basis';
import { UsageScopes, type UsageRequest } from './usage-scope';

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
  /** the range by operation, most requests first */
  operations: OperationUsage[];
}

@injectable()
export class GetUsageStats {
  constructor(
    @inject(TOKENS.UsageQueries) private readonly queries: UsageQueries,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(UsageScopes) private readonly scopes: UsageScopes,
  ) {}

  async execute(workspaceId: string, request: UsageRequest): Promise<UsageStats> {
    const now = this.clock.now();
    const scope = await this.scopes.of(workspaceId, request, now);
    const windowStarts = {
      today: localPeriodStart('day', now, scope.window.timeZone),
      week: localPeriodStart('week', now, scope.window.timeZone),
      month: localPeriodStart('month', now, scope.window.timeZone),
    };
    const untilNow: UsageScope = { ...scope, window: { ...scope.window, to: now } };
    const [{ totals, models, operations }, activeUsers, [today, week, month]] = await this.queries.inOneSnapshot(() =>
      Promise.all([
        this.queries.summary(scope),
        this.queries.activeUsers(scope),
        // the three windows end now: one statement reads them together
        this.queries.totalsFrom(untilNow, [windowStarts.today, windowStarts.week, windowStarts.month]),
      ]),
    );
    const shares = percentages(shareBasis(models));
    const topModels = models.slice(0, TOP_MODELS).map((m, i) => ({ ...m, percentage: shares[i]! }));
    return {
      scope,
      totals,
      coverage: coverageOf(totals),
      activeUsers,
      topModels,
      windows: { today: today!, week: week!, month: month! },
      windowStarts,
      operations,
    };
  }
}
