import { inject, injectable } from 'tsyringe';
import { percentages } from '../../domain/percentages';
import type { Clock } from '../ports/clock.port';
import { TOKENS } from '../ports/tokens';
import type { ProviderBucketUsage, ProviderUsage, UsageQueries, UsageScope } from '../ports/usage-queries.port';
import { UsageScopes, type UsageRequest } from './usage-scope';
import { shareBasis } from './share-basis';

export interface ProviderUsageReport {
  scope: UsageScope;
  providers: Array<ProviderUsage & { percentage: number }>;
  series: ProviderBucketUsage[];
  unpricedRequests: number;
}

@injectable()
export class GetProviderUsage {
  constructor(
    @inject(TOKENS.UsageQueries) private readonly queries: UsageQueries,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(UsageScopes) private readonly scopes: UsageScopes,
  ) {}

  async execute(workspaceId: string, request: UsageRequest): Promise<ProviderUsageReport> {
    const scope = await this.scopes.of(workspaceId, request, this.clock.now());
    const [providers, series] = await this.queries.inOneSnapshot(() =>
      Promise.all([this.queries.byProvider(scope), this.queries.seriesByProvider(scope)]),
    );
    const shares = percentages(shareBasis(providers));
    return {
      scope,
      providers: providers.map((p, i) => ({ ...p, percentage: shares[i]! })),
      series,
      unpricedRequests: providers.reduce((sum, p) => sum + p.unpricedRequests, 0),
    };
  }
}
