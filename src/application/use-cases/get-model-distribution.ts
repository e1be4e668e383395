import { inject, injectable } from 'tsyringe';
import { Decimal } from '../../domain/decimal';
import { percentages } from '../../domain/percentages';
import type { Clock } from '../ports/clock.port';
import { TOKENS } from '../ports/tokens';
import type { ModelUsage, UsageQueries, UsageScope } from '../ports/usage-queries.port';
import { shareBasis } from './share-basis';
import { UsageScopes, type UsageRequest } from './usage-scope';

export interface OthersBucket {
  models: number;
  requests: number;
  totalTokens: number;
  cost: Decimal;
  unpricedRequests: number;
  percentage: number;
}

export interface ModelDistribution {
  scope: UsageScope;
  models: Array<ModelUsage & { percentage: number }>;
  others: OthersBucket | null;
  unpricedRequests: number;
}

@injectable()
export class GetModelDistribution {
  constructor(
    @inject(TOKENS.UsageQueries) private readonly queries: UsageQueries,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(UsageScopes) private readonly scopes: UsageScopes,
  ) {}

  async execute(workspaceId: string, request: UsageRequest, limit: number): Promise<ModelDistribution> {
    const scope = await this.scopes.of(workspaceId, request, this.clock.now());
    const all = await this.queries.byModel(scope);
    const top = all.slice(0, limit);
    const rest = all.slice(limit);
    const restTotals = rest.reduce(
      (sum, m) => ({
        requests: sum.requests + m.requests,
        totalTokens: sum.totalTokens + m.totalTokens,
        cost: sum.cost.plus(m.cost),
        unpricedRequests: sum.unpricedRequests + m.unpricedRequests,
      }),
      { requests: 0, totalTokens: 0, cost: Decimal.ZERO, unpricedRequests: 0 },
    );
    // one rounding over the shown slices, so the top models and "Others" add up to 100
    const shares = percentages(shareBasis(rest.length > 0 ? [...top, restTotals] : top));
    return {
      scope,
      models: top.map((m, i) => ({ ...m, percentage: shares[i]! })),
      others: rest.length > 0 ? { models: rest.length, ...restTotals, percentage: shares[top.length]! } : null,
      unpricedRequests: all.reduce((sum, m) => sum + m.unpricedRequests, 0),
    };
  }
}
