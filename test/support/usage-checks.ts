import { foldPending } from '../../src/infrastructure/persistence/pg-rollup-folder';
import type { DataSource } from 'typeorm';
import { metricsOf, recomputeFromRecords, ROLLUPS } from '../../src/infrastructure/persistence/rollup-registry';

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

export type Row = Record<string, string | null>;

export interface RollupTable {
  table: string;
  /** primary key columns after workspace_id */
  keys: string[];
  metrics: string[];
}

/** Every rollup, as the registry defines it. */
export function rollupTables(): RollupTable[] {
  return ROLLUPS.map((r) => ({ table: r.table, keys: [...r.key], metrics: metricsOf(r).map((m) => m.name) }));
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
  for (const rollup of ROLLUPS) {
    const { table, keys, metrics } = {
      table: rollup.table,
      keys: rollup.key,
      metrics: metricsOf(rollup).map((m) => m.name),
    };
    const order = ['workspace_id', ...keys].join(', ');
    const columns = ['workspace_id', ...keys, ...metrics];
    const [rollupRows, recomputed] = await Promise.all([
      db.query(`SELECT ${columns.map(asText).join(', ')} FROM ${table} ORDER BY ${order}`),
      db.query(`SELECT ${columns.map(asText).join(', ')} FROM (${recomputeFromRecords(rollup)}) raw ORDER BY ${order}`),
    ]);
    comparisons.push({ table, rollup: rollupRows as Row[], recomputed: recomputed as Row[] });
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
