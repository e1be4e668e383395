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
  const res = await t.app.inject({ method: 'POST', url: '/v1/usage/records', headers: bearer(token), payload: { records } });
  if (res.statusCode !== 200) throw new Error(`ingest answered ${res.statusCode}: ${res.body}`);
  return res.json<IngestReply>();
}

const KEY = 'workspace_id, bucket_start, user_id, provider, model';

/** Every column of usage_hourly, as text, in key order. */
const ROLLUP_ROWS = `
SELECT workspace_id, bucket_start::text, user_id, provider, model, requests::text, errors::text,
  input_tokens::text, output_tokens::text, cached_input_tokens::text, cache_write_tokens::text,
  reasoning_tokens::text, total_tokens::text, duration_ms_sum::text, duration_count::text, cost::text,
  unpriced_requests::text, last_occurred_at::text
FROM usage_hourly
ORDER BY ${KEY}`;

/** The same columns recomputed from the raw records alone. */
const RECOMPUTED_ROWS = `
SELECT workspace_id, bucket_start::text, user_id, provider, model, requests::text, errors::text,
  input_tokens::text, output_tokens::text, cached_input_tokens::text, cache_write_tokens::text,
  reasoning_tokens::text, total_tokens::text, duration_ms_sum::text, duration_count::text, cost::text,
  unpriced_requests::text, last_occurred_at::text
FROM (
  SELECT workspace_id, date_trunc('hour', occurred_at, 'UTC') AS bucket_start, user_id, provider, model,
    count(*) AS requests, count(*) FILTER (WHERE NOT success) AS errors,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(cached_input_tokens) AS cached_input_tokens, sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens, sum(total_tokens) AS total_tokens,
    coalesce(sum(duration_ms), 0) AS duration_ms_sum, count(duration_ms) AS duration_count,
    coalesce(sum(cost), 0) AS cost, count(*) FILTER (WHERE cost IS NULL) AS unpriced_requests,
    max(occurred_at) AS last_occurred_at
  FROM usage_records
  GROUP BY workspace_id, date_trunc('hour', occurred_at, 'UTC'), user_id, provider, model
) raw
ORDER BY ${KEY}`;

export type Row = Record<string, string | null>;

/** usage_hourly as stored and as recomputed from usage_records; equal when the rollup is exact. */
export async function rollupAndRecomputation(db: DataSource): Promise<{ rollup: Row[]; recomputed: Row[] }> {
  const [rollup, recomputed] = await Promise.all([db.query(ROLLUP_ROWS), db.query(RECOMPUTED_ROWS)]);
  return { rollup: rollup as Row[], recomputed: recomputed as Row[] };
}

/** Rollup sums per workspace and user over all time (what a long-range chart adds up). */
export async function rollupTotals(db: DataSource, workspaceId: string): Promise<Row[]> {
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
