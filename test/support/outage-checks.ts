import type { DataSource } from 'typeorm';
import { expect } from 'vitest';

/** Polls `check` until it holds; fails after `timeoutMs`. */
export async function waitUntil(timeoutMs: number, check: () => Promise<boolean>, everyMs = 100): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet: the database may still be coming back
    }
    if (performance.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, everyMs));
  }
}

export interface AcknowledgedRecord {
  requestId: string;
  inputTokens: number;
  outputTokens: number;
}

/**
 * The raw records are exactly the acknowledged ones, each stored once (in the default
 * workspace), and the totals of the raw records and of the hourly rollup with what is still
 * pending equal the acknowledged records' sums.
 */
export async function recordAcknowledgedOnce(
  db: DataSource,
  acknowledged: ReadonlyMap<string, AcknowledgedRecord>,
): Promise<void> {
  const rows = (await db.query(
    `SELECT request_id, count(*)::int AS n, sum(input_tokens)::text AS input, sum(output_tokens)::text AS output
     FROM usage_records WHERE workspace_id = 'default' GROUP BY request_id`,
  )) as Array<{ request_id: string; n: number; input: string; output: string }>;
  expect(rows.filter((r) => r.n !== 1)).toEqual([]);
  const stored = new Set(rows.map((r) => r.request_id));
  expect([...acknowledged.keys()].filter((id) => !stored.has(id))).toEqual([]);
  expect(rows.map((r) => r.request_id).filter((id) => !acknowledged.has(id))).toEqual([]);
  for (const row of rows) {
    const sent = acknowledged.get(row.request_id)!;
    expect([row.input, row.output], row.request_id).toEqual([String(sent.inputTokens), String(sent.outputTokens)]);
  }

  const expected = { requests: 0, input: 0, output: 0 };
  for (const record of acknowledged.values()) {
    expected.requests += 1;
    expected.input += record.inputTokens;
    expected.output += record.outputTokens;
  }
  const totals = (await db.query(
    `SELECT sum(requests)::bigint::text AS requests, sum(input_tokens)::bigint::text AS input,
       sum(output_tokens)::bigint::text AS output
     FROM (SELECT requests, input_tokens, output_tokens FROM usage_hourly WHERE workspace_id = 'default'
           UNION ALL
           SELECT requests, input_tokens, output_tokens FROM usage_pending WHERE workspace_id = 'default') t`,
  )) as Array<{ requests: string; input: string; output: string }>;
  expect(totals[0]).toEqual({
    requests: String(expected.requests),
    input: String(expected.input),
    output: String(expected.output),
  });
}
