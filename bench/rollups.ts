/**
 * The rollup tables the service keeps next to the raw records (migrations 0001, 0002, 0004–0006, 0008, 0009), how
 * each is derived from raw rows or from usage_hourly. The bench fills those that exist after
 * its bulk load and checks them against the raw rows after an ingest.
 */
import type pg from 'pg';

const HOUR = "date_trunc('hour', occurred_at, 'UTC')";
const DAY = "date_trunc('day', occurred_at, 'UTC')";

export interface Rollup {
  table: string;
  /** key column, its expression over raw rows, its expression over usage_hourly rows */
  keys: Array<[column: string, fromRaw: string, fromHourly: string]>;
  /** whether it keeps last_occurred_at (only usage_daily_users does) */
  lastOccurrence: boolean;
  /** whether it can only be built from raw rows (finer than an hour) */
  rawOnly?: boolean;
}

const UTC_DAY_OF_HOUR = "date_trunc('day', bucket_start, 'UTC')";
const MONTH = "date_trunc('month', occurred_at, 'UTC')";
const UTC_MONTH_OF_HOUR = "date_trunc('month', bucket_start, 'UTC')";

export const ROLLUPS: Rollup[] = [
  {
    table: 'usage_hourly',
    keys: [
      ['bucket_start', HOUR, 'bucket_start'],
      ['user_id', 'user_id', 'user_id'],
      ['provider', 'provider', 'provider'],
      ['model', 'model', 'model'],
    ],
    lastOccurrence: false,
  },
  {
    table: 'usage_hourly_models',
    keys: [
      ['bucket_start', HOUR, 'bucket_start'],
      ['provider', 'provider', 'provider'],
      ['model', 'model', 'model'],
    ],
    lastOccurrence: false,
  },
  {
    table: 'usage_daily_users',
    keys: [
      ['day_start', DAY, UTC_DAY_OF_HOUR],
      ['user_id', 'user_id', 'user_id'],
    ],
    lastOccurrence: true,
  },
  {
    table: 'usage_daily_user_models',
    keys: [
      ['user_id', 'user_id', 'user_id'],
      ['day_start', DAY, UTC_DAY_OF_HOUR],
      ['provider', 'provider', 'provider'],
      ['model', 'model', 'model'],
    ],
    lastOccurrence: false,
  },
  {
    table: 'usage_monthly_users',
    keys: [
      ['month_start', MONTH, UTC_MONTH_OF_HOUR],
      ['user_id', 'user_id', 'user_id'],
    ],
    lastOccurrence: false,
  },
  {
    table: 'usage_monthly_user_models',
    keys: [
      ['user_id', 'user_id', 'user_id'],
      ['month_start', MONTH, UTC_MONTH_OF_HOUR],
      ['provider', 'provider', 'provider'],
      ['model', 'model', 'model'],
    ],
    lastOccurrence: false,
  },
  {
    table: 'usage_daily_models',
    keys: [
      ['day_start', DAY, UTC_DAY_OF_HOUR],
      ['provider', 'provider', 'provider'],
      ['model', 'model', 'model'],
    ],
    lastOccurrence: false,
  },
  {
    table: 'usage_monthly_models',
    keys: [
      ['month_start', MONTH, UTC_MONTH_OF_HOUR],
      ['provider', 'provider', 'provider'],
      ['model', 'model', 'model'],
    ],
    lastOccurrence: false,
  },
  {
    table: 'usage_daily_providers',
    keys: [
      ['day_start', DAY, UTC_DAY_OF_HOUR],
      ['provider', 'provider', 'provider'],
    ],
    lastOccurrence: false,
  },
  {
    table: 'usage_monthly_providers',
    keys: [
      ['month_start', MONTH, UTC_MONTH_OF_HOUR],
      ['provider', 'provider', 'provider'],
    ],
    lastOccurrence: false,
  },
  {
    table: 'usage_hourly_providers',
    keys: [
      ['bucket_start', HOUR, 'bucket_start'],
      ['provider', 'provider', 'provider'],
    ],
    lastOccurrence: false,
  },
  {
    table: 'usage_slot_providers',
    keys: [
      ['slot_start', "date_bin('15 minutes', occurred_at, timestamptz '2000-01-01 00:00:00+00')", ''],
      ['provider', 'provider', 'provider'],
    ],
    lastOccurrence: false,
    rawOnly: true,
  },
];

