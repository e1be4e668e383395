import { expect } from 'vitest';
import { ingest } from './records';
import { bearer, createTestApp, type TestApp, type TestAppOptions } from './test-app';

/**
 * The Usage tab's shared fixture: a small, fixed dataset ingested through the HTTP API, whose
 * every aggregate can be worked out by hand. Test files that need it get their own test app
 * (own database) on the clock `NOW` with the dataset seeded from `createDatasetApp`.
 *
 * Clock: NOW = 2026-03-31T12:00:00Z, a Tuesday (Europe/Berlin is on CEST, UTC+2, since
 * 2026-03-29). Workspace: `acme` (unless told otherwise). Active = last record at or after
 * NOW − 7 days = 2026-03-24T12:00:00Z.
 *
 * Workspace models (exact prices, USD per million tokens):
 *   acmeai/tally-1   input 2, output 8 (no reasoning price: reasoning at the output price)
 *   acmeai/tally-2   input 1, output 2
 * Built-in catalog: openai/gpt-4o 2.5 in / 10 out / 1.25 cached;
 *                   anthropic/claude-3-5-sonnet 3 / 15 / 0.3 cached / 3.75 cache write.
 * mystery/unknown-1 is unknown to every catalog: unpriced (cost null).
 *
 * | id | occurredAt (UTC)  | user  | provider/model              |    in |  out | extra                         | cost (hand computed, per-million units)         |
 * |----|-------------------|-------|-----------------------------|-------|------|-------------------------------|--------------------------------------------------|
 * | a1 | 2026-02-28 23:30  | alice | openai/gpt-4o               |  1000 |  500 |                               | 1000×2.5 + 500×10 = 7500 → 0.0075               |
 * | a2 | 2026-03-02 09:00  | alice | openai/gpt-4o               |  2000 | 1000 | cached 1000, 400 ms, chat     | 1000×2.5 + 1000×1.25 + 1000×10 = 13750 → 0.01375 |
 * | b1 | 2026-03-10 15:30  | bob   | anthropic/claude-3-5-sonnet |  2000 | 1000 | cache write 1000, 1200 ms     | 1000×3 + 1000×3.75 + 1000×15 = 21750 → 0.02175  |
 * | c1 | 2026-03-15 08:00  | carol | acmeai/tally-1              | 10000 | 1000 | reasoning 200                 | 10000×2 + 1000×8 = 28000 → 0.028                 |
 * | d1 | 2026-03-20 12:00  | dave  | mystery/unknown-1           |  3000 |    0 |                               | unpriced (null)                                  |
 * | d2 | 2026-03-20 13:00  | dave  | openai/gpt-4o               |     0 |    0 | error "timeout" (failed)      | 0 (computed)                                     |
 * | b2 | 2026-03-29 22:30  | bob   | openai/gpt-4o               |  1000 |  100 |                               | 2500 + 1000 = 3500 → 0.0035                      |
 * | a3 | 2026-03-30 10:00  | alice | anthropic/claude-3-5-sonnet |  1000 |  200 |                               | 3000 + 3000 = 6000 → 0.006                       |
 * | c2 | 2026-03-30 22:30  | carol | acmeai/tally-2              |   400 |  100 |                               | 400×1 + 100×2 = 600 → 0.0006                     |
 * | a4 | 2026-03-31 09:00  | alice | openai/gpt-4o               |  1000 | 1000 | 501 ms                        | 2500 + 10000 = 12500 → 0.0125                    |
 * | e1 | 2026-03-31 11:00  | eve   | mystery/unknown-1           |   500 |  500 |                               | unpriced (null)                                  |
 * | f1 | 2026-03-31 12:30  | alice | openai/gpt-4o               |   100 |  100 | 30 min after NOW (allowed)    | 250 + 1000 = 1250 → 0.00125                      |
 *
 * Berlin reading of the edge records: a1 is 2026-03-01 00:30 local (in Berlin's March, not in
 * UTC's), b2 is Monday 2026-03-30 00:30 local (in Berlin's week, not UTC's), c2 is Tuesday
 * 2026-03-31 00:30 local (in Berlin's today, not UTC's).
 */
export const NOW = new Date('2026-03-31T12:00:00Z');
export const WORKSPACE = 'acme';

const SINCE_2020 = '2020-01-01T00:00:00Z';
export const CUSTOM_MODELS = [
  {
    provider: 'acmeai',
    model: 'tally-1',
    kind: 'language',
    price: { effectiveFrom: SINCE_2020, inputPerMillion: '2', outputPerMillion: '8' },
  },
  {
    provider: 'acmeai',
    model: 'tally-2',
    kind: 'language',
    price: { effectiveFrom: SINCE_2020, inputPerMillion: '1', outputPerMillion: '2' },
  },
] as const;

export interface DatasetRecord {
  requestId: string;
  occurredAt: string;
  userId: string;
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens?: number;
  cacheWriteTokens?: number;
  reasoningTokens?: number;
  durationMs?: number;
  operation?: string;
  error?: string;
  cost?: string;
}

const GPT = { provider: 'openai', model: 'gpt-4o' };
const CLAUDE = { provider: 'anthropic', model: 'claude-3-5-sonnet' };
const MYSTERY = { provider: 'mystery', model: 'unknown-1' };

