import { expect } from 'vitest';
import { foldPending } from '../../src/infrastructure/persistence/pg-rollup-folder';
import type { TestApp } from './test-app';

/**
 * The fields a usage record gets unless a test gives them: a built-in, priced model and a few
 * tokens. No occurredAt (the service takes the time of receipt, the test app's clock) and no
 * userId (the caller's own). A test that depends on any of these passes it explicitly.
 */
const DEFAULTS = { provider: 'openai', model: 'gpt-4o', inputTokens: 10, outputTokens: 5 };

type Defaults = { requestId: string } & typeof DEFAULTS;
/** The defaults with `F` over them. */
type UsageRecord<F> = Omit<Defaults, keyof F> & F & { requestId: string };

let sequence = 0;

/**
 * One usage record as POST /v1/usage/records takes it: `fields` over the defaults above, with
 * a request id of its own (`record-1`, `record-2`, … in the order of the calls in a test file)
 * unless `fields` names one. Any field may be given, also one the service rejects.
 */
export function usageRecord<F extends object = Record<never, never>>(fields: F = {} as F): UsageRecord<F> {
  sequence += 1;
  return { requestId: `record-${sequence}`, ...DEFAULTS, ...fields };
}

/** `n` usage records, the i-th (from 0) with `fields(i)` over the defaults. */
export function usageRecords<F extends object>(n: number, fields: (i: number) => F): Array<UsageRecord<F>> {
  return Array.from({ length: n }, (_, i) => usageRecord(fields(i)));
}

export interface IngestReply {
  accepted: number;
  duplicates: number;
  rejected: Array<{ index: number; requestId?: string; errors: Array<{ path: string; message: string }> }>;
}

export interface IngestOptions {
  /** assert that every record was stored: `{ accepted: records.length, duplicates: 0, rejected: [] }` */
  expectAccepted?: boolean;
  /**
   * fold the pending usage into the rollups right after, as the service's background folder
   * does in time (default true); false leaves it pending
   */
  fold?: boolean;
}

/**
 * Sends one batch to POST /v1/usage/records with `headers` (a bearer token or an API key),
 * asserts a 200 and returns the reply.
 */
export async function ingest(
  t: TestApp,
  headers: Record<string, string>,
  records: readonly object[],
  options: IngestOptions = {},
): Promise<IngestReply> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/usage/records', headers, payload: { records } });
  expect(res.statusCode, res.body).toBe(200);
  if (options.fold ?? true) await foldPending(t.db);
  const reply = res.json<IngestReply>();
  if (options.expectAccepted) expect(reply).toEqual({ accepted: records.length, duplicates: 0, rejected: [] });
  return reply;
}
