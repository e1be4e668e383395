import { inject, injectable } from 'tsyringe';
import type { Clock } from '../ports/clock.port';
import type { PlanStore } from '../ports/plan-store.port';
import { TOKENS } from '../ports/tokens';
import type { UsageQueries, UsageScope, UserListQuery, UserUsage } from '../ports/usage-queries.port';
import { UsageScopes, type UsageRequest } from './usage-scope';

/** A user is active when they used anything in the last 7 days. */
export const ACTIVE_WITHIN_MS = 7 * 24 * 60 * 60 * 1000;

export interface UserUsagePage {
  scope: UsageScope;
  items: Array<UserUsage & { status: 'active' | 'inactive' }>;
  page: number;
  pageSize: number;
  total: number;
}

export interface UserListRequest extends UsageRequest {
  search?: string;
  sort: UserListQuery['sort'];
  order: UserListQuery['order'];
  status?: UserListQuery['status'];
  page: number;
  pageSize: number;
  modelsPerUser?: number;
}

@injectable()
export class GetUserUsage {
  constructor(
    @inject(TOKENS.UsageQueries) private readonly queries: UsageQueries,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(UsageScopes) private readonly scopes: UsageScopes,
    @inject(TOKENS.PlanStore) private readonly plans: PlanStore,
  ) {}

  async execute(workspaceId: string, request: UserListRequest): Promise<UserUsagePage> {
    const now = this.clock.now();
    const { search, sort, order, status, page, pageSize, modelsPerUser, ...usage } = request;
    const scope = await this.scopes.of(workspaceId, usage, now);
    const activeSince = new Date(now.getTime() - ACTIVE_WITHIN_MS);
    await this.plans.ensureWorkspace(workspaceId);
    const result = await this.queries.users(scope, {
      search,
      sort,
      order,
      status,
      activeSince,
      quotaAt: now,
      limit: pageSize,
      offset: (page - 1) * pageSize,
      modelsPerUser,
    });
    return {
      scope,
      page,
      pageSize,
      total: result.total,
      items: result.items.map((item) => ({
        ...item,
        status: item.lastActiveAt >= activeSince ? 'active' : 'inactive',
      })),
    };
  }
}
