import { setTimeout as sleep } from 'node:timers/promises';
import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { ErasedUsage, UsageErasure } from '../../application/ports/usage-erasure.port';
import { ROLLUP_LOCK_KEY } from './pg-rollup-folder';
import { ADDITIVE_METRICS, SLOT } from './rollup-metrics';

/** Rollups keyed by user: the user's rows go. usage_hourly comes first (see ERASE). */
const USER_ROLLUPS = [
  'usage_hourly',
  'usage_daily_user_models',
  'usage_daily_users',
  'usage_monthly_user_models',
  'usage_monthly_users',
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

const keyList = (r: (typeof SHARED_ROLLUPS)[number]): string => r.keys.map(([column]) => column).join(', ');

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

/** The user's records as rollup metrics. */
const RECORD_METRICS = `1, CASE WHEN success THEN 0 ELSE 1 END, input_tokens, output_tokens, cached_input_tokens,
  cache_write_tokens, reasoning_tokens, total_tokens, coalesce(duration_ms, 0), CASE WHEN duration_ms IS NULL THEN 0 ELSE 1 END,
  coalesce(cost, 0), CASE WHEN cost IS NULL THEN 1 ELSE 0 END`;

/**
 * The user's share of the 15-minute provider slots, which cover the raw months kept: the
 * user's raw records, less their sums still pending (not in the slots yet).
 */
const SLOT_SHARE = `slot_share AS (
  SELECT slot_start, provider, ${ADDITIVE_METRICS.map((c) => `sum(${c}) AS ${c}`).join(', ')}
  FROM (SELECT ${SLOT} AS slot_start, provider, ${RECORD_METRICS} FROM records
        UNION ALL
        SELECT slot_start, provider, ${ADDITIVE_METRICS.map((c) => `-${c}`).join(', ')} FROM pending
        WHERE slot_start IS NOT NULL) AS x (slot_start, provider, ${ADDITIVE_METRICS.join(', ')})
  GROUP BY 1, 2 HAVING sum(requests) <> 0
),
emptied_slots AS (
  DELETE FROM usage_slot_providers m USING slot_share x
  WHERE m.workspace_id = $1 AND m.slot_start = x.slot_start AND m.provider = x.provider AND m.requests = x.requests
  RETURNING 1
),
reduced_slots AS (
  UPDATE usage_slot_providers m SET
    ${ADDITIVE_METRICS.map((c) => `${c} = m.${c} - x.${c}`).join(',\n    ')}
  FROM slot_share x
  WHERE m.workspace_id = $1 AND m.slot_start = x.slot_start AND m.provider = x.provider AND m.requests > x.requests
  RETURNING 1
)`;

/**
 * One statement, one snapshot. The user's raw records (every partition kept) and the ledger
 * entries of exactly those request ids (the ledger is keyed by request id alone); the user's
 * usage still pending for the rollups; the user's rows of every per-user rollup; and the
 * user's share taken out of the rollups that have no user column: the per-user hourly rows
 * being deleted say exactly what the user added to each of their rows (also for hours whose
 * raw partition retention already dropped), the raw records what they added to the slots.
 * A row only the user had disappears; otherwise its sums are reduced.
 */
const ERASE = `
WITH records AS (
  DELETE FROM usage_records WHERE workspace_id = $1 AND user_id = $2
  RETURNING request_id, occurred_at, provider, success, input_tokens, output_tokens, cached_input_tokens,
    cache_write_tokens, reasoning_tokens, total_tokens, duration_ms, cost
),
request_ids AS (
  DELETE FROM usage_request_ids l USING records r
  WHERE l.workspace_id = $1 AND l.request_id = r.request_id
  RETURNING 1
),
pending AS (
  DELETE FROM usage_pending WHERE workspace_id = $1 AND user_id = $2
  RETURNING slot_start, provider, ${ADDITIVE_METRICS.join(', ')}
),
hourly AS (
  DELETE FROM usage_hourly WHERE workspace_id = $1 AND user_id = $2
  RETURNING bucket_start, provider, model, ${ADDITIVE_METRICS.join(', ')}
),
${USER_ROLLUPS.slice(1)
  .map(
    (table) =>
      `erased_${table} AS (\n  DELETE FROM ${table} WHERE workspace_id = $1 AND user_id = $2\n  RETURNING 1\n),`,
  )
  .join('\n')}
${SHARED_ROLLUPS.map(shareRemoval).join(',\n')},
${SLOT_SHARE}
SELECT (SELECT count(*) FROM records)::text AS records,
       (SELECT count(*) FROM request_ids)::text AS request_ids,
       ((SELECT count(*) FROM hourly) + (SELECT count(*) FROM pending)
        + ${USER_ROLLUPS.slice(1)
          .map((table) => `(SELECT count(*) FROM erased_${table})`)
          .join(' + ')}
        + ${SHARED_ROLLUPS.map((_, i) => `(SELECT count(*) FROM emptied_${i})`).join(' + ')}
        + (SELECT count(*) FROM emptied_slots))::text AS rollup_rows`;

/** Tries at most; a serialization failure (another erasure of the same rows) is tried again. */
const MAX_ATTEMPTS = 3;

function isSerializationFailure(error: unknown): boolean {
  const failure = error as { code?: unknown; driverError?: { code?: unknown } };
  return (failure.code ?? failure.driverError?.code) === '40001';
}

@injectable()
export class PgUsageErasure implements UsageErasure {
  constructor(@inject(DataSource) private readonly db: DataSource) {}

  /**
   * Erasure and the background fold are the only writers of the rollups, and they take
   * turns on one advisory lock: while an erasure runs, no fold moves pending usage into the
   * rollups. Ingest never waits for it: a batch that commits during the erasure is not in
   * its snapshot and stays whole (raw records, ledger and pending sums alike), as if it had
   * arrived just after. Reads never wait.
   */
  async eraseUser(workspaceId: string, userId: string): Promise<ErasedUsage> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.attempt(workspaceId, userId);
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || !isSerializationFailure(error)) throw error;
        await sleep(20 * attempt + Math.floor(Math.random() * 20));
      }
    }
  }

  private async attempt(workspaceId: string, userId: string): Promise<ErasedUsage> {
    const runner = this.db.createQueryRunner();
    await runner.connect();
    try {
      // a session lock, taken before the transaction's snapshot, so that the snapshot sees
      // the last fold (and any fold afterwards waits until the erasure committed)
      await runner.query('SELECT pg_advisory_lock($1)', [ROLLUP_LOCK_KEY]);
      try {
        await runner.startTransaction('REPEATABLE READ');
        try {
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
