import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import type { TestApp } from '../support/test-app';
import { adminOf, createDatasetApp, get, getOk, hundredths, type Headers } from '../support/usage-dataset';

/**
 * GET /v1/admin/usage/models — the top `limit` models and the "Others" bucket.
 *
 * Workspace "lab" (own dataset, all on 2026-03-20, inside the default range; cost sent by the
 * client where given, lab/* is unknown to the catalog otherwise):
 *
 *   model | records                      | tokens | requests | cost
 *   m-a   | 2 × (500 in + 100 out) @0.001 |  1200  |    2     | 0.002
 *   m-b   | 1 × (1000 in + 200 out) @0.0033 | 1200 |    1     | 0.0033
 *   m-c   | 3 × 400 in @0.0001            |  1200  |    3     | 0.0003
 *   m-d   | 1 × 900 in @0.00005           |   900  |    1     | 0.00005
 *   m-e   | 450 in @0.1 + 450 in @0.2     |   900  |    2     | 0.3
 *   m-f   | 1 × 900 in, no cost           |   900  |    1     | unpriced
 *   m-g   | 1 × 900 in, no cost           |   900  |    1     | unpriced
 *   total 7200 tokens, 11 requests, 2 unpriced.
 *
 * Order: tokens desc, then requests desc, then name: m-c, m-a, m-b, m-e, m-d, m-f, m-g.
 * Each 1200 model is 1/6 of the tokens (1666.67 hundredths of a percent), each 900 one 12.5 %.
 * With limit 3, Others = 3600 = 50 %: naive rounding gives 16.67 × 3 + 50 = 100.01; the largest
 * remainder gives the two spare hundredths to the first two → 16.67 + 16.67 + 16.66 + 50 = 100.
 *
 * Workspace "acme": the shared dataset (test/support/usage-dataset.ts).
 */
let t: TestApp;
let lab: Headers;
let acme: Headers;

const at = '2026-03-20T10:00:00Z';
const labRecord = (requestId: string, model: string, inputTokens: number, outputTokens: number, cost?: string) =>
  usageRecord({
    requestId,
    occurredAt: at,
    userId: 'lee',
    provider: 'lab',
    model,
    inputTokens,
    outputTokens,
    ...(cost === undefined ? {} : { cost }),
  });

beforeAll(async () => {
  t = await createDatasetApp();
  acme = adminOf(t);
  lab = adminOf(t, 'lab');
  await ingest(
    t,
    lab,
    [
      labRecord('a1', 'm-a', 500, 100, '0.001'),
      labRecord('a2', 'm-a', 500, 100, '0.001'),
      labRecord('b1', 'm-b', 1000, 200, '0.0033'),
      labRecord('c1', 'm-c', 400, 0, '0.0001'),
      labRecord('c2', 'm-c', 400, 0, '0.0001'),
      labRecord('c3', 'm-c', 400, 0, '0.0001'),
      labRecord('d1', 'm-d', 900, 0, '0.00005'),
      labRecord('e1', 'm-e', 450, 0, '0.1'),
      labRecord('e2', 'm-e', 450, 0, '0.2'),
      labRecord('f1', 'm-f', 900, 0),
      labRecord('g1', 'm-g', 900, 0),
    ],
    { expectAccepted: true },
  );
});
afterAll(async () => t.close());

type ModelRow = {
  provider: string;
  model: string;
  requests: number;
  totalTokens: number;
  cost: string | null;
  percentage: number;
};
type Others = { models: number; requests: number; totalTokens: number; cost: string | null; percentage: number };
type Distribution = {
  range: Record<string, string>;
  models: ModelRow[];
  others: Others | null;
  unpricedRequests: number;
};

const distribution = (headers: Headers, query: Record<string, string | number> = {}) =>
  getOk<Distribution>(t, '/v1/admin/usage/models', headers, query);

const row = (model: string, requests: number, totalTokens: number, cost: string | null, percentage: number) => ({
  provider: 'lab',
  model,
  requests,
  totalTokens,
  cost,
  percentage,
});

