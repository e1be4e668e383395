import pg from 'pg';
import Cursor from 'pg-cursor';
import { inject, injectable } from 'tsyringe';
import { DataSource } from 'typeorm';
import type { Clock } from '../../application/ports/clock.port';
import { TOKENS } from '../../application/ports/tokens';
import type { ExportQuery, UsageExport } from '../../application/ports/usage-export.port';
import type { DayColumnName, ExportValue, RecordColumnName } from '../../domain/usage-export';
import { poolOf } from './prepared-statements';
import { ADDITIVE_METRICS } from './rollup-registry';
import { factsSource, filters, SqlParams, sumsOf } from './usage-facts';

/**
 * Rows per round trip. A batch's rows are parsed as they arrive and live until the whole
 * batch is read, long enough to be promoted to V8's old generation, which grows a long way
 * before a full collection: at 1,000 rows an export of 1M records took the service's RSS up
 * by 110-130 MB, at 200 by 2 MB (and about as fast). Measured in `npm run bench`.
 */
const BATCH_ROWS = 200;

const ISO_UTC = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
const isoUtc = (column: string): string => `to_char(${column} AT TIME ZONE 'UTC', ${ISO_UTC})`;

/** Each record column as SQL over usage_records. */
const RECORD_SQL: Record<RecordColumnName, string> = {
  occurredAt: isoUtc('occurred_at'),
  requestId: 'request_id',
  userId: 'user_id',
  provider: 'provider',
  model: 'model',
  operation: 'operation',
  inputTokens: 'input_tokens',
  outputTokens: 'output_tokens',
  cachedInputTokens: 'cached_input_tokens',
  cacheWriteTokens: 'cache_write_tokens',
  cacheWrite1hTokens: 'cache_write_1h_tokens',
  reasoningTokens: 'reasoning_tokens',
  totalTokens: 'total_tokens',
  tokenSource: 'token_source',
  durationMs: 'duration_ms',
  success: 'success',
  error: 'error',
  // the API's decimal text: no trailing zeros
  cost: 'trim_scale(cost)::text',
  costStatus: 'cost_status',
};

/** Each day column as SQL over the day sums (named as the rollups' metrics), `tz` the zone parameter. */
const daySql = (tz: string): Record<DayColumnName, string> => ({
  day: `to_char(bucket_start AT TIME ZONE ${tz}, 'YYYY-MM-DD')`,
  dayStart: isoUtc('bucket_start'),
  userId: 'user_id',
  provider: 'provider',
  model: 'model',
  requests: 'requests',
  errors: 'errors',
  inputTokens: 'input_tokens',
  outputTokens: 'output_tokens',
  cachedInputTokens: 'cached_input_tokens',
  cacheWriteTokens: 'cache_write_tokens',
  cacheWrite1hTokens: 'cache_write_1h_tokens',
  reasoningTokens: 'reasoning_tokens',
  totalTokens: 'total_tokens',
  durationMsSum: 'duration_ms_sum',
  durationCount: 'duration_count',
  cost: 'trim_scale(cost)::text',
  unpricedRequests: 'unpriced_requests',
});

/** Every metric of the rollups summed over a group. */
const DAY_SUMS = sumsOf(ADDITIVE_METRICS);

const selectList = (sql: Record<string, string>, query: ExportQuery): string =>
  query.columns.map((column) => sql[column.name]!).join(', ');

/** Every record of the range, oldest first; the primary key's order, so no sort is needed. */
export function recordStatement(query: ExportQuery): { text: string; values: unknown[] } {
  const p = new SqlParams();
  const { scope } = query;
  const text = `SELECT ${selectList(RECORD_SQL, query)} FROM usage_records
    WHERE workspace_id = ${p.add(scope.workspaceId)}
      AND occurred_at >= ${p.add(scope.window.from.toISOString())}::timestamptz
      AND occurred_at < ${p.add(scope.window.to.toISOString())}::timestamptz${filters(scope, p)}
    ORDER BY occurred_at, request_id`;
  return { text, values: p.values };
}

/**
 * Sums per local day (the window's days in its zone), user, provider and model, in that order
 * (names by their bytes, the same on every server), read as the
 * Usage tab reads them (usage-facts.ts): from the rollups and the pending sums, raw records
 * only for partial hours, so days whose raw records retention dropped are still there.
 */
function dayStatement(query: ExportQuery, now: Date): { text: string; values: unknown[] } {
  const p = new SqlParams();
  const facts = factsSource(query.scope, p, { user: true, model: true, bucketed: true }, now);
  const tz = p.add(query.scope.window.timeZone);
  const text = `SELECT ${selectList(daySql(tz), query)} FROM (
      SELECT bucket_start, user_id, provider, model, ${DAY_SUMS} FROM (${facts}) f
      GROUP BY bucket_start, user_id, provider, model HAVING sum(requests) <> 0) d
    ORDER BY bucket_start, user_id COLLATE "C", provider COLLATE "C", model COLLATE "C"`;
  return { text, values: p.values };
}

/** bigint as a JS number (token counts stay far below 2^53); everything else as pg parses it. */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? Number : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

@injectable()
export class PgUsageExport implements UsageExport {
  constructor(
    @inject(DataSource) private readonly db: DataSource,
    @inject(TOKENS.Clock) private readonly clock: Clock,
  ) {}

  /** The pool the DataSource keeps: a cursor needs a connection of its own for the whole export. */
  private get pool(): pg.Pool {
    return poolOf(this.db);
  }

  async *batches(query: ExportQuery, signal: AbortSignal): AsyncGenerator<ExportValue[][]> {
    const statement = query.level === 'record' ? recordStatement(query) : dayStatement(query, this.clock.now());
    signal.throwIfAborted();
    const client = await this.pool.connect();
    const pid = (client as unknown as { processID: number }).processID;
    // a failure of this connection reaches the statement it breaks; no uncaught 'error' event
    const ignore = (): void => undefined;
    client.on('error', ignore);
    let reading = false;
    let finished = false;
    // a statement still running on the server is cancelled there: closing the socket alone
    // would let it run until it next sends rows
    const cancel = async (): Promise<void> => {
      if (reading) await this.pool.query('SELECT pg_cancel_backend($1)', [pid]).catch(() => undefined);
    };
    const onAbort = (): void => void cancel();
    signal.addEventListener('abort', onAbort);
    try {
      // one snapshot for the whole export; a slow reader is not cut off by the per-request
      // statement timeout (a reader that leaves ends the query instead)
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query('SET LOCAL statement_timeout = 0');
      const cursor = client.query(new Cursor(statement.text, statement.values, { rowMode: 'array', types: TYPES }));
      for (;;) {
        signal.throwIfAborted();
        reading = true;
        const rows = (await cursor.read(BATCH_ROWS)) as ExportValue[][];
        reading = false;
        if (rows.length === 0) break;
        yield rows;
      }
      await cursor.close();
      await client.query('COMMIT');
      finished = true;
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (!finished) await cancel();
      client.removeListener('error', ignore);
      // a connection left inside the export's transaction is closed, never pooled: the server
      // rolls back and ends the backend when its socket goes
      client.release(finished ? undefined : new Error('usage export ended early'));
    }
  }
}