export const RECORDS: readonly DatasetRecord[] = [
  {
    requestId: 'a1',
    occurredAt: '2026-02-28T23:30:00Z',
    userId: 'alice',
    ...GPT,
    inputTokens: 1000,
    outputTokens: 500,
  },
  {
    requestId: 'a2',
    occurredAt: '2026-03-02T09:00:00Z',
    userId: 'alice',
    ...GPT,
    inputTokens: 2000,
    outputTokens: 1000,
    cachedInputTokens: 1000,
    durationMs: 400,
    operation: 'chat',
  },
  {
    requestId: 'b1',
    occurredAt: '2026-03-10T15:30:00Z',
    userId: 'bob',
    ...CLAUDE,
    inputTokens: 2000,
    outputTokens: 1000,
    cacheWriteTokens: 1000,
    durationMs: 1200,
  },
  {
    requestId: 'c1',
    occurredAt: '2026-03-15T08:00:00Z',
    userId: 'carol',
    provider: 'acmeai',
    model: 'tally-1',
    inputTokens: 10000,
    outputTokens: 1000,
    reasoningTokens: 200,
  },
  {
    requestId: 'd1',
    occurredAt: '2026-03-20T12:00:00Z',
    userId: 'dave',
    ...MYSTERY,
    inputTokens: 3000,
    outputTokens: 0,
  },
  {
    requestId: 'd2',
    occurredAt: '2026-03-20T13:00:00Z',
    userId: 'dave',
    ...GPT,
    inputTokens: 0,
    outputTokens: 0,
    error: 'timeout',
  },
  { requestId: 'b2', occurredAt: '2026-03-29T22:30:00Z', userId: 'bob', ...GPT, inputTokens: 1000, outputTokens: 100 },
  {
    requestId: 'a3',
    occurredAt: '2026-03-30T10:00:00Z',
    userId: 'alice',
    ...CLAUDE,
    inputTokens: 1000,
    outputTokens: 200,
  },
  {
    requestId: 'c2',
    occurredAt: '2026-03-30T22:30:00Z',
    userId: 'carol',
    provider: 'acmeai',
    model: 'tally-2',
    inputTokens: 400,
    outputTokens: 100,
  },
  {
    requestId: 'a4',
    occurredAt: '2026-03-31T09:00:00Z',
    userId: 'alice',
    ...GPT,
    inputTokens: 1000,
    outputTokens: 1000,
    durationMs: 501,
  },
  {
    requestId: 'e1',
    occurredAt: '2026-03-31T11:00:00Z',
    userId: 'eve',
    ...MYSTERY,
    inputTokens: 500,
    outputTokens: 500,
  },
  { requestId: 'f1', occurredAt: '2026-03-31T12:30:00Z', userId: 'alice', ...GPT, inputTokens: 100, outputTokens: 100 },
];

export type Headers = Record<string, string>;

export function adminOf(t: TestApp, workspaceId = WORKSPACE, sub = 'root'): Headers {
  return bearer(t.token(sub, { role: 'admin', workspaceId }));
}

export function memberOf(t: TestApp, sub: string, workspaceId = WORKSPACE): Headers {
  return bearer(t.token(sub, { role: 'member', workspaceId }));
}

/** Adds a workspace model (POST /v1/admin/models with `body`); asserts a 201 and returns the model's id. */
export async function createModel(
  t: TestApp,
  headers: Headers,
  body: { provider: string; model: string; kind?: string; price: Record<string, string | number> },
): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/admin/models', headers, payload: body });
  expect(res.statusCode, res.body).toBe(201);
  return res.json<{ id: string }>().id;
}

/** The fixed dataset above, in `workspaceId`, sent by that workspace's admin. */
export async function seedUsageDataset(t: TestApp, workspaceId = WORKSPACE): Promise<void> {
  const admin = adminOf(t, workspaceId);
  for (const model of CUSTOM_MODELS) await createModel(t, admin, model);
  await ingest(t, admin, RECORDS, { expectAccepted: true });
}

/** A test app (own database) on the clock `NOW`, with the dataset above seeded in `acme`. */
export async function createDatasetApp(options: Omit<TestAppOptions, 'clock'> = {}): Promise<TestApp> {
  const t = await createTestApp({ ...options, clock: { now: () => NOW } });
  await seedUsageDataset(t);
  return t;
}

/** GET `path` with `query` and the given headers; returns status and parsed body. */
export async function get<T = Record<string, unknown>>(
  t: TestApp,
  path: string,
  headers: Headers | undefined,
  query: Record<string, string | number | undefined> = {},
): Promise<{ status: number; body: T }> {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) search.set(key, String(value));
  const qs = search.toString();
  const res = await t.app.inject({ method: 'GET', url: qs ? `${path}?${qs}` : path, headers });
  return { status: res.statusCode, body: res.json<T>() };
}

/** GET that must answer 200. */
export async function getOk<T = Record<string, unknown>>(
  t: TestApp,
  path: string,
  headers: Headers | undefined,
  query: Record<string, string | number | undefined> = {},
): Promise<T> {
  const res = await get<T>(t, path, headers, query);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** Sum of two-decimal percentages in hundredths, free of float drift: 100 % is 10000. */
export function hundredths(percentages: readonly number[]): number {
  return percentages.reduce((sum, p) => sum + Math.round(p * 100), 0);
}

/** A zero bucket as the series show it in self-hosted mode. */
export function zeroBucket(bucketStart: string) {
  return { bucketStart, requests: 0, inputTokens: 0, outputTokens: 0, totalTokens: 0, cost: '0' };
}

/** Every admin Usage tab endpoint (path and a valid query). */
export const ADMIN_ENDPOINTS: ReadonlyArray<{ path: string; query?: Record<string, string | number> }> = [
  { path: '/v1/admin/usage/stats' },
  { path: '/v1/admin/usage/providers' },
  { path: '/v1/admin/usage/models', query: { limit: 3 } },
  { path: '/v1/admin/usage/users' },
  { path: '/v1/admin/usage/users/alice' },
  { path: '/v1/admin/usage/activity', query: { limit: 5 } },
];
