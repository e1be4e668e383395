import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldPending, startRollupFolder } from '../../src/infrastructure/persistence/pg-rollup-folder';
import { ingest } from '../support/records';
import { createTestApp, type TestApp } from '../support/test-app';
import { rollupsAndRecomputations } from '../support/usage-checks';
import { adminOf, getOk, RECORDS, type Headers } from '../support/usage-dataset';

/**
 * Ingest queues each batch's sums in usage_pending; the service folds them into the rollups
 * in the background. Every answer must be the same before and after the fold.
 */
let t: TestApp;
let admin: Headers;
beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => new Date('2026-03-31T12:00:00Z') } });
  admin = adminOf(t, 'queued');
});
afterAll(async () => t.close());

const pendingRows = async (): Promise<number> =>
  ((await t.db.query(`SELECT count(*)::int AS n FROM usage_pending`)) as Array<{ n: number }>)[0]!.n;

const ENDPOINTS: Array<[string, Record<string, string>]> = [
  ['/v1/admin/usage/stats', { tz: 'Europe/Berlin' }],
  ['/v1/admin/usage/providers', { tz: 'America/New_York' }],
  ['/v1/admin/usage/providers', { tz: 'Asia/Kolkata' }],
  ['/v1/admin/usage/providers', { tz: 'UTC', granularity: 'hour', from: '2026-03-28T10:30:00Z' }],
  ['/v1/admin/usage/models', { limit: '2' }],
  ['/v1/admin/usage/users', { sort: 'cost' }],
  ['/v1/admin/usage/users/alice', { tz: 'Asia/Tokyo' }],
];
const answers = () => Promise.all(ENDPOINTS.map(([path, query]) => getOk(t, path, admin, query)));

describe('usage not yet folded into the rollups', () => {
  it('is counted exactly once by every endpoint, before and after the fold', async () => {
    await ingest(t, admin, RECORDS.slice(0, 8), { fold: false });
    await foldPending(t.db);
    await ingest(t, admin, RECORDS.slice(8), { fold: false }); // these stay pending
    expect(await pendingRows()).toBeGreaterThan(0);
    const before = await answers();

    expect(await foldPending(t.db)).toBeGreaterThan(0);
    expect(await pendingRows()).toBe(0);
    expect(await answers()).toEqual(before);
    const stats = before[0] as { totals: { requests: number } };
    expect(stats.totals.requests).toBeGreaterThan(0);
    for (const { table, rollup, recomputed } of await rollupsAndRecomputations(t.db)) {
      expect(rollup, table).toEqual(recomputed);
    }
  });

  it('is folded by the background folder the service runs', async () => {
    await ingest(
      t,
      admin,
      [{ requestId: 'late-1', userId: 'zoe', provider: 'openai', model: 'gpt-4o', inputTokens: 5, outputTokens: 1 }],
      { fold: false },
    );
    expect(await pendingRows()).toBe(1);
    const folder = startRollupFolder(
      t.db,
      (error) => {
        throw error;
      },
      20,
    );
    try {
      for (let i = 0; i < 100 && (await pendingRows()) > 0; i += 1) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await folder.stop();
    }
    expect(await pendingRows()).toBe(0);
    const [row] = (await t.db.query(
      `SELECT sum(requests)::int AS n FROM usage_daily_users WHERE workspace_id = 'queued' AND user_id = 'zoe'`,
    )) as Array<{ n: number }>;
    expect(row!.n).toBe(1);
  });
});
