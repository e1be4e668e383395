import { setTimeout as sleep } from 'node:timers/promises';
import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { ErasedUsage, UsageErasure } from '../../application/ports/usage-erasure.port';
import { DatabaseUnavailableError } from '../../domain/errors';
import {
  ADDITIVE_METRICS,
  ALL_DIMENSIONS,
  dimensionOfRecord,
  GRAINS,
  METRICS,
  PENDING,
  ROLLUPS,
  smallestRollup,
  type RollupDefinition,
} from './rollup-registry';
import { withRollupLock } from './rollup-lock';

/** The finest per-user rollup: its rows of the user say what the user added to every other rollup. */
const FINEST = smallestRollup('hour', ALL_DIMENSIONS);
const USER_ROLLUPS = ROLLUPS.filter((r) => r !== FINEST && r.dimensions.includes('user_id'));
const SHARED_ROLLUPS = ROLLUPS.filter((r) => !r.dimensions.includes('user_id'));

const sums = (expression: (metric: string) => string): string =>
  ADDITIVE_METRICS.map((c) => `${expression(c)} AS ${c}`).join(', ');

/**
 * The user's share of one rollup without a user column: from the user's finest rollup rows,
 * or, for a rollup that covers the raw months only (finer than an hour), from the user's raw
 * records less their sums still pending (not in that rollup yet).
 */
function shareOf(rollup: RollupDefinition): string {
  const time = GRAINS[rollup.grain].column;
  const keys = rollup.key.filter((k) => k !== time);
  if (rollup.rawWindowOnly) {
    const ofRecord = rollup.grain === 'slot' ? GRAINS.slot.ofRecord : GRAINS[rollup.grain].ofRecord;
    return `SELECT ${time}, ${keys.join(', ')}, ${sums((c) => `sum(${c})`)}
  FROM (SELECT ${ofRecord} AS ${time}, ${keys.join(', ')}, ${METRICS.map((m) => m.ofRecord).join(', ')} FROM records
        UNION ALL
        SELECT ${time}, ${keys.join(', ')}, ${ADDITIVE_METRICS.map((c) => `-${c}`).join(', ')} FROM pending)
    AS x (${time}, ${keys.join(', ')}, ${ADDITIVE_METRICS.join(', ')})
  GROUP BY ${rollup.key.join(', ')} HAVING sum(requests) <> 0`;
  }
  const finestTime = GRAINS[FINEST.grain].column;
  const at = time === finestTime ? time : GRAINS[rollup.grain].ofStart!(finestTime);
  return `SELECT ${at} AS ${time}, ${keys.join(', ')}, ${sums((c) => `sum(${c})`)}
  FROM finest GROUP BY 1${keys.map((_, i) => `, ${i + 2}`).join('')}`;
}

/** The user's share taken out of one rollup: its rows only the user had deleted, the others reduced. */
function shareRemoval(rollup: RollupDefinition): string {
  const same = rollup.key.map((column) => `m.${column} = x.${column}`).join(' AND ');
  return `share_${rollup.table} AS (
  ${shareOf(rollup)}
),
emptied_${rollup.table} AS (
  DELETE FROM ${rollup.table} m USING share_${rollup.table} x
  WHERE m.workspace_id = $1 AND ${same} AND m.requests = x.requests
  RETURNING 1
),
reduced_${rollup.table} AS (
  UPDATE ${rollup.table} m SET
    ${ADDITIVE_METRICS.map((c) => `${c} = m.${c} - x.${c}`).join(',\n    ')}
  FROM share_${rollup.table} x
  WHERE m.workspace_id = $1 AND ${same} AND m.requests > x.requests
  RETURNING 1
)`;
}

const count = (cte: string): string => `(SELECT count(*) FROM ${cte})`;

