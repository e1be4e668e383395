import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maintainStorage } from '../../src/infrastructure/persistence/maintenance';
import { compactPendingIndex, PENDING_INDEX } from '../../src/infrastructure/persistence/pending-index';
import { foldPending, vacuumPending } from '../../src/infrastructure/persistence/pg-rollup-folder';
import { ingest, usageRecords } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';
import { rollupsAndRecomputations } from '../support/usage-checks';

const RAW_RETENTION_DAYS = 3650;

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ rawRetentionDays: RAW_RETENTION_DAYS });
});
afterAll(async () => t.close());

const indexBytes = async (): Promise<number> =>
  Number(
    (
      (await t.db.query(`SELECT pg_relation_size($1::regclass) AS bytes`, [PENDING_INDEX])) as Array<{ bytes: string }>
    )[0]!.bytes,
  );

/** A backlog: `n` records queued and not folded, in batches as ingest takes them. */
async function backlog(n: number, prefix: string): Promise<void> {
  const admin = bearer(t.token('admin', { role: 'admin', workspaceId: 'w' }));
  for (let from = 0; from < n; from += 1000) {
    const records = usageRecords(1000, (i) => ({
      requestId: `${prefix}-${from + i}`,
      userId: `u${(from + i) % 97}`,
      model: `m${(from + i) % 13}`,
      inputTokens: 10,
      outputTokens: 1,
    }));
    await ingest(t, admin, records, { expectAccepted: true, fold: false });
  }
}

describe('the pending queue’s index after a backlog', () => {
  it('is rebuilt small once the backlog is folded, not while it lasts, and the usage stays exact', async () => {
    await backlog(20_000, 'a');
    const grown = await indexBytes();
    // while the backlog is queued the index is needed as it is
    expect(await compactPendingIndex(t.db, { bloatedBytes: 64 * 1024 })).toBe(false);

    await foldPending(t.db);
    await vacuumPending(t.db);
    expect(await indexBytes()).toBe(grown); // a btree keeps its pages when its rows go
    // the service's storage maintenance is what rebuilds it
    const changes = await maintainStorage(t.db, new Date(), RAW_RETENTION_DAYS, { bloatedBytes: 64 * 1024 });
    expect(changes.pendingIndexRebuilt).toBe(true);
    expect(await indexBytes()).toBeLessThan(grown / 4);
    // small now: nothing more to do
    expect(await compactPendingIndex(t.db, { bloatedBytes: 64 * 1024 })).toBe(false);

    // and the queue works through it as before
    await backlog(2_000, 'b');
    for (const { table, rollup, recomputed } of await rollupsAndRecomputations(t.db)) {
      expect(rollup, table).toEqual(recomputed);
    }
  });

  it('gives up for now, leaving the index valid, while an older transaction keeps it waiting', async () => {
    await backlog(20_000, 'c');
    await foldPending(t.db);
    const reader = new pg.Client({ connectionString: t.databaseUrl });
    await reader.connect();
    try {
      // a long report holding its snapshot
      await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await reader.query('SELECT count(*) FROM usage_pending');
      expect(await compactPendingIndex(t.db, { bloatedBytes: 64 * 1024, waitMs: 300 })).toBe(false);
    } finally {
      await reader.query('COMMIT');
      await reader.end();
    }
    // the copy it left half-built is dropped by the next try, which rebuilds the index
    expect(await compactPendingIndex(t.db, { bloatedBytes: 64 * 1024 })).toBe(true);
    const indexes = (await t.db.query(
      `SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       WHERE i.indrelid = 'usage_pending'::regclass ORDER BY 1`,
    )) as Array<{ relname: string; indisvalid: boolean }>;
    expect(indexes).toEqual([{ relname: PENDING_INDEX, indisvalid: true }]);
  });
});
