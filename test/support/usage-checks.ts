import { foldPending } from '../../src/infrastructure/persistence/pg-rollup-folder';
import type { DataSource } from 'typeorm';
import type { TestApp } from './test-app';
import { bearer } from './test-app';

/** A deterministic PRNG (mulberry32): the same seed gives the same batches on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface IngestReply {
  accepted: number;
  duplicates: number;
  rejected: Array<{ index: number; requestId?: string; errors: Array<{ path: string; message: string }> }>;
}

/** Sends one batch over HTTP as `token` and returns the reply (asserting a 200). */
export async function ingest(t: TestApp, token: string, records: object[]): Promise<IngestReply> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/usage/records',
    headers: bearer(token),
    payload: { records },
  });
  if (res.statusCode !== 200) throw new Error(`ingest answered ${res.statusCode}: ${res.body}`);
  // what the service's background fold does, at once: the rollups hold the batch afterwards
  await foldPending(t.db);
  return res.json<IngestReply>();
}

export type Row = Record<string, string | null>;

/** How each rollup key column derives from a raw record. */
const KEY_FROM_RAW: Record<string, string> = {
  bucket_start: "date_trunc('hour', occurred_at, 'UTC')",
  day_start: "date_trunc('day', occurred_at, 'UTC')",
  month_start: "date_trunc('month', occurred_at, 'UTC')",
  slot_start: "date_bin('15 minutes', occurred_at, timestamptz '2000-01-01 00:00:00+00')",
  user_id: 'user_id',
  provider: 'provider',
  model: 'model',
};

/** How each rollup metric column derives from the raw records of one bucket. */
const METRIC_FROM_RAW: Record<string, string> = {
  requests: 'count(*)',
  errors: 'count(*) FILTER (WHERE NOT success)',
  input_tokens: 'sum(input_tokens)',
  output_tokens: 'sum(output_tokens)',
  cached_input_tokens: 'sum(cached_input_tokens)',
  cache_write_tokens: 'sum(cache_write_tokens)',
  reasoning_tokens: 'sum(reasoning_tokens)',
  total_tokens: 'sum(total_tokens)',
  duration_ms_sum: 'coalesce(sum(duration_ms), 0)',
  duration_count: 'count(duration_ms)',
  cost: 'coalesce(sum(cost), 0)',
  unpriced_requests: 'count(*) FILTER (WHERE cost IS NULL)',
  last_occurred_at: 'max(occurred_at)',
};

export interface RollupTable {
  table: string;
  /** primary key columns after workspace_id */
  keys: string[];
  metrics: string[];
}

/**
 * Every rollup table in the schema (a usage_* table with a `requests` column), found in the
 * catalog, so that a rollup added later is checked without editing the tests.
 */
export async function rollupTables(db: DataSource): Promise<RollupTable[]> {
  const rows = (await db.query(`
    SELECT c.relname AS table,
      (SELECT array_agg(a.attname::text ORDER BY k.ord)
       FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
       WHERE i.indrelid = c.oid AND i.indisprimary) AS key_columns,
      (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
    FROM pg_class c
    WHERE c.relkind = 'r' AND NOT c.relispartition AND c.relname LIKE 'usage\\_%' AND c.relname <> 'usage_pending'
      AND c.relnamespace = 'public'::regnamespace
      AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'requests')
    ORDER BY c.relname`)) as Array<{ table: string; key_columns: string[]; columns: string[] }>;
  return rows.map(({ table, key_columns, columns }) => {
    if (key_columns[0] !== 'workspace_id') throw new Error(`${table}: primary key must lead with workspace_id`);
    const keys = key_columns.slice(1);
    const metrics = columns.filter((c) => c !== 'workspace_id' && !keys.includes(c));
    for (const column of [...keys, ...metrics]) {
      if (!(column in KEY_FROM_RAW) && !(column in METRIC_FROM_RAW)) {
        throw new Error(`${table}.${column}: the tests do not know how it derives from raw records`);
      }
    }
    return { table, keys, metrics };
  });
}

