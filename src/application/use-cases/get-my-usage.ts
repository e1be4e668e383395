import { inject, injectable } from 'tsyringe';
import { percentages } from '../../domain/percentages';
import type { Clock } from '../ports/clock.port';
import { TOKENS } from '../ports/tokens';
import type {
  BucketUsage,
  ModelUsage,
  ProviderUsage,
  UsageQueries,
  UsageScope,
  UsageTotals,
} from '../ports/usage-queries.port';
import { shareBasis } from './share-basis';
import { UsageScopes, type UsageRequest } from './usage-scope';

export interface MyUsage {
  scope: UsageScope;
  totals: UsageTotals;
  series: BucketUsage[];
  providers: Array<ProviderUsage & { percentage: number }>;
  models: Array<ModelUsage & { percentage: number }>;
}

/** A user's own usage: the scope is always the caller, whatever the role. */
@injectable()
export class GetMyUsage {
  constructor(
    @inject(TOKENS.UsageQueries) private readonly queries: UsageQueries,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(UsageScopes) private readonly scopes: UsageScopes,
  ) {}

  async execute(workspaceId: string, userId: string, request: Omit<UsageRequest, 'userId'>): Promise<MyUsage> {
    const scope = await this.scopes.of(workspaceId, { ...request, userId }, this.clock.now());
    const [{ totals, providers, models }, series] = await this.queries.inOneSnapshot(() =>
      Promise.all([this.queries.summary(scope), this.queries.series(scope)]),
    );
    const providerShares = percentages(shareBasis(providers));
    const modelShares = percentages(shareBasis(models));
    return {
      scope,
      totals,
      series,
      providers: providers.map((p, i) => ({ ...p, percentage: providerShares[i]! })),
      models: models.map((m, i) => ({ ...m, percentage: modelShares[i]! })),
    };
  }
}
