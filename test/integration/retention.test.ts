import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADVISORY_LOCKS } from '../../src/infrastructure/persistence/advisory-locks';
import { maintainStorage } from '../../src/infrastructure/persistence/maintenance';
import { dropPartitionsBefore } from '../../src/infrastructure/persistence/partitions';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';
import { rollupTotals, usageTables } from '../support/usage-checks';

const RETENTION_DAYS = 30;
let now = new Date('2025-03-20T12:00:00Z'); // window starts 2025-02-18T12:00Z

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => now }, rawRetentionDays: RETENTION_DAYS });
});
afterAll(async () => t.close());

const partitions = async (): Promise<string[]> =>
  (
    (await t.db.query(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'usage_records'::regclass ORDER BY c.relname`,
    )) as Array<{ relname: string }>
  ).map((row) => row.relname);

const exists = async (table: string): Promise<boolean> => {
  const [row] = (await t.db.query('SELECT to_regclass($1) IS NOT NULL AS present', [table])) as Array<{
    present: boolean;
  }>;
  return row!.present;
};

const record = (requestId: string, occurredAt: string, userId = 'alice', model = 'gpt-4o') =>
  usageRecord({
    requestId,
    userId,
    occurredAt,
    provider: 'openai',
    model,
    inputTokens: 1200,
    cachedInputTokens: 200,
    outputTokens: 300,
    durationMs: 900,
  });

describe('raw retention', () => {
  it('drops whole partitions past the window and keeps the rollups and the dedup ledger', async () => {
    const admin = bearer(t.token('root', { role: 'admin' }));
    const february = [
      record('feb-1', '2025-02-20T09:15:00Z'),
      record('feb-2', '2025-02-20T09:45:00Z', 'bob'),
      record('feb-3', '2025-02-27T23:59:59.999Z', 'alice', 'tally-unknown'),
    ];
    const march = [record('mar-1', '2025-03-02T10:00:00Z'), record('mar-2', '2025-03-19T10:00:00Z', 'bob')];
    expect(await ingest(t, admin, [...february, ...march])).toMatchObject({ accepted: 5, duplicates: 0, rejected: [] });
    const totalsBefore = await rollupTotals(t.db, 'default');
    expect(totalsBefore.map((row) => row.requests)).toEqual(['2', '1', '2']);
    // rollups and ledger; the 15-minute slots are kept for the raw months only
    const { usage_records: _rawBefore, usage_slot_providers: slotsBefore, ...keptBefore } = await usageTables(t.db);

    // Eight weeks later: the window starts 2025-03-16, all of February is older than it,
    // March only partly, so March stays.
    now = new Date('2025-04-15T00:00:00Z');
    const changes = await maintainStorage(t.db, now, RETENTION_DAYS);
    expect(changes.dropped).toContain('usage_records_p202502');
    expect(changes.dropped).not.toContain('usage_records_p202503');
    expect(changes.dropped.every((name) => name < 'usage_records_p202503')).toBe(true);

    const left = await partitions();
    expect(left).not.toContain('usage_records_p202502');
    expect(left[0]).toBe('usage_records_p202503');
    expect(await exists('usage_records_p202502')).toBe(false);
    expect(await exists('usage_records_p202503')).toBe(true);

    const raw = (await t.db.query(`SELECT request_id FROM usage_records ORDER BY request_id`)) as Array<{
      request_id: string;
    }>;
    expect(raw.map((row) => row.request_id)).toEqual(['mar-1', 'mar-2']);
    // history charts keep every hour, February included: every rollup row and the ledger unchanged
    const { usage_records: _rawAfter, usage_slot_providers: slotsAfter, ...keptAfter } = await usageTables(t.db);
    expect(Object.keys(keptAfter)).toEqual(expect.arrayContaining(['usage_hourly', 'usage_request_ids']));
    expect(keptAfter).toEqual(keptBefore);
    expect(slotsBefore!.map((row) => row.slot_start)).toEqual([
      '2025-02-20 09:15:00+00',
      '2025-02-20 09:45:00+00',
      '2025-02-27 23:45:00+00',
      '2025-03-02 10:00:00+00',
      '2025-03-19 10:00:00+00',
    ]);
    expect(slotsAfter).toEqual(slotsBefore!.slice(3));
    expect(await rollupTotals(t.db, 'default')).toEqual(totalsBefore);
    const [ledger] = (await t.db.query(
      `SELECT count(*)::int AS n FROM usage_request_ids WHERE request_id LIKE 'feb-%'`,
    )) as Array<{ n: number }>;
    expect(ledger!.n).toBe(3);

    // a late re-send of a dropped record is refused, as anything older than the window is
    const resent = await ingest(t, admin, [february[0]!]);
    expect(resent.accepted).toBe(0);
    expect(resent.rejected).toHaveLength(1);
    expect(resent.rejected[0]!.errors[0]).toMatchObject({ path: '/occurredAt' });
    expect(resent.rejected[0]!.errors[0]!.message).toMatch(/older than the raw retention window/);
    // …and with a fresh occurredAt it is still a duplicate: the ledger outlived the partition
    expect(await ingest(t, admin, [{ ...february[1]!, occurredAt: '2025-04-14T08:00:00Z' }])).toMatchObject({
      accepted: 0,
      duplicates: 1,
    });
    expect(await rollupTotals(t.db, 'default')).toEqual(totalsBefore);

    // new usage still lands, in a partition created ahead of time
    expect(await ingest(t, admin, [record('apr-1', '2025-04-14T08:00:00Z')])).toMatchObject({ accepted: 1 });
    const after = await rollupTotals(t.db, 'default');
    expect(after.find((row) => row.user_id === 'alice' && row.model === 'gpt-4o')!.requests).toBe('3');

    // running again drops nothing more
    expect((await maintainStorage(t.db, now, RETENTION_DAYS)).dropped).toEqual([]);
  });

  it('finishes a detach that was interrupted half-way', async () => {
    const target = 'usage_records_p202503';
    const blocker = new pg.Client({ connectionString: t.databaseUrl });
    const detacher = new pg.Client({ connectionString: t.databaseUrl });
    await blocker.connect();
    await detacher.connect();
    try {
      // a reader keeps the parent table in use, so the detach waits for it and times out
      await blocker.query('BEGIN');
      await blocker.query('SELECT count(*) FROM usage_records');
      await detacher.query(`SET statement_timeout = '300ms'`);
      await expect(detacher.query(`ALTER TABLE usage_records DETACH PARTITION ${target} CONCURRENTLY`)).rejects.toThrow(
        /statement timeout/,
      );
      await blocker.query('COMMIT');
      const [pending] = (await t.db.query(
        `SELECT i.inhdetachpending FROM pg_inherits i WHERE i.inhrelid = $1::regclass`,
        [target],
      )) as Array<{ inhdetachpending: boolean }>;
      expect(pending!.inhdetachpending).toBe(true);
    } finally {
      await blocker.end();
      await detacher.end();
    }

    expect(await dropPartitionsBefore(t.db, new Date('2025-04-01T00:00:00Z'))).toEqual([target]);
    expect(await exists(target)).toBe(false);
    expect(await partitions()).not.toContain(target);
  });

  it('never drops a partition that still holds part of the window', async () => {
    const cutoff = new Date('2025-04-30T23:59:59.999Z');
    expect(await dropPartitionsBefore(t.db, cutoff)).toEqual([]);
    expect(await exists('usage_records_p202504')).toBe(true);
    // an upper bound equal to the cutoff is wholly before it
    expect(await dropPartitionsBefore(t.db, new Date('2025-05-01T00:00:00Z'))).toEqual(['usage_records_p202504']);
  });

  it('drops the plain way where a concurrent detach is refused (a DEFAULT partition here, Citus elsewhere)', async () => {
    await t.db.query('CREATE TABLE usage_records_default PARTITION OF usage_records DEFAULT');
    try {
      expect(await dropPartitionsBefore(t.db, new Date('2025-06-01T00:00:00Z'))).toEqual(['usage_records_p202505']);
      expect(await exists('usage_records_p202505')).toBe(false);
      // a DEFAULT partition has no upper bound: never dropped
      expect(await dropPartitionsBefore(t.db, new Date('2100-01-01T00:00:00Z'))).not.toContain('usage_records_default');
      expect(await exists('usage_records_default')).toBe(true);
    } finally {
      await t.db.query('DROP TABLE IF EXISTS usage_records_default');
    }
  });

  it('forgets slots without waiting for the fold lock where nothing lies before the window, and waits where something does', async () => {
    const admin = bearer(t.token('root', { role: 'admin', workspaceId: 'slots' }));
    const slots = async () =>
      (
        (await t.db.query(
          `SELECT count(*)::int AS n FROM usage_slot_providers WHERE workspace_id = 'slots'`,
        )) as Array<{ n: number }>
      )[0]!.n;
    const holder = new pg.Client({ connectionString: t.databaseUrl });
    await holder.connect();
    try {
      // another process folds (or erases) and holds the fold lock meanwhile; were maintenance
      // to wait for it, this would time out
      await holder.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.rollups]);
      await maintainStorage(t.db, now, RETENTION_DAYS);

      // May, still pending, leaves the window (2025-07-15 keeps from 2025-06-15 on): its
      // pending usage is folded under the lock, and its slots forgotten with it
      now = new Date('2025-05-20T12:00:00Z');
      expect(await ingest(t, admin, [record('may-1', '2025-05-02T10:00:00Z')], { fold: false })).toMatchObject({
        accepted: 1,
      });
      let done = false;
      const forgetting = maintainStorage(t.db, new Date('2025-07-15T12:00:00Z'), RETENTION_DAYS).then(() => {
        done = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(done).toBe(false);
      await holder.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.rollups]);
      await forgetting;
      expect(await slots()).toBe(0);
      expect(await t.db.query(`SELECT count(*)::int AS n FROM usage_pending`)).toEqual([{ n: 0 }]);
      expect(
        await t.db.query(`SELECT sum(requests)::int AS n FROM usage_monthly_users WHERE workspace_id = 'slots'`),
      ).toEqual([{ n: 1 }]);
    } finally {
      await holder.end();
    }
  });
});
