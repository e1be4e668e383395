import { inject, injectable } from 'tsyringe';
import { NotFoundError } from '../../domain/errors';
import type { Clock } from '../ports/clock.port';
import { TOKENS } from '../ports/tokens';
import type {
  BucketUsage,
  ModelUsage,
  UsageQueries,
  UsageRecordView,
  UsageScope,
  UsageTotals,
} from '../ports/usage-queries.port';
import { ACTIVE_WITHIN_MS } from './get-user-usage';
import { UsageScopes, type UsageRequest } from './usage-scope';

export const RECENT_RECORDS = 50;

export interface UserDetail {
  scope: UsageScope;
  userId: string;
  lastActiveAt: Date;
  status: 'active' | 'inactive';
  totals: UsageTotals;
  daily: BucketUsage[];
  monthly: BucketUsage[];
  models: ModelUsage[];
  recent: UsageRecordView[];
}

@injectable()
export class GetUserDetail {
  constructor(
    @inject(TOKENS.UsageQueries) private readonly queries: UsageQueries,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(UsageScopes) private readonly scopes: UsageScopes,
  ) {}

  async execute(
    workspaceId: string,
    userId: string,
    request: Omit<UsageRequest, 'userId' | 'granularity'>,
  ): Promise<UserDetail> {
    const now = this.clock.now();
    const scope = await this.scopes.of(workspaceId, { ...request, userId, granularity: 'day' }, now);
    const monthly = { ...scope, window: { ...scope.window, granularity: 'month' as const } };
    // one moment for all of it: the days, months and models add up to the totals under ingest
    const [lastActiveAt, { totals, models }, daily, months, recent] = await this.queries.inOneSnapshot(() =>
      Promise.all([
        this.queries.lastActiveAt(workspaceId, userId),
        this.queries.summary(scope),
        this.queries.series(scope),
        this.queries.series(monthly),
        this.queries.recent(scope, RECENT_RECORDS),
      ]),
    );
    if (!lastActiveAt) throw new NotFoundError(`no usage recorded for user ${JSON.stringify(userId)}`);
    const status = lastActiveAt.getTime() >= now.getTime() - ACTIVE_WITHIN_MS ? 'active' : 'inactive';
    return { scope, userId, lastActiveAt, status, totals, daily, monthly: months, models, recent };
  }
}