/** metric column, its aggregate over raw rows, its aggregate over rollup rows */
const METRICS: Array<[string, string, string]> = [
  ['requests', 'count(*)', 'sum(requests)'],
  ['errors', 'count(*) FILTER (WHERE NOT success)', 'sum(errors)'],
  ['input_tokens', 'sum(input_tokens)', 'sum(input_tokens)'],
  ['output_tokens', 'sum(output_tokens)', 'sum(output_tokens)'],
  ['cached_input_tokens', 'sum(cached_input_tokens)', 'sum(cached_input_tokens)'],
  ['cache_write_tokens', 'sum(cache_write_tokens)', 'sum(cache_write_tokens)'],
  ['reasoning_tokens', 'sum(reasoning_tokens)', 'sum(reasoning_tokens)'],
  ['total_tokens', 'sum(total_tokens)', 'sum(total_tokens)'],
  ['duration_ms_sum', 'coalesce(sum(duration_ms), 0)', 'sum(duration_ms_sum)'],
  ['duration_count', 'count(duration_ms)', 'sum(duration_count)'],
  ['cost', 'coalesce(sum(cost), 0)', 'sum(cost)'],
  ['unpriced_requests', 'count(*) FILTER (WHERE cost IS NULL)', 'sum(unpriced_requests)'],
  ['last_occurred_at', 'max(occurred_at)', 'max(last_occurred_at)'],
];

export async function existingRollups(client: pg.Client): Promise<Rollup[]> {
  const rows = (
    await client.query(`SELECT relname FROM pg_class WHERE relname = ANY($1) AND relkind IN ('r', 'p')`, [
      ROLLUPS.map((r) => r.table),
    ])
  ).rows as Array<{ relname: string }>;
  return ROLLUPS.filter((r) => rows.some((row) => row.relname === r.table));
}

const metricsOf = (r: Rollup): typeof METRICS =>
  r.lastOccurrence ? METRICS : METRICS.filter(([c]) => c !== 'last_occurred_at');
const columns = (r: Rollup): string => [...r.keys.map(([c]) => c), ...metricsOf(r).map(([c]) => c)].join(', ');
const positions = (r: Rollup): string => r.keys.map((_, i) => String(i + 2)).join(', ');

/** INSERT … SELECT … GROUP BY over the raw rows of workspace $1 with occurred_at in [$2, $3). */
export function buildFromRaw(r: Rollup): string {
  return `INSERT INTO ${r.table} (workspace_id, ${columns(r)})
    SELECT workspace_id, ${r.keys.map(([, raw]) => raw).join(', ')}, ${metricsOf(r)
      .map(([, raw]) => raw)
      .join(', ')}
    FROM usage_records WHERE workspace_id = $1 AND occurred_at >= $2 AND occurred_at < $3
    GROUP BY 1, ${positions(r)}`;
}

/** The same from usage_hourly rows with bucket_start in [$2, $3) (whole UTC days: daily keys stay whole). */
export function buildFromHourly(r: Rollup): string {
  return `INSERT INTO ${r.table} (workspace_id, ${columns(r)})
    SELECT workspace_id, ${r.keys.map(([, , hourly]) => hourly).join(', ')}, ${metricsOf(r)
      .map(([, , agg]) => agg)
      .join(', ')}
    FROM usage_hourly WHERE workspace_id = $1 AND bucket_start >= $2 AND bucket_start < $3
    GROUP BY 1, ${positions(r)}`;
}

/** Rows of the rollup that differ from a recomputation over the raw rows (0 when exact). */
export async function mismatches(client: pg.Client, r: Rollup, workspace: string): Promise<number> {
  const keys = r.keys.map(([c]) => c).join(', ');
  const metric = (alias: string): string =>
    metricsOf(r)
      .map(([c]) => `${alias}.${c}`)
      .join(', ');
  const row = (
    await client.query(
      `WITH recomputed AS (
         SELECT workspace_id, ${r.keys.map(([c, raw]) => `${raw} AS ${c}`).join(', ')},
           ${metricsOf(r)
             .map(([c, raw]) => `${raw} AS ${c}`)
             .join(', ')}
         FROM usage_records WHERE workspace_id = $1 GROUP BY 1, ${positions(r)}),
       stored AS (SELECT * FROM ${r.table} WHERE workspace_id = $1)
       SELECT count(*) AS n FROM recomputed r FULL JOIN stored s USING (workspace_id, ${keys})
       WHERE ROW(${metric('r')}) IS DISTINCT FROM ROW(${metric('s')})`,
      [workspace],
    )
  ).rows[0] as { n: string };
  return Number(row.n);
}

/** requests, total tokens and cost summed over a rollup, and its row count. */
export async function rollupTotals(
  client: pg.Client,
  r: Rollup,
  workspace: string,
): Promise<{ rows: number; requests: number; totalTokens: number; cost: string }> {
  const row = (
    await client.query(
      `SELECT count(*) AS rows, coalesce(sum(requests), 0) AS requests, coalesce(sum(total_tokens), 0) AS tokens,
         coalesce(sum(cost), 0)::text AS cost FROM ${r.table} WHERE workspace_id = $1`,
      [workspace],
    )
  ).rows[0] as Record<string, string>;
  return { rows: Number(row.rows), requests: Number(row.requests), totalTokens: Number(row.tokens), cost: row.cost! };
}
