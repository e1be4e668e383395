import type { DataSource } from 'typeorm';
import { ADVISORY_LOCKS } from './advisory-locks';
import { PENDING } from './rollup-registry';

/** The index ingest and every read of pending usage go through. */
export const PENDING_INDEX = `${PENDING.table}_hour`;

/** At most this many rows pending and an index this large: it is left over from a backlog. */
const FEW_ROWS = 20_000;
export const BLOATED_INDEX_BYTES = 16 * 1024 * 1024;

/** How long the rebuild may wait for transactions that began before it; it is tried again later. */
const WAIT_FOR_OLDER_TRANSACTIONS_MS = 10_000;

/** PostgreSQL's lock_not_available: the wait above ran out. */
export const LOCK_NOT_AVAILABLE = '55P03';

/** When the index counts as left over from a backlog, and how long its rebuild may wait (tests lower both). */
export interface PendingIndexLimits {
  bloatedBytes?: number;
  waitMs?: number;
}

/**
 * Rebuilds usage_pending's index where a backlog left it large and the queue is small again.
 * A btree gives no space back when its rows go: on a copy of the bench's data that had seen
 * backlogs it kept 34 MB for an empty queue, and each of the fold's vacuums (up to one a second
 * under ingest) read all of it, 30–90 ms each with 35 MB against a few once rebuilt. Rebuilt
 * concurrently: ingest, reads and the fold go on meanwhile (only a vacuum waits, and the
 * fold's skips). One instance at a time; a rebuild that could not finish (a long transaction
 * kept it waiting) leaves an invalid copy, dropped before the next try. Returns whether it
 * rebuilt the index.
 */
export async function compactPendingIndex(
  db: DataSource,
  { bloatedBytes = BLOATED_INDEX_BYTES, waitMs = WAIT_FOR_OLDER_TRANSACTIONS_MS }: PendingIndexLimits = {},
): Promise<boolean> {
  const runner = db.createQueryRunner();
  await runner.connect();
  try {
    const [lock] = (await runner.query('SELECT pg_try_advisory_lock($1) AS ok', [
      ADVISORY_LOCKS.pendingIndex,
    ])) as Array<{
      ok: boolean;
    }>;
    if (!lock?.ok) return false;
    try {
      const [state] = (await runner.query(
        `SELECT coalesce(pg_relation_size(to_regclass($1)), 0) AS bytes, (SELECT count(*) FROM (SELECT 1 FROM ${PENDING.table} LIMIT $2) x) AS n`,
        [PENDING_INDEX, FEW_ROWS],
      )) as Array<{ bytes: string; n: string }>;
      if (Number(state!.bytes) <= bloatedBytes || Number(state!.n) >= FEW_ROWS) return false;
      const invalid = (await runner.query(
        `SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE i.indrelid = $1::regclass AND NOT i.indisvalid`,
        [PENDING.table],
      )) as Array<{ relname: string }>;
      for (const { relname } of invalid) await runner.query(`DROP INDEX CONCURRENTLY IF EXISTS "${relname}"`);
      await runner.query(`SET lock_timeout = ${Math.max(1, Math.round(waitMs))}`);
      try {
        await runner.query(`REINDEX INDEX CONCURRENTLY ${PENDING_INDEX}`);
        return true;
      } catch (error) {
        if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) return false;
        throw error;
      } finally {
        await runner.query('RESET lock_timeout');
      }
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.pendingIndex]);
    }
  } finally {
    await runner.release();
  }
}
