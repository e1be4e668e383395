import { inject, injectable } from 'tsyringe';
import { coverageOf, type PricingCoverage } from '../../domain/pricing-coverage';
import type { Clock } from '../ports/clock.port';
import { TOKENS } from '../ports/tokens';
import type { UnpricedModel, UsageQueries, UsageScope } from '../ports/usage-queries.port';
import { UsageScopes } from './usage-scope';

export interface PricingCoverageReport {
  scope: UsageScope;
  coverage: PricingCoverage;
  models: UnpricedModel[];
}

/** What of a range's usage has no known cost: the workspace's coverage and the models behind the gap. */
@injectable()
export class GetPricingCoverage {
  constructor(
    @inject(TOKENS.UsageQueries) private readonly queries: UsageQueries,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(UsageScopes) private readonly scopes: UsageScopes,
  ) {}

  async execute(workspaceId: string, range: { from?: string; to?: string }): Promise<PricingCoverageReport> {
    const scope = await this.scopes.of(workspaceId, range, this.clock.now());
    const [totals, models] = await Promise.all([this.queries.totals(scope), this.queries.unpricedModels(scope)]);
    return { scope, coverage: coverageOf(totals), models };
  }
}
