import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecords } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';
import { rollupsAndRecomputations } from '../support/usage-checks';

const NOW = new Date('2026-06-20T12:00:00Z');
const DAY_MS = 86_400_000;

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => NOW } });
});
afterAll(async () => t.close());

describe('the migration that keeps each user’s latest occurrence by month', () => {
  it('fills it from the daily rows of every month, so the users page reads the same last activity', async () => {
    const admin = bearer(t.token('admin', { role: 'admin', workspaceId: 'w' }));
    // three users over five months (February to June), each month's last call at a different day
    const records = usageRecords(120, (i) => ({
      userId: `u${i % 3}`,
      occurredAt: new Date(NOW.getTime() - (i * 23 + 7) * 36e5 - i * 1000).toISOString(),
      inputTokens: 10 + i,
      outputTokens: 1,
    }));
    await ingest(t, admin, records, { expectAccepted: true });
    const usersPage = async () =>
      (
        await t.app.inject({
          method: 'GET',
          url: `/v1/admin/usage/users?from=${new Date(NOW.getTime() - 120 * DAY_MS).toISOString()}&to=${NOW.toISOString()}&sort=lastActiveAt`,
          headers: admin,
        })
      ).json<{ items: Array<{ userId: string; lastActiveAt: string }> }>().items;
    const before = await usersPage();
    expect(before).toHaveLength(3);

    const [last] = (await t.db.query(`SELECT name FROM migrations ORDER BY id DESC LIMIT 1`)) as Array<{
      name: string;
    }>;
    expect(last!.name).toBe('MonthlyUserLastActivity1796620000000');
    await t.db.undoLastMigration({ transaction: 'each' });
    const [column] = (await t.db.query(`SELECT count(*)::int AS n FROM information_schema.columns
      WHERE table_name = 'usage_monthly_users' AND column_name = 'last_occurred_at'`)) as Array<{ n: number }>;
    expect(column!.n).toBe(0);

    await t.db.runMigrations({ transaction: 'each' });
    const monthly = (await rollupsAndRecomputations(t.db)).find((c) => c.table === 'usage_monthly_users')!;
    expect(monthly.rollup.map((row) => row.month_start)).toHaveLength(15);
    expect(monthly.rollup).toEqual(monthly.recomputed);
    expect(await usersPage()).toEqual(before);
  });
});
