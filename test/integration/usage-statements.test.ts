import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageScope, UserListQuery } from '../../src/application/ports/usage-queries.port';
import { PgUsageQueries } from '../../src/infrastructure/persistence/pg-usage-queries';
import { KEPT_PLANS_PER_CONNECTION, UsageStatements } from '../../src/infrastructure/persistence/usage-statements';
import { createDatasetApp, NOW, WORKSPACE } from '../support/usage-dataset';
import type { TestApp } from '../support/test-app';

/**
 * Usage tab statements that read only rollups run by name with a generic plan kept per
 * connection; those that read raw records are planned for their values. The app's pool has one
 * connection here, so `t.db` sees the session the statements ran in.
 */
let t: TestApp;
let kept: PgUsageQueries;
let planned: PgUsageQueries;
const clock = { now: () => NOW };

interface Prepared {
  name: string;
  statement: string;
  generic_plans: number;
  custom_plans: number;
}

async function preparedUsageStatements(): Promise<Prepared[]> {
  return (await t.db.query(`SELECT name, statement, generic_plans::int, custom_plans::int FROM pg_prepared_statements
    WHERE name LIKE 'tokentally_usage_%'`)) as Prepared[];
}

beforeAll(async () => {
  t = await createDatasetApp({ poolSize: 1 });
  kept = new PgUsageQueries(new UsageStatements(t.db), clock);
  // the same queries, every statement sent unnamed and planned for its values
  planned = new PgUsageQueries({ query: (sql: string, values: unknown[]) => t.db.query(sql, values) } as never, clock);
});
afterAll(async () => t.close());

const day = 24 * 3_600_000;
const scope = (timeZone: string, from: Date, to: Date, filter: UsageScope['filter'] = {}): UsageScope => ({
  workspaceId: WORKSPACE,
  window: { from, to, timeZone, granularity: 'day' },
  filter,
});
const usersQuery: UserListQuery = {
  sort: 'totalTokens',
  order: 'desc',
  activeSince: new Date(NOW.getTime() - 7 * day),
  quotaAt: NOW,
  limit: 2,
  offset: 0,
};

/** The users list as the page asks for it: each sort, filtered, searched, and a page past the end. */
const usersQueries: UserListQuery[] = [
  usersQuery,
  { ...usersQuery, sort: 'lastActiveAt', order: 'asc', status: 'active' },
  { ...usersQuery, sort: 'usagePercentage', status: 'inactive' },
  { ...usersQuery, sort: 'cost', search: 'o' },
  { ...usersQuery, offset: 50 },
];

