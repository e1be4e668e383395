import { inject, injectable } from 'tsyringe';
import type { Clock } from '../ports/clock.port';
import { TOKENS } from '../ports/tokens';
import type { UsageQueries, UsageRecordView, UsageScope } from '../ports/usage-queries.port';
import { UsageScopes, type UsageRequest } from './usage-scope';

@injectable()
export class GetRecentActivity {
  constructor(
    @inject(TOKENS.UsageQueries) private readonly queries: UsageQueries,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(UsageScopes) private readonly scopes: UsageScopes,
  ) {}

  async execute(
    workspaceId: string,
    request: UsageRequest,
    limit: number,
  ): Promise<{ scope: UsageScope; items: UsageRecordView[] }> {
    const scope = await this.scopes.of(workspaceId, request, this.clock.now());
    return { scope, items: await this.queries.recent(scope, limit) };
  }
}