describe('GET /v1/admin/usage/models', () => {
  it('shows the top 3 of 7 models and folds the other 4 into Others; shares sum to exactly 100', async () => {
    const body = await distribution(lab, { limit: 3 });
    expect(body.models).toEqual([
      row('m-c', 3, 1200, '0.0003', 16.67),
      row('m-a', 2, 1200, '0.002', 16.67),
      row('m-b', 1, 1200, '0.0033', 16.66),
    ]);
    // m-e (2 req, 0.3) + m-d (1, 0.00005) + m-f (1, unpriced) + m-g (1, unpriced)
    expect(body.others).toEqual({ models: 4, requests: 5, totalTokens: 3600, cost: '0.30005', percentage: 50 });
    expect(hundredths([...body.models.map((m) => m.percentage), body.others!.percentage])).toBe(10000);
    expect(body.unpricedRequests).toBe(2);
  });

  it('defaults to 5 models; Others of only unpriced models has cost null', async () => {
    const body = await distribution(lab);
    // 1666.67 ×3 + 1250 ×2 + Others 2500 → floors 9998 → +1 to the first two thirds
    expect(body.models).toEqual([
      row('m-c', 3, 1200, '0.0003', 16.67),
      row('m-a', 2, 1200, '0.002', 16.67),
      row('m-b', 1, 1200, '0.0033', 16.66),
      row('m-e', 2, 900, '0.3', 12.5),
      row('m-d', 1, 900, '0.00005', 12.5),
    ]);
    expect(body.others).toEqual({ models: 2, requests: 2, totalTokens: 1800, cost: null, percentage: 25 });
    expect(hundredths([...body.models.map((m) => m.percentage), body.others!.percentage])).toBe(10000);
  });

  it('with limit 6 leaves one unpriced model in Others', async () => {
    const body = await distribution(lab, { limit: 6 });
    expect(body.models.map((m) => m.model)).toEqual(['m-c', 'm-a', 'm-b', 'm-e', 'm-d', 'm-f']);
    expect(body.models.map((m) => m.percentage)).toEqual([16.67, 16.67, 16.66, 12.5, 12.5, 12.5]);
    expect(body.models[5]).toEqual(row('m-f', 1, 900, null, 12.5));
    expect(body.others).toEqual({ models: 1, requests: 1, totalTokens: 900, cost: null, percentage: 12.5 });
  });

  it('with limit 1 folds six models into Others', async () => {
    // 1200 / 7200 = 1666.67 hundredths, Others 6000 / 7200 = 8333.33 → +1 to m-c
    const body = await distribution(lab, { limit: 1 });
    expect(body.models).toEqual([row('m-c', 3, 1200, '0.0003', 16.67)]);
    // 0.002 + 0.0033 + 0.3 + 0.00005 = 0.30535; requests 2 + 1 + 2 + 1 + 1 + 1 = 8
    expect(body.others).toEqual({ models: 6, requests: 8, totalTokens: 6000, cost: '0.30535', percentage: 83.33 });
  });

  it('has no Others when the limit covers every model', async () => {
    for (const limit of [7, 50]) {
      const body = await distribution(lab, { limit });
      expect(body.others).toBeNull();
      expect(body.models.map((m) => [m.model, m.percentage])).toEqual([
        ['m-c', 16.67],
        ['m-a', 16.67],
        ['m-b', 16.66],
        ['m-e', 12.5],
        ['m-d', 12.5],
        ['m-f', 12.5],
        ['m-g', 12.5],
      ]);
      expect(hundredths(body.models.map((m) => m.percentage))).toBe(10000);
      expect(body.unpricedRequests).toBe(2);
    }
  });

  it('answers the shared dataset with exact top 3 and Others', async () => {
    // R: tally-1 11000 | gpt-4o 6100 | claude 4200 | Others = unknown-1 4000 + tally-2 500 = 4500
    // hundredths of 25800: 4263.57 | 2364.34 | 1627.91 | 1744.19 → floors 9998, +1 to .91 and .57
    const body = await distribution(acme, { limit: 3 });
    expect(body.models).toEqual([
      { provider: 'acmeai', model: 'tally-1', requests: 1, totalTokens: 11000, cost: '0.028', percentage: 42.64 },
      { provider: 'openai', model: 'gpt-4o', requests: 4, totalTokens: 6100, cost: '0.02975', percentage: 23.64 },
      {
        provider: 'anthropic',
        model: 'claude-3-5-sonnet',
        requests: 2,
        totalTokens: 4200,
        cost: '0.02775',
        percentage: 16.28,
      },
    ]);
    // unknown-1 (2 unpriced requests) + tally-2 (0.0006): some priced → '0.0006', not null
    expect(body.others).toEqual({ models: 2, requests: 3, totalTokens: 4500, cost: '0.0006', percentage: 17.44 });
    expect(body.unpricedRequests).toBe(2);
  });

  it('narrows by provider, userId and model', async () => {
    // acmeai: tally-1 11000 (95.652 %), tally-2 500 (4.348 %) → 95.65 | 4.35
    const acmeai = await distribution(acme, { provider: 'acmeai', limit: 1 });
    expect(acmeai.models).toEqual([
      { provider: 'acmeai', model: 'tally-1', requests: 1, totalTokens: 11000, cost: '0.028', percentage: 95.65 },
    ]);
    expect(acmeai.others).toEqual({ models: 1, requests: 1, totalTokens: 500, cost: '0.0006', percentage: 4.35 });
    expect(acmeai.unpricedRequests).toBe(0);

    // dave: unknown-1 3000 (unpriced) and gpt-4o 0 tokens (failed, priced 0) → 100 | 0
    const dave = await distribution(acme, { userId: 'dave' });
    expect(dave.models).toEqual([
      { provider: 'mystery', model: 'unknown-1', requests: 1, totalTokens: 3000, cost: null, percentage: 100 },
      { provider: 'openai', model: 'gpt-4o', requests: 1, totalTokens: 0, cost: '0', percentage: 0 },
    ]);
    expect(dave.others).toBeNull();
    expect(dave.unpricedRequests).toBe(1);

    const gpt = await distribution(acme, { model: 'gpt-4o', userId: 'alice' });
    // a2 3000 + a4 2000; 0.01375 + 0.0125
    expect(gpt.models).toEqual([
      { provider: 'openai', model: 'gpt-4o', requests: 2, totalTokens: 5000, cost: '0.02625', percentage: 100 },
    ]);
  });

  it('answers an empty range with no models and Others null', async () => {
    const body = await distribution(acme, { from: '2025-01-01T00:00:00Z', to: '2025-01-08T00:00:00Z', limit: 3 });
    expect(body.models).toEqual([]);
    expect(body.others).toBeNull();
    expect(body.unpricedRequests).toBe(0);
  });

  it('rejects a limit outside 1–50', async () => {
    for (const limit of [0, 51, 'many']) {
      const res = await get<{ details: Array<{ path: string }> }>(t, '/v1/admin/usage/models', acme, { limit });
      expect(res.status).toBe(400);
      expect(res.body.details.map((d) => d.path)).toContain('/querystring/limit');
    }
  });
});
