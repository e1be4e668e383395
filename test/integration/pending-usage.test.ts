import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  foldPending,
  startRollupFolder,
  type VacuumPolicy,
} from '../../src/infrastructure/persistence/pg-rollup-folder';
import { ADDITIVE_METRICS, PENDING_COLUMNS } from '../../src/infrastructure/persistence/rollup-registry';
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

  const fillPending = async (workspace: string, rows: number): Promise<void> => {
    const values: Record<string, string> = {
      workspace_id: `'${workspace}'`,
      bucket_start: `timestamptz '2026-03-30T00:00:00Z' + (i % 24) * interval '1 hour'`,
      slot_start: `timestamptz '2026-03-30T00:00:00Z' + (i % 24) * interval '1 hour'`,
      user_id: `'user-' || i`,
      provider: `'openai'`,
      model: `'gpt-4o'`,
      operation: `'chat'`,
      last_occurred_at: `timestamptz '2026-03-30T00:00:00Z'`,
      ...Object.fromEntries(ADDITIVE_METRICS.map((m) => [m, '1'])),
    };
    await t.db.query(
      `INSERT INTO usage_pending (${PENDING_COLUMNS.join(', ')})
       SELECT ${PENDING_COLUMNS.map((c) => values[c]).join(', ')} FROM generate_series(1, ${rows}) i`,
    );
  };
  // how the Usage tab reads one user's pending usage: a bitmap scan of the hour index
  const pagesReadByProbe = async (workspace: string): Promise<number> =>
    t.db.transaction(async (tx) => {
      await tx.query('SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off');
      const [row] = (await tx.query(
        `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM usage_pending
         WHERE workspace_id = $1 AND bucket_start >= '2026-03-30' AND bucket_start < '2026-03-31'
           AND user_id = 'user-7'`,
        [workspace],
      )) as Array<{ 'QUERY PLAN': Array<{ Plan: { 'Shared Hit Blocks': number; 'Shared Read Blocks': number } }> }>;
      const plan = row!['QUERY PLAN'][0]!.Plan;
      return plan['Shared Hit Blocks'] + plan['Shared Read Blocks'];
    });
  const runFolderUntil = async (
    vacuum: VacuumPolicy,
    done: () => Promise<boolean>,
    meanwhile: () => Promise<void> = async () => {},
  ): Promise<void> => {
    const folder = startRollupFolder(
      t.db,
      (error) => {
        throw error;
      },
      20,
      2_000,
      vacuum,
    );
    try {
      await meanwhile();
      for (let i = 0; i < 250 && !(await done()); i += 1) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await folder.stop();
    }
  };

  it('leaves no deleted rows behind for the next reads of pending usage to walk', async () => {
    let pages = Number.POSITIVE_INFINITY;
    await runFolderUntil(
      // not the vacuum at the start, nor one after a quiet minute: the one after 1,000 rows
      { afterRows: 1_000, gapMs: 0, idleMs: 60_000 },
      async () => (pages = await pagesReadByProbe('swept')) <= 3,
      async () => {
        await new Promise((r) => setTimeout(r, 200));
        await fillPending('swept', 20_000);
      },
    );
    expect(await pendingRows()).toBe(0);
    // the 20,000 deleted rows' index entries and heap pages took well over a hundred
    expect(pages).toBeLessThanOrEqual(3);
  });

  it('vacuums again what an older snapshot kept from the first vacuum', async () => {
    await fillPending('kept', 20_000);
    const reader = t.db.createQueryRunner();
    await reader.connect();
    try {
      // a long report's snapshot, older than the fold's deletions
      await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await reader.query('SELECT count(*) FROM usage_pending');
      await foldPending(t.db);
      expect(await pendingRows()).toBe(0);
      let reportEnded = false;
      const started = Date.now();
      // the vacuum at the start can remove nothing; the report ends before the next one
      await runFolderUntil({ afterRows: 1_000, gapMs: 0, idleMs: 1_000 }, async () => {
        if (!reportEnded && Date.now() - started > 100) {
          await reader.query('COMMIT');
          reportEnded = true;
        }
        return reportEnded && (await pagesReadByProbe('kept')) <= 3;
      });
      expect(await pagesReadByProbe('kept')).toBeLessThanOrEqual(3);
    } finally {
      await reader.release();
    }
  });
});
