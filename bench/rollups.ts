/**
 * The bench's view of the rollups: the service's own registry, checked against the raw rows.
 */
import type pg from 'pg';
import {
  metricsOf,
  recomputeFromRecords,
  ROLLUPS,
  type RollupDefinition,
} from '../src/infrastructure/persistence/rollup-registry';

export { ROLLUPS };
export type Rollup = RollupDefinition;

/** Rows of the rollup that differ from a recomputation over the raw rows (0 when exact). */
export async function mismatches(client: pg.Client, r: Rollup, workspace: string): Promise<number> {
  const metric = (alias: string): string =>
    metricsOf(r)
      .map((m) => `${alias}.${m.name}`)
      .join(', ');
  const row = (
    await client.query(
      `WITH recomputed AS (${recomputeFromRecords(r, 'usage_records', 'workspace_id = $1')}),
       stored AS (SELECT * FROM ${r.table} WHERE workspace_id = $1)
       SELECT count(*) AS n FROM recomputed r FULL JOIN stored s USING (workspace_id, ${r.key.join(', ')})
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
