/** Consistency of what the service (or the bulk load) stored: raw rows, dedup ledger, every rollup. */
import type pg from 'pg';
import { ConsistencyError } from './ingest';
import { mismatches, ROLLUPS, rollupTotals } from './rollups';

export interface StoredTotals {
  rawRows: number;
  ledgerRows: number;
  rawTotalTokens: number;
  rawCost: string;
  rollups: Record<string, { rows: number; requests: number; totalTokens: number; cost: string }>;
}

/** "12.50" and "12.5000" are the same amount */
const decimal = (value: string): string => (value.includes('.') ? value.replace(/0+$/, '').replace(/\.$/, '') : value);

export async function storedTotals(client: pg.Client, workspace: string): Promise<StoredTotals> {
  const row = (
    await client.query(
      `SELECT
         (SELECT count(*) FROM usage_request_ids WHERE workspace_id = $1) AS ledger_rows,
         count(*) AS raw_rows, coalesce(sum(total_tokens), 0) AS raw_tokens, coalesce(sum(cost), 0)::text AS raw_cost
       FROM usage_records WHERE workspace_id = $1`,
      [workspace],
    )
  ).rows[0] as Record<string, string>;
  const rollups: StoredTotals['rollups'] = {};
  for (const rollup of ROLLUPS) rollups[rollup.table] = await rollupTotals(client, rollup, workspace);
  return {
    rawRows: Number(row.raw_rows),
    ledgerRows: Number(row.ledger_rows),
    rawTotalTokens: Number(row.raw_tokens),
    rawCost: row.raw_cost!,
    rollups,
  };
}

/** Throws unless raw rows, ledger and every rollup hold exactly `expectedRows` records and the same tokens and cost. */
export function expectTotals(totals: StoredTotals, expectedRows: number, expectedTokens: number | null): void {
  const problems: string[] = [];
  if (totals.rawRows !== expectedRows) problems.push(`usage_records holds ${totals.rawRows} rows`);
  if (totals.ledgerRows !== expectedRows) problems.push(`usage_request_ids holds ${totals.ledgerRows} rows`);
  if (expectedTokens !== null && totals.rawTotalTokens !== expectedTokens) {
    problems.push(`the raw rows hold ${totals.rawTotalTokens} tokens, ${expectedTokens} were sent`);
  }
  for (const [table, t] of Object.entries(totals.rollups)) {
    if (t.requests !== expectedRows) problems.push(`${table} counts ${t.requests} requests`);
    if (t.totalTokens !== totals.rawTotalTokens)
      problems.push(`${table} has ${t.totalTokens} tokens, raw ${totals.rawTotalTokens}`);
    if (decimal(t.cost) !== decimal(totals.rawCost)) problems.push(`${table} costs ${t.cost}, raw ${totals.rawCost}`);
  }
  if (problems.length > 0) {
    throw new ConsistencyError(`expected ${expectedRows} records everywhere, but ${problems.join('; ')}`);
  }
}

/** Every rollup row must equal a recomputation GROUP BY the raw rows. */
export async function expectExactRollups(client: pg.Client, workspace: string): Promise<void> {
  for (const rollup of ROLLUPS) {
    const wrong = await mismatches(client, rollup, workspace);
    if (wrong > 0) {
      throw new ConsistencyError(`${wrong} ${rollup.table} rows differ from a GROUP BY of the raw rows`);
    }
  }
}
