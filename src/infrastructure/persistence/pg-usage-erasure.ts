import { setTimeout as sleep } from 'node:timers/promises';
import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { ErasedUsage, UsageErasure } from '../../application/ports/usage-erasure.port';
import { ROLLUP_LOCK_KEY } from './pg-rollup-folder';
import { ADDITIVE_METRICS } from './rollup-metrics';

/** Rollups keyed by user, with their primary key after workspace_id: the user's rows go. */
const USER_ROLLUPS: Array<[table: string, key: string]> = [
  ['usage_hourly', 'bucket_start, user_id, provider, model'],
  ['usage_daily_user_models', 'user_id, day_start, provider, model'],
  ['usage_daily_users', 'day_start, user_id'],
  ['usage_monthly_user_models', 'user_id, month_start, provider, model'],
  ['usage_monthly_users', 'month_start, user_id'],
];

/** Rollups without a user column, each key column with how it derives from a usage_hourly row. */
const SHARED_ROLLUPS: Array<{ table: string; keys: Array<[column: string, fromHourly: string]> }> = [
  {
    table: 'usage_monthly_models',
    keys: [
      ['month_start', "date_trunc('month', bucket_start, 'UTC')"],
      ['provider', 'provider'],
      ['model', 'model'],
    ],
  },
  {
    table: 'usage_daily_models',
    keys: [
      ['day_start', "date_trunc('day', bucket_start, 'UTC')"],
      ['provider', 'provider'],
      ['model', 'model'],
    ],
  },
  {
    table: 'usage_hourly_models',
    keys: [
      ['bucket_start', 'bucket_start'],
      ['provider', 'provider'],
      ['model', 'model'],
    ],
  },
  {
    table: 'usage_monthly_providers',
    keys: [
      ['month_start', "date_trunc('month', bucket_start, 'UTC')"],
      ['provider', 'provider'],
    ],
  },
  {
    table: 'usage_daily_providers',
    keys: [
      ['day_start', "date_trunc('day', bucket_start, 'UTC')"],
      ['provider', 'provider'],
    ],
  },
  {
    table: 'usage_hourly_providers',
    keys: [
      ['bucket_start', 'bucket_start'],
      ['provider', 'provider'],
    ],
  },
];

/** Every rollup, in the order the exclusive attempt locks them. */
const ALL_ROLLUPS = [...USER_ROLLUPS.map(([table]) => table), ...SHARED_ROLLUPS.map((r) => r.table)];

const keyList = (r: (typeof SHARED_ROLLUPS)[number], alias = ''): string =>
  r.keys.map(([column]) => `${alias}${column}`).join(', ');

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
  ...USER_ROLLUPS.map(
    ([table, key]) => `SELECT 1 FROM ${table} WHERE workspace_id = $1 AND user_id = $2 ORDER BY ${key} FOR UPDATE`,
  ),
  ...SHARED_ROLLUPS.map(
    (r) => `SELECT 1 FROM ${r.table} m
   WHERE m.workspace_id = $1 AND (${keyList(r, 'm.')}) IN (
     SELECT ${r.keys.map(([, fromHourly]) => fromHourly).join(', ')} FROM usage_hourly
     WHERE workspace_id = $1 AND user_id = $2)
   ORDER BY ${keyList(r, 'm.')} FOR UPDATE OF m`,
  ),
];

