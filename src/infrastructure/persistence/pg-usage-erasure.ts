import { setTimeout as sleep } from 'node:timers/promises';
import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { ErasedUsage, UsageErasure } from '../../application/ports/usage-erasure.port';
import { ADDITIVE_METRICS } from './rollup-metrics';

/** Rollups keyed by user: the user's rows go. */
const USER_ROLLUPS = ['usage_hourly', 'usage_hourly_users', 'usage_daily_users'];
/** Every rollup, in the order the exclusive attempt locks them. */
const ALL_ROLLUPS = ['usage_hourly', 'usage_hourly_models', 'usage_hourly_users', 'usage_daily_users'];

/**
 * Row locks on everything the erasure will change, each table in primary-key order, taken
 * before anything is changed. Under REPEATABLE READ a row that a concurrent ingest changed
 * after our snapshot fails here with a serialization error, instead of being erased together
 * with sums whose raw records the snapshot cannot see. Optimistic attempts lock NOWAIT: an
 * erasure never waits for a row while holding others, so it is never part of a deadlock
 * with ingest (which upserts the rollups in an order of its own) and never makes an ingest
 * fail; it gives up and tries again instead.
 */
const LOCKS = [
  `SELECT 1 FROM usage_hourly WHERE workspace_id = $1 AND user_id = $2
   ORDER BY bucket_start, user_id, provider, model FOR UPDATE`,
  `SELECT 1 FROM usage_hourly_models m
   JOIN usage_hourly h ON h.workspace_id = m.workspace_id AND h.bucket_start = m.bucket_start
     AND h.provider = m.provider AND h.model = m.model
   WHERE h.workspace_id = $1 AND h.user_id = $2
   ORDER BY m.bucket_start, m.provider, m.model FOR UPDATE OF m`,
  `SELECT 1 FROM usage_hourly_users WHERE workspace_id = $1 AND user_id = $2 ORDER BY bucket_start FOR UPDATE`,
  `SELECT 1 FROM usage_daily_users WHERE workspace_id = $1 AND user_id = $2 ORDER BY day_start FOR UPDATE`,
];

const SAME_MODEL_HOUR = `m.workspace_id = $1 AND m.bucket_start = x.bucket_start
    AND m.provider = x.provider AND m.model = x.model`;

/**
 * One statement, one snapshot. The user's raw records (every partition kept) and the ledger
 * entries of exactly those request ids (the ledger is keyed by request id alone); the user's
 * rows of every per-user rollup; and the user's share taken out of the model rollup, which
 * has no user column: the per-user hourly rows being deleted say exactly what the user added
 * to each model-hour (also for hours whose raw partition retention already dropped). A
 * model-hour only the user had disappears; otherwise the sums are reduced and the latest
 * occurrence is looked up among the other users' rows when it was the user's.
 */
const ERASE = `
WITH records AS (
  DELETE FROM usage_records WHERE workspace_id = $1 AND user_id = $2
  RETURNING request_id
),
request_ids AS (
  DELETE FROM usage_request_ids l USING records r
  WHERE l.workspace_id = $1 AND l.request_id = r.request_id
  RETURNING 1
),
hourly AS (
  DELETE FROM usage_hourly WHERE workspace_id = $1 AND user_id = $2
  RETURNING bucket_start, provider, model, last_occurred_at, ${ADDITIVE_METRICS.join(', ')}
),
${USER_ROLLUPS.slice(1)
  .map(
    (table) =>
      `erased_${table} AS (\n  DELETE FROM ${table} WHERE workspace_id = $1 AND user_id = $2\n  RETURNING 1\n),`,
  )
  .join('\n')}
models_emptied AS (
  DELETE FROM usage_hourly_models m USING hourly x
  WHERE ${SAME_MODEL_HOUR} AND m.requests = x.requests
  RETURNING 1
),
models_reduced AS (
  UPDATE usage_hourly_models m SET
    ${ADDITIVE_METRICS.map((c) => `${c} = m.${c} - x.${c}`).join(',\n    ')},
    last_occurred_at = CASE WHEN x.last_occurred_at < m.last_occurred_at THEN m.last_occurred_at ELSE (
      SELECT max(h.last_occurred_at) FROM usage_hourly h
      WHERE h.workspace_id = $1 AND h.bucket_start = m.bucket_start AND h.provider = m.provider
        AND h.model = m.model AND h.user_id <> $2) END
  FROM hourly x
  WHERE ${SAME_MODEL_HOUR} AND m.requests > x.requests
  RETURNING 1
)
SELECT (SELECT count(*) FROM records)::text AS records,
       (SELECT count(*) FROM request_ids)::text AS request_ids,
       ((SELECT count(*) FROM hourly)
        + ${USER_ROLLUPS.slice(1)
          .map((table) => `(SELECT count(*) FROM erased_${table})`)
          .join(' + ')}
        + (SELECT count(*) FROM models_emptied))::text AS rollup_rows,
       (SELECT count(*) FROM models_reduced)::text AS models_reduced`;

/** Optimistic tries; the ones after them block concurrent rollup writers instead. */
const OPTIMISTIC_ATTEMPTS = 3;
const MAX_ATTEMPTS = 5;
/** serialization failure, deadlock (only erasures racing each other), row locked (NOWAIT) */
const RETRYABLE = new Set(['40001', '40P01', '55P03']);

function isRetryable(error: unknown): boolean {
  const failure = error as { code?: unknown; driverError?: { code?: unknown } };
  const code = failure.code ?? failure.driverError?.code;
  return typeof code === 'string' && RETRYABLE.has(code);
}

@injectable()
export class PgUsageErasure implements UsageErasure {
  constructor(@inject(DataSource) private readonly db: DataSource) {}

  /**
   * Runs optimistically first: a concurrent ingest holding or having changed one of the rows
   * (the user still sending usage, or a model-hour others are using right now) makes the
   * attempt give up and start over on a fresh snapshot. Should that keep happening, the
   * later attempts take SHARE ROW EXCLUSIVE locks on the rollup tables first: every ingest
   * in flight finishes before, every new one waits until the erasure commits (a short pause
   * for all ingest, the price of an exact result). Reads never wait.
   */
  async eraseUser(workspaceId: string, userId: string): Promise<ErasedUsage> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.attempt(workspaceId, userId, attempt > OPTIMISTIC_ATTEMPTS);
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || !isRetryable(error)) throw error;
        await sleep(20 * attempt + Math.floor(Math.random() * 20));
      }
    }
  }

  private attempt(workspaceId: string, userId: string, exclusive: boolean): Promise<ErasedUsage> {
    return this.db.transaction('REPEATABLE READ', async (tx) => {
      // before the snapshot is taken, so that the snapshot sees every ingest that finished
      if (exclusive) await tx.query(`LOCK TABLE ${ALL_ROLLUPS.join(', ')} IN SHARE ROW EXCLUSIVE MODE`);
      for (const lock of LOCKS) await tx.query(exclusive ? lock : `${lock} NOWAIT`, [workspaceId, userId]);
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