/**
 * One statement, one snapshot. The user's raw records (every partition kept) and the ledger
 * entries of exactly those request ids (the ledger is keyed by request id alone); the user's
 * usage still pending for the rollups; the user's rows of every per-user rollup; and the
 * user's share taken out of the rollups that have no user column: the user's finest rows
 * being deleted say exactly what the user added to each of their rows (also for hours whose
 * raw partition retention already dropped), the raw records what they added to the rollups
 * finer than an hour. A row only the user had disappears; otherwise its sums are reduced.
 */
const ERASE = `
WITH records AS (
  DELETE FROM usage_records WHERE workspace_id = $1 AND user_id = $2
  RETURNING request_id, occurred_at, ${ALL_DIMENSIONS.map((d) => dimensionOfRecord(d)).join(', ')}, success, input_tokens, output_tokens,
    cached_input_tokens, cache_write_tokens, cache_write_1h_tokens, reasoning_tokens, total_tokens, duration_ms, cost, cost_status
),
request_ids AS (
  DELETE FROM usage_request_ids l USING records r
  WHERE l.workspace_id = $1 AND l.request_id = r.request_id
  RETURNING 1
),
pending AS (
  DELETE FROM ${PENDING.table} WHERE workspace_id = $1 AND user_id = $2
  RETURNING ${[...PENDING.times, ...PENDING.dimensions, ...ADDITIVE_METRICS].join(', ')}
),
finest AS (
  DELETE FROM ${FINEST.table} WHERE workspace_id = $1 AND user_id = $2
  RETURNING ${[...FINEST.key, ...ADDITIVE_METRICS].join(', ')}
),
-- the user's quota counts, holds and alerts go with their usage
erased_quota_usage AS (DELETE FROM quota_usage WHERE workspace_id = $1 AND user_id = $2 RETURNING 1),
erased_quota_reservations AS (DELETE FROM quota_reservations WHERE workspace_id = $1 AND user_id = $2 RETURNING 1),
erased_quota_alerts AS (DELETE FROM quota_alerts WHERE workspace_id = $1 AND user_id = $2 RETURNING 1),
-- and the budget alerts sent about them (their deliveries and attempts cascade): a pending one
-- is not sent any more, a sent one no longer names the user
erased_quota_events AS (
  DELETE FROM webhook_events WHERE workspace_id = $1 AND type = 'quota.threshold_crossed'
    AND payload -> 'data' ->> 'userId' = $2
  RETURNING 1
),
${USER_ROLLUPS.map(
  (r) => `erased_${r.table} AS (\n  DELETE FROM ${r.table} WHERE workspace_id = $1 AND user_id = $2\n  RETURNING 1\n),`,
).join('\n')}
${SHARED_ROLLUPS.map(shareRemoval).join(',\n')}
SELECT ${count('records')}::text AS records, ${count('request_ids')}::text AS request_ids,
  (${[
    'finest',
    'pending',
    ...USER_ROLLUPS.map((r) => `erased_${r.table}`),
    ...SHARED_ROLLUPS.map((r) => `emptied_${r.table}`),
  ]
    .map(count)
    .join(' + ')})::text AS rollup_rows`;

/**
 * Tries at most. A serialization failure is tried again: a batch of the user's that commits
 * while the erasure runs has changed their quota count, which the erasure deletes. A user
 * whose usage keeps arriving that fast gets 503 with Retry-After, nothing erased.
 */
const MAX_ATTEMPTS = 5;

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
        if (!isSerializationFailure(error)) throw error;
        if (attempt >= MAX_ATTEMPTS) {
          throw new DatabaseUnavailableError(
            `the user's usage changed during each of ${MAX_ATTEMPTS} tries to erase it; nothing was erased, retry`,
            1,
          );
        }
        await sleep(20 * attempt + Math.floor(Math.random() * 20));
      }
    }
  }

  private attempt(workspaceId: string, userId: string): Promise<ErasedUsage> {
    return withRollupLock(this.db, async (runner) => {
      const [row] = (await runner.query(ERASE, [workspaceId, userId])) as Array<{
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
