/** Consistency of what the service (or the bulk load) stored: raw rows, dedup ledger, hourly rollup. */
import type pg from 'pg';
import { ConsistencyError } from './ingest';

export interface StoredTotals {
  rawRows: number;
  ledgerRows: number;
  hourlyRows: number;
  hourlyRequests: number;
  rawTotalTokens: number;
  hourlyTotalTokens: number;
  rawCost: string;
  hourlyCost: string;
  costEqual: boolean;
}

export async function storedTotals(client: pg.Client, workspace: string): Promise<StoredTotals> {
  const row = (
    await client.query(
      `SELECT
         (SELECT count(*) FROM usage_records WHERE workspace_id = $1) AS raw_rows,
         (SELECT count(*) FROM usage_request_ids WHERE workspace_id = $1) AS ledger_rows,
         (SELECT count(*) FROM usage_hourly WHERE workspace_id = $1) AS hourly_rows,
         (SELECT coalesce(sum(requests), 0) FROM usage_hourly WHERE workspace_id = $1) AS hourly_requests,
         (SELECT coalesce(sum(total_tokens), 0) FROM usage_records WHERE workspace_id = $1) AS raw_tokens,
         (SELECT coalesce(sum(total_tokens), 0) FROM usage_hourly WHERE workspace_id = $1) AS hourly_tokens,
         (SELECT coalesce(sum(cost), 0)::text FROM usage_records WHERE workspace_id = $1) AS raw_cost,
         (SELECT coalesce(sum(cost), 0)::text FROM usage_hourly WHERE workspace_id = $1) AS hourly_cost,
         (SELECT coalesce(sum(cost), 0) FROM usage_records WHERE workspace_id = $1)
           = (SELECT coalesce(sum(cost), 0) FROM usage_hourly WHERE workspace_id = $1) AS cost_equal`,
      [workspace],
    )
  ).rows[0] as Record<string, string> & { cost_equal: boolean };
  return {
    rawRows: Number(row.raw_rows),
    ledgerRows: Number(row.ledger_rows),
    hourlyRows: Number(row.hourly_rows),
    hourlyRequests: Number(row.hourly_requests),
    rawTotalTokens: Number(row.raw_tokens),
    hourlyTotalTokens: Number(row.hourly_tokens),
    rawCost: row.raw_cost!,
    hourlyCost: row.hourly_cost!,
    costEqual: row.cost_equal,
  };
}

/** Throws unless raw rows, ledger and rollup all hold exactly `expectedRows` records and `expectedTokens` tokens. */
export function expectTotals(totals: StoredTotals, expectedRows: number, expectedTokens: number | null): void {
  const problems: string[] = [];
  if (totals.rawRows !== expectedRows) problems.push(`usage_records holds ${totals.rawRows} rows`);
  if (totals.ledgerRows !== expectedRows) problems.push(`usage_request_ids holds ${totals.ledgerRows} rows`);
  if (totals.hourlyRequests !== expectedRows) problems.push(`usage_hourly counts ${totals.hourlyRequests} requests`);
  if (totals.hourlyTotalTokens !== totals.rawTotalTokens) {
    problems.push(`usage_hourly has ${totals.hourlyTotalTokens} tokens, the raw rows ${totals.rawTotalTokens}`);
  }
  if (expectedTokens !== null && totals.rawTotalTokens !== expectedTokens) {
    problems.push(`the raw rows hold ${totals.rawTotalTokens} tokens, ${expectedTokens} were sent`);
  }
  if (!totals.costEqual) {
    problems.push(`usage_hourly costs ${totals.hourlyCost}, the raw rows ${totals.rawCost}`);
  }
  if (problems.length > 0) {
    throw new ConsistencyError(`expected ${expectedRows} records everywhere, but ${problems.join('; ')}`);
  }
}

/** Rollup rows that differ from a recomputation GROUP BY the raw rows (0 when exact). */
export async function rollupMismatches(client: pg.Client, workspace: string): Promise<number> {
  const measures = `requests, errors, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
    reasoning_tokens, total_tokens, duration_ms_sum, duration_count, cost, unpriced_requests, last_occurred_at`;
  const row = (
    await client.query(
      `WITH recomputed AS (
         SELECT workspace_id, date_trunc('hour', occurred_at, 'UTC') AS bucket_start, user_id, provider, model,
           count(*) AS requests, count(*) FILTER (WHERE NOT success) AS errors, sum(input_tokens) AS input_tokens,
           sum(output_tokens) AS output_tokens, sum(cached_input_tokens) AS cached_input_tokens,
           sum(cache_write_tokens) AS cache_write_tokens, sum(reasoning_tokens) AS reasoning_tokens,
           sum(total_tokens) AS total_tokens, coalesce(sum(duration_ms), 0) AS duration_ms_sum,
           count(duration_ms) AS duration_count, coalesce(sum(cost), 0) AS cost,
           count(*) FILTER (WHERE cost IS NULL) AS unpriced_requests, max(occurred_at) AS last_occurred_at
         FROM usage_records WHERE workspace_id = $1 GROUP BY 1, 2, 3, 4, 5),
       stored AS (SELECT * FROM usage_hourly WHERE workspace_id = $1)
       SELECT count(*) AS n FROM recomputed r FULL JOIN stored s USING (workspace_id, bucket_start, user_id, provider, model)
       WHERE ROW(${measures.replace(/(\w+)/g, 'r.$1')}) IS DISTINCT FROM ROW(${measures.replace(/(\w+)/g, 's.$1')})`,
      [workspace],
    )
  ).rows[0] as { n: string };
  return Number(row.n);
}
