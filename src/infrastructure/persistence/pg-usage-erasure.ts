import { setTimeout as sleep } from 'node:timers/promises';
import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { ErasedUsage, UsageErasure } from '../../application/ports/usage-erasure.port';

/**
 * Locks the user's rollup rows in primary-key order, the order ingest's upsert takes them
 * in, so erasure and ingest never deadlock. Under REPEATABLE READ a row that a concurrent
 * ingest changed after our snapshot fails with a serialization error instead of being
 * deleted together with sums whose raw records we cannot see.
 */
const LOCK_USER_ROLLUP = `
SELECT 1 FROM usage_hourly
WHERE workspace_id = $1 AND user_id = $2
ORDER BY bucket_start, user_id, provider, model
FOR UPDATE`;

/**
 * One statement, one snapshot: the user's raw records (every partition), the ledger entries
 * of exactly those request ids, and the user's rollup rows. The ledger is keyed by request
 * id alone, so its rows are found through the raw records they stand for.
 */
const ERASE = `
WITH records AS (
  DELETE FROM usage_records
  WHERE workspace_id = $1 AND user_id = $2
  RETURNING request_id
),
request_ids AS (
  DELETE FROM usage_request_ids l
  USING records r
  WHERE l.workspace_id = $1 AND l.request_id = r.request_id
  RETURNING 1
),
rollup AS (
  DELETE FROM usage_hourly
  WHERE workspace_id = $1 AND user_id = $2
  RETURNING 1
)
SELECT (SELECT count(*) FROM records)::text AS records,
       (SELECT count(*) FROM request_ids)::text AS request_ids,
       (SELECT count(*) FROM rollup)::text AS rollup_rows`;

/** Optimistic tries before the last one, which blocks concurrent rollup writers instead. */
const OPTIMISTIC_ATTEMPTS = 3;
const RETRYABLE = new Set(['40001', '40P01']); // serialization failure, deadlock

function isRetryable(error: unknown): boolean {
  const failure = error as { code?: unknown; driverError?: { code?: unknown } };
  const code = failure.code ?? failure.driverError?.code;
  return typeof code === 'string' && RETRYABLE.has(code);
}

@injectable()
export class PgUsageErasure implements UsageErasure {
  constructor(@inject(DataSource) private readonly db: DataSource) {}

  /**
   * Runs optimistically first: a concurrent ingest of the same user makes the attempt fail
   * and start over on a fresh snapshot. Should that keep happening (a user still sending
   * usage), the last attempt takes a SHARE ROW EXCLUSIVE lock on usage_hourly first: every
   * ingest in flight finishes before it and every new one waits until it commits, so it
   * cannot fail. Reads never wait.
   */
  async eraseUser(workspaceId: string, userId: string): Promise<ErasedUsage> {
    for (let attempt = 1; ; attempt += 1) {
      const exclusive = attempt > OPTIMISTIC_ATTEMPTS;
      try {
        return await this.attempt(workspaceId, userId, exclusive);
      } catch (error) {
        if (exclusive || !isRetryable(error)) throw error;
        await sleep(10 * attempt);
      }
    }
  }

  private attempt(workspaceId: string, userId: string, exclusive: boolean): Promise<ErasedUsage> {
    return this.db.transaction('REPEATABLE READ', async (tx) => {
      // before the first snapshot is taken, so that the snapshot sees every finished ingest
      if (exclusive) await tx.query('LOCK TABLE usage_hourly IN SHARE ROW EXCLUSIVE MODE');
      await tx.query(LOCK_USER_ROLLUP, [workspaceId, userId]);
      const [row] = (await tx.query(ERASE, [workspaceId, userId])) as Array<{
        records: string;
        request_ids: string;
        rollup_rows: string;
      }>;
      return {
        deletedRecords: Number(row?.records ?? 0),
        deletedRollupRows: Number(row?.rollup_rows ?? 0),
        deletedRequestIds: Number(row?.request_ids ?? 0),
      };
    });
  }
}