/** The user's share of one shared rollup: taken out of its rows, rows only the user had deleted. */
function shareRemoval(r: (typeof SHARED_ROLLUPS)[number], index: number): string {
  const same = r.keys.map(([column]) => `m.${column} = x.${column}`).join(' AND ');
  return `share_${index} AS (
  SELECT ${r.keys.map(([column, fromHourly]) => `${fromHourly} AS ${column}`).join(', ')},
    ${ADDITIVE_METRICS.map((c) => `sum(${c}) AS ${c}`).join(', ')}
  FROM hourly GROUP BY ${keyList(r)}
),
emptied_${index} AS (
  DELETE FROM ${r.table} m USING share_${index} x
  WHERE m.workspace_id = $1 AND ${same} AND m.requests = x.requests
  RETURNING 1
),
reduced_${index} AS (
  UPDATE ${r.table} m SET
    ${ADDITIVE_METRICS.map((c) => `${c} = m.${c} - x.${c}`).join(',\n    ')}
  FROM share_${index} x
  WHERE m.workspace_id = $1 AND ${same} AND m.requests > x.requests
  RETURNING 1
)`;
}

/**
 * One statement, one snapshot. The user's raw records (every partition kept) and the ledger
 * entries of exactly those request ids (the ledger is keyed by request id alone); the user's
 * usage still pending for the rollups; the user's rows of every per-user rollup; and the user's share taken out of the rollups that have no
 * user column: the per-user hourly rows being deleted say exactly what the user added to
 * each of their rows (also for hours whose raw partition retention already dropped). A row
 * only the user had disappears; otherwise its sums are reduced.
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
pending AS (
  DELETE FROM usage_pending WHERE workspace_id = $1 AND user_id = $2
  RETURNING 1
),
hourly AS (
  DELETE FROM usage_hourly WHERE workspace_id = $1 AND user_id = $2
  RETURNING bucket_start, provider, model, ${ADDITIVE_METRICS.join(', ')}
),
${USER_ROLLUPS.slice(1)
  .map(
    ([table]) =>
      `erased_${table} AS (\n  DELETE FROM ${table} WHERE workspace_id = $1 AND user_id = $2\n  RETURNING 1\n),`,
  )
  .join('\n')}
${SHARED_ROLLUPS.map(shareRemoval).join(',\n')}
SELECT (SELECT count(*) FROM records)::text AS records,
       (SELECT count(*) FROM request_ids)::text AS request_ids,
       ((SELECT count(*) FROM hourly) + (SELECT count(*) FROM pending)
        + ${USER_ROLLUPS.slice(1)
          .map(([table]) => `(SELECT count(*) FROM erased_${table})`)
          .join(' + ')}
        + ${SHARED_ROLLUPS.map((_, i) => `(SELECT count(*) FROM emptied_${i})`).join(' + ')})::text AS rollup_rows`;

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

  private async attempt(workspaceId: string, userId: string, exclusive: boolean): Promise<ErasedUsage> {
    const runner = this.db.createQueryRunner();
    await runner.connect();
    try {
      // no background fold moves pending usage into the rollups meanwhile; a session lock,
      // taken before the transaction's snapshot, so that the snapshot sees the last fold
      await runner.query('SELECT pg_advisory_lock($1)', [ROLLUP_LOCK_KEY]);
      try {
        await runner.startTransaction('REPEATABLE READ');
        try {
          // before the snapshot is taken, so that the snapshot sees every ingest that finished
          if (exclusive) await runner.query(`LOCK TABLE ${ALL_ROLLUPS.join(', ')} IN SHARE ROW EXCLUSIVE MODE`);
          for (const lock of LOCKS) await runner.query(exclusive ? lock : `${lock} NOWAIT`, [workspaceId, userId]);
          const [row] = (await runner.query(ERASE, [workspaceId, userId])) as Array<{
            records: string;
            request_ids: string;
            rollup_rows: string;
          }>;
          await runner.commitTransaction();
          return {
            deletedRecords: Number(row?.records ?? 0),
            deletedRollupRows: Number(row?.rollup_rows ?? 0),
            deletedRequestIds: Number(row?.request_ids ?? 0),
          };
        } catch (error) {
          await runner.rollbackTransaction();
          throw error;
        }
      } finally {
        await runner.query('SELECT pg_advisory_unlock($1)', [ROLLUP_LOCK_KEY]);
      }
    } finally {
      await runner.release();
    }
  }
}