/** One rollup table as stored and as recomputed from usage_records; equal when the rollup is exact. */
export interface RollupComparison {
  table: string;
  rollup: Row[];
  recomputed: Row[];
}

/**
 * Cost is compared as text by default: the digits and the scale PostgreSQL's sum gives. With
 * `numericCost`, as an amount (0.50 = 0.5): subtracting a share (erasure) keeps the larger
 * scale, which a recomputation over fewer records may not have.
 */
export async function rollupsAndRecomputations(
  db: DataSource,
  options: { numericCost?: boolean } = {},
): Promise<RollupComparison[]> {
  await foldPending(db);
  const comparisons: RollupComparison[] = [];
  const asText = (c: string) => (c === 'cost' && options.numericCost ? `trim_scale(cost)::text AS cost` : `${c}::text`);
  for (const { table, keys, metrics } of await rollupTables(db)) {
    const order = ['workspace_id', ...keys].join(', ');
    const columns = ['workspace_id', ...keys, ...metrics];
    const [rollup, recomputed] = await Promise.all([
      db.query(`SELECT ${columns.map(asText).join(', ')} FROM ${table} ORDER BY ${order}`),
      db.query(`
        SELECT ${columns.map(asText).join(', ')} FROM (
          SELECT workspace_id, ${keys.map((k) => `${KEY_FROM_RAW[k]} AS ${k}`).join(', ')},
            ${metrics.map((m) => `${METRIC_FROM_RAW[m]} AS ${m}`).join(', ')}
          FROM usage_records
          GROUP BY workspace_id, ${keys.map((k) => KEY_FROM_RAW[k]).join(', ')}
        ) raw ORDER BY ${order}`),
    ]);
    comparisons.push({ table, rollup: rollup as Row[], recomputed: recomputed as Row[] });
  }
  return comparisons;
}

/** usage_hourly as stored and as recomputed from usage_records. */
export async function rollupAndRecomputation(db: DataSource): Promise<{ rollup: Row[]; recomputed: Row[] }> {
  const hourly = (await rollupsAndRecomputations(db)).find((c) => c.table === 'usage_hourly');
  if (!hourly) throw new Error('no usage_hourly table');
  return hourly;
}

/**
 * Every row of every usage_* table (raw records, ledger, rollups), as text in a stable
 * order; numbers without trailing zeros (0.50 and 0.5 are the same amount), arrival times
 * left out.
 */
export async function usageTables(db: DataSource): Promise<Record<string, Row[]>> {
  await foldPending(db);
  const tables = (await db.query(`
    SELECT c.relname AS table,
      array_agg(a.attname::text ORDER BY a.attnum) AS columns,
      array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum) AS types
    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname LIKE 'usage\\_%'
      AND c.relnamespace = 'public'::regnamespace AND a.attname <> 'received_at'
    GROUP BY c.relname ORDER BY c.relname`)) as Array<{ table: string; columns: string[]; types: string[] }>;
  const dump: Record<string, Row[]> = {};
  for (const { table, columns, types } of tables) {
    const select = columns.map((c, i) => (types[i] === 'numeric' ? `trim_scale(${c})::text AS ${c}` : `${c}::text`));
    dump[table] = (await db.query(
      `SELECT ${select.join(', ')} FROM ${table} ORDER BY ${columns.map((_, i) => i + 1).join(', ')}`,
    )) as Row[];
  }
  return dump;
}

/** Rollup sums per workspace and user over all time (what a long-range chart adds up). */
export async function rollupTotals(db: DataSource, workspaceId: string): Promise<Row[]> {
  await foldPending(db);
  return (await db.query(
    `SELECT user_id, provider, model, sum(requests)::text AS requests, sum(errors)::text AS errors,
       sum(input_tokens)::text AS input_tokens, sum(output_tokens)::text AS output_tokens,
       sum(total_tokens)::text AS total_tokens, sum(cost)::text AS cost,
       sum(unpriced_requests)::text AS unpriced_requests, count(*)::text AS hours
     FROM usage_hourly WHERE workspace_id = $1
     GROUP BY user_id, provider, model ORDER BY user_id, provider, model`,
    [workspaceId],
  )) as Row[];
}