describe('usage statements', () => {
  it('answer with a kept generic plan exactly as when planned for their values', async () => {
    const scopes = [
      // whole hours: every piece from the rollups
      scope('Europe/Berlin', new Date('2026-03-01T23:00:00Z'), new Date('2026-03-31T22:00:00Z')),
      scope('Asia/Kolkata', new Date('2026-01-10T18:30:00Z'), new Date('2026-03-31T18:30:00Z'), { userId: 'alice' }),
      scope('UTC', new Date('2026-03-20T00:00:00Z'), new Date('2026-04-01T00:00:00Z'), { provider: 'openai' }),
      // minutes at both ends: raw records read for the partial hours
      scope('Europe/Berlin', new Date('2026-03-10T10:20:00Z'), new Date('2026-03-31T11:45:00Z')),
    ];
    for (let round = 0; round < 2; round++) {
      for (const s of scopes) {
        expect(await kept.totals(s)).toEqual(await planned.totals(s));
        expect(await kept.summary(s)).toEqual(await planned.summary(s));
        expect(await kept.series(s)).toEqual(await planned.series(s));
        expect(await kept.seriesByProvider(s)).toEqual(await planned.seriesByProvider(s));
        expect(await kept.byModel(s)).toEqual(await planned.byModel(s));
        for (const q of usersQueries) expect(await kept.users(s, q)).toEqual(await planned.users(s, q));
        expect(await kept.activeUsers(s)).toEqual(await planned.activeUsers(s));
        expect(await kept.unpricedModels(s)).toEqual(await planned.unpricedModels(s));
      }
    }
    // the comparisons compared something: pages of users with their models
    for (const q of usersQueries.slice(0, 4)) {
      const { items } = await kept.users(scopes[0]!, q);
      expect(items.length, q.sort).toBeGreaterThan(0);
      expect(items.some((item) => item.models.length > 0)).toBe(true);
    }
    const prepared = await preparedUsageStatements();
    expect(prepared.length).toBeGreaterThan(0);
    expect(prepared.length).toBeLessThanOrEqual(KEPT_PLANS_PER_CONNECTION);
    for (const statement of prepared) {
      expect(statement.statement).not.toMatch(/\busage_records\b/);
      expect(statement.custom_plans, statement.statement).toBe(0);
    }
  });

  it('plans a statement once per connection and runs it from the plan kept', async () => {
    const s = scope('Europe/Berlin', new Date('2026-03-01T23:00:00Z'), new Date('2026-03-31T22:00:00Z'));
    for (let i = 0; i < 3; i++) {
      const { items } = await kept.users(s, usersQuery);
      expect(items[0]!.models.length).toBeGreaterThan(0);
    }
    const usersPage = (await preparedUsageStatements()).filter((p) => p.statement.includes('per_user AS'));
    expect(usersPage.length).toBeGreaterThan(0);
    // planned once: every run after the first took the plan kept, none was planned for its values
    expect(Math.max(...usersPage.map((p) => p.generic_plans))).toBeGreaterThanOrEqual(3);
    expect(usersPage.every((p) => p.custom_plans === 0)).toBe(true);
  });

  it('reads the page’s models from the user × model keys alone, without visiting the tables', async () => {
    const captured: Array<{ sql: string; values: unknown[] }> = [];
    const capturing = new PgUsageQueries(
      {
        query: (sql: string, values: unknown[]) => {
          captured.push({ sql, values });
          return t.db.query(sql, values);
        },
      } as never,
      clock,
    );
    await capturing.users(
      scope('Europe/Berlin', new Date('2026-01-31T23:00:00Z'), new Date('2026-03-20T23:00:00Z')),
      usersQuery,
    );
    // past rows are all-visible once vacuumed; small tables are read by index only when asked to
    await t.db.query('VACUUM ANALYZE usage_daily_user_models, usage_monthly_user_models');
    const { sql, values } = captured[0]!;
    const plan = await t.db.transaction(async (tx) => {
      await tx.query('SET LOCAL enable_seqscan = off');
      await tx.query('SET LOCAL enable_bitmapscan = off');
      const rows = (await tx.query(`EXPLAIN (FORMAT TEXT) ${sql}`, values)) as Array<{ 'QUERY PLAN': string }>;
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    expect(plan).toContain('Index Only Scan using usage_monthly_user_models_pkey');
    expect(plan).toContain('Index Only Scan using usage_daily_user_models_pkey');
    expect(plan).not.toMatch(/Index Scan using usage_(monthly|daily)_user_models_pkey/);
  });

  it('leaves the connection as it was: plan mode, no transaction, also after a statement fails', async () => {
    const statements = new UsageStatements(t.db);
    await expect(statements.query('SELECT 1 / $1::int AS x', [0])).rejects.toMatchObject({ code: '22012' });
    expect(await statements.query('SELECT 6 / $1::int AS x', [2])).toEqual([{ x: 3 }]);
    // the session ingest shares: its statements are still planned for their values
    const [session] = (await t.db.query(
      `SELECT current_setting('plan_cache_mode') AS mode, current_setting('transaction_read_only') AS read_only`,
    )) as Array<{ mode: string; read_only: string }>;
    expect(session).toEqual({ mode: 'auto', read_only: 'off' });
    await t.db.query(`CREATE TEMP TABLE written_after (x int)`);
  });

  it('keeps at most KEPT_PLANS_PER_CONNECTION statements, and sends one it let go again', async () => {
    const statements = new UsageStatements(t.db);
    const text = (k: number) => `SELECT ${k} AS k, $1::int AS v FROM usage_monthly_users LIMIT 0`;
    for (let k = 0; k < KEPT_PLANS_PER_CONNECTION + 5; k++) expect(await statements.query(text(k), [k])).toEqual([]);
    const prepared = await preparedUsageStatements();
    // those of the first test may still be there: the newest ones are kept, the oldest let go
    expect(prepared.length).toBe(KEPT_PLANS_PER_CONNECTION);
    const numbers = prepared.map((p) => /SELECT (\d+) AS k/.exec(p.statement)?.[1]).filter(Boolean);
    expect(numbers.map(Number).sort((a, b) => a - b)).toEqual(
      Array.from({ length: KEPT_PLANS_PER_CONNECTION }, (_, i) => i + 5),
    );
    // the first, let go on the server, is prepared again rather than sent by a name it lost
    expect(await statements.query(`SELECT 0 AS k, $1::int AS v`, [7])).toEqual([{ k: 0, v: 7 }]);
    expect(await statements.query(text(0), [0])).toEqual([]);
    expect((await preparedUsageStatements()).some((p) => p.statement === text(0))).toBe(true);
  });

  it('keeps no statement whose parse failed: letting it go later never fails a call', async () => {
    const statements = new UsageStatements(t.db);
    await expect(statements.query('SELEC 1 FROM usage_monthly_users')).rejects.toMatchObject({ code: '42601' });
    // enough others to let the oldest go more than once over
    for (let k = 0; k < 2 * KEPT_PLANS_PER_CONNECTION; k++) {
      expect(await statements.query(`SELECT ${k + 100} AS k FROM usage_daily_users LIMIT 0`)).toEqual([]);
    }
    expect((await preparedUsageStatements()).length).toBe(KEPT_PLANS_PER_CONNECTION);
  });

  it('sends a statement that reads raw records unnamed', async () => {
    const statements = new UsageStatements(t.db);
    const before = (await preparedUsageStatements()).length;
    const [row] = await statements.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM usage_records WHERE workspace_id = $1`,
      [WORKSPACE],
    );
    expect(row!.n).toBeGreaterThan(0);
    expect((await preparedUsageStatements()).length).toBe(before);
  });
});
