import type { UsageQueries, UsageScope } from '../../application/ports/usage-queries.port';

const DAY_MS = 86_400_000;

/**
 * Opens every connection of the pool and runs each kind of Usage tab statement on it once,
 * for a workspace that holds nothing. A new PostgreSQL backend loads the catalog entries of
 * every table, index and partition a statement touches the first time it plans one (about
 * 100 ms for the users table at 3M records); done here, no dashboard request pays for it.
 * The pool keeps its connections (see data-source.ts), so they stay warm.
 */
export async function warmUpConnections(queries: UsageQueries, connections: number, now: Date): Promise<void> {
  const scope = (timeZone: string): UsageScope => ({
    workspaceId: '',
    window: { from: new Date(now.getTime() - 30 * DAY_MS), to: now, timeZone, granularity: 'day' },
    filter: {},
  });
  const berlin = scope('Europe/Berlin');
  const once = (): Promise<unknown> =>
    Promise.all([
      queries.totals(berlin),
      queries.activeUsers(berlin),
      queries.byModel(berlin),
      queries.byProvider(berlin),
      queries.summary(berlin),
      queries.summary({ ...berlin, filter: { userId: '' } }),
      queries.seriesByProvider(berlin),
      queries.seriesByProvider(scope('Asia/Kolkata')),
      queries.series({ ...berlin, filter: { userId: '' } }),
      queries.users(berlin, {
        sort: 'totalTokens',
        order: 'desc',
        activeSince: now,
        quotaAt: now,
        limit: 1,
        offset: 0,
      }),
      queries.recent(berlin, 1),
    ]);
  await Promise.all(Array.from({ length: connections }, once));
}
