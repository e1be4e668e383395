import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import type { TestApp } from '../support/test-app';
import { adminOf, createDatasetApp, getOk, hundredths, type Headers } from '../support/usage-dataset';

/**
 * GET /v1/admin/usage/providers on the shared dataset (test/support/usage-dataset.ts), plus two
 * tiny workspaces of their own:
 *   "thirds":  providers p-a, p-b, p-c with 1000 tokens each (cost provided: 0.1 each)
 *   "failing": provider x with two failed 0-token calls, y with one → shares of requests
 *
 * Providers in the default range R = [2026-03-01T12:00Z, 2026-03-31T12:00Z):
 *   acmeai    c1 11000 + c2 500                     = 11500, 2 req, 0.028 + 0.0006 = 0.0286
 *   openai    a2 3000 + d2 0 + b2 1100 + a4 2000    =  6100, 4 req, 0.01375 + 0 + 0.0035 + 0.0125 = 0.02975
 *   anthropic b1 3000 + a3 1200                     =  4200, 2 req, 0.02175 + 0.006 = 0.02775
 *   mystery   d1 3000 + e1 1000                     =  4000, 2 req, unpriced → cost null
 *   of 25800: hundredths 4457.36 | 2364.34 | 1627.91 | 1550.39 → floors 9998, +1 to .91 and
 *   .39 → 44.57 | 23.64 | 16.28 | 15.51
 */
let t: TestApp;
let admin: Headers;

beforeAll(async () => {
  t = await createDatasetApp();
  admin = adminOf(t);
});
afterAll(async () => t.close());

type ProviderRow = { provider: string; requests: number; totalTokens: number; cost: string | null; percentage: number };
type SeriesRow = { bucketStart: string; provider: string; requests: number; totalTokens: number; cost: string | null };
type Providers = {
  range: Record<string, string>;
  providers: ProviderRow[];
  series: SeriesRow[];
  unpricedRequests: number;
};

const providers = (query: Record<string, string> = {}, headers = admin) =>
  getOk<Providers>(t, '/v1/admin/usage/providers', headers, query);

const zero = (bucketStart: string, provider: string): SeriesRow => ({
  bucketStart,
  provider,
  requests: 0,
  totalTokens: 0,
  cost: '0',
});

describe('GET /v1/admin/usage/providers', () => {
  it('gives each provider its requests, tokens, exact cost and a share of tokens; shares sum to 100', async () => {
    const body = await providers();
    expect(body.providers).toEqual([
      { provider: 'acmeai', requests: 2, totalTokens: 11500, cost: '0.0286', percentage: 44.57 },
      { provider: 'openai', requests: 4, totalTokens: 6100, cost: '0.02975', percentage: 23.64 },
      { provider: 'anthropic', requests: 2, totalTokens: 4200, cost: '0.02775', percentage: 16.28 },
      { provider: 'mystery', requests: 2, totalTokens: 4000, cost: null, percentage: 15.51 },
    ]);
    expect(hundredths(body.providers.map((p) => p.percentage))).toBe(10000);
    expect(body.unpricedRequests).toBe(2);
    // the series: every day of R (03-01 … 03-31 = 31 buckets) for each of the 4 providers
    expect(body.series).toHaveLength(31 * 4);
    expect(body.series[0]).toEqual(zero('2026-03-01T00:00:00.000Z', 'acmeai'));
    expect(body.series.at(-1)).toEqual({
      bucketStart: '2026-03-31T00:00:00.000Z',
      provider: 'openai',
      requests: 1, // a4; f1 is after the range
      totalTokens: 2000,
      cost: '0.0125',
    });
    // the series adds up to the provider totals
    for (const p of body.providers) {
      const rows = body.series.filter((s) => s.provider === p.provider);
      expect(rows).toHaveLength(31);
      expect(rows.reduce((sum, s) => sum + s.totalTokens, 0)).toBe(p.totalTokens);
      expect(rows.reduce((sum, s) => sum + s.requests, 0)).toBe(p.requests);
    }
    // the mystery provider's only non-zero days are unpriced: cost null there, '0' elsewhere
    expect(body.series.filter((s) => s.provider === 'mystery' && s.requests > 0)).toEqual([
      { bucketStart: '2026-03-20T00:00:00.000Z', provider: 'mystery', requests: 1, totalTokens: 3000, cost: null },
      { bucketStart: '2026-03-31T00:00:00.000Z', provider: 'mystery', requests: 1, totalTokens: 1000, cost: null },
    ]);
    // 03-20 for openai: d2 failed at 0 tokens, priced at 0 → '0', not null
    expect(body.series.find((s) => s.provider === 'openai' && s.bucketStart === '2026-03-20T00:00:00.000Z')).toEqual({
      bucketStart: '2026-03-20T00:00:00.000Z',
      provider: 'openai',
      requests: 1,
      totalTokens: 0,
      cost: '0',
    });
  });

  it('zero-fills the series of three UTC days bucket by bucket', async () => {
    // [03-29, 04-01) UTC: b2 openai 1100 (03-29); a3 anthropic 1200, c2 acmeai 500 (03-30);
    // a4 openai 2000, f1 openai 200, e1 mystery 1000 (03-31). Total 6000:
    // openai 3300 (0.0035 + 0.0125 + 0.00125 = 0.01725) → 55 %, anthropic 1200 → 20 %,
    // mystery 1000 → 16.666…, acmeai 500 → 8.333… → hundredths floors 9999, +1 to mystery (.67)
    const body = await providers({ from: '2026-03-29T00:00:00Z', to: '2026-04-01T00:00:00Z' });
    expect(body.range).toEqual({
      from: '2026-03-29T00:00:00.000Z',
      to: '2026-04-01T00:00:00.000Z',
      tz: 'UTC',
      granularity: 'day',
    });
    expect(body.providers).toEqual([
      { provider: 'openai', requests: 3, totalTokens: 3300, cost: '0.01725', percentage: 55 },
      { provider: 'anthropic', requests: 1, totalTokens: 1200, cost: '0.006', percentage: 20 },
      { provider: 'mystery', requests: 1, totalTokens: 1000, cost: null, percentage: 16.67 },
      { provider: 'acmeai', requests: 1, totalTokens: 500, cost: '0.0006', percentage: 8.33 },
    ]);
    expect(body.unpricedRequests).toBe(1);
    const d29 = '2026-03-29T00:00:00.000Z';
    const d30 = '2026-03-30T00:00:00.000Z';
    const d31 = '2026-03-31T00:00:00.000Z';
    expect(body.series).toEqual([
      zero(d29, 'acmeai'),
      zero(d29, 'anthropic'),
      zero(d29, 'mystery'),
      { bucketStart: d29, provider: 'openai', requests: 1, totalTokens: 1100, cost: '0.0035' },
      { bucketStart: d30, provider: 'acmeai', requests: 1, totalTokens: 500, cost: '0.0006' },
      { bucketStart: d30, provider: 'anthropic', requests: 1, totalTokens: 1200, cost: '0.006' },
      zero(d30, 'mystery'),
      zero(d30, 'openai'),
      zero(d31, 'acmeai'),
      zero(d31, 'anthropic'),
      { bucketStart: d31, provider: 'mystery', requests: 1, totalTokens: 1000, cost: null },
      // a4 0.0125 + f1 0.00125
      { bucketStart: d31, provider: 'openai', requests: 2, totalTokens: 2200, cost: '0.01375' },
    ]);
  });

  it('buckets the same three days by Berlin midnights (the 29th is 23 hours long)', async () => {
    // from 03-29T00:00Z is 01:00 CET on the 29th, to 04-01T00:00Z is 02:00 CEST on April 1st:
    // four local days. b2 (03-29T22:30Z) is 00:30 on the 30th; c2 (03-30T22:30Z) is 00:30 on the 31st.
    const body = await providers({ from: '2026-03-29T00:00:00Z', to: '2026-04-01T00:00:00Z', tz: 'Europe/Berlin' });
    expect(body.providers.map((p) => [p.provider, p.totalTokens, p.percentage])).toEqual([
      ['openai', 3300, 55],
      ['anthropic', 1200, 20],
      ['mystery', 1000, 16.67],
      ['acmeai', 500, 8.33],
    ]);
    const d29 = '2026-03-28T23:00:00.000Z';
    const d30 = '2026-03-29T22:00:00.000Z';
    const d31 = '2026-03-30T22:00:00.000Z';
    const a01 = '2026-03-31T22:00:00.000Z';
    expect(Date.parse(d30) - Date.parse(d29)).toBe(23 * 3_600_000);
    expect(body.series).toEqual([
      zero(d29, 'acmeai'),
      zero(d29, 'anthropic'),
      zero(d29, 'mystery'),
      zero(d29, 'openai'),
      zero(d30, 'acmeai'),
      { bucketStart: d30, provider: 'anthropic', requests: 1, totalTokens: 1200, cost: '0.006' },
      zero(d30, 'mystery'),
      { bucketStart: d30, provider: 'openai', requests: 1, totalTokens: 1100, cost: '0.0035' },
      { bucketStart: d31, provider: 'acmeai', requests: 1, totalTokens: 500, cost: '0.0006' },
      zero(d31, 'anthropic'),
      { bucketStart: d31, provider: 'mystery', requests: 1, totalTokens: 1000, cost: null },
      { bucketStart: d31, provider: 'openai', requests: 2, totalTokens: 2200, cost: '0.01375' },
      zero(a01, 'acmeai'),
      zero(a01, 'anthropic'),
      zero(a01, 'mystery'),
      zero(a01, 'openai'),
    ]);
  });

  it('narrows providers and series with model, userId and provider filters', async () => {
    const gpt = await providers({ model: 'GPT-4o' });
    expect(gpt.providers).toEqual([
      { provider: 'openai', requests: 4, totalTokens: 6100, cost: '0.02975', percentage: 100 },
    ]);
    expect(gpt.series).toHaveLength(31);
    expect(gpt.series.every((s) => s.provider === 'openai')).toBe(true);
    expect(gpt.unpricedRequests).toBe(0);

    const carol = await providers({ userId: 'carol' });
    expect(carol.providers).toEqual([
      { provider: 'acmeai', requests: 2, totalTokens: 11500, cost: '0.0286', percentage: 100 },
    ]);

    const mystery = await providers({ provider: 'mystery' });
    expect(mystery.providers).toEqual([
      { provider: 'mystery', requests: 2, totalTokens: 4000, cost: null, percentage: 100 },
    ]);
    expect(mystery.unpricedRequests).toBe(2);

    // alice in R: a2 gpt 3000, a3 claude 1200, a4 gpt 2000 → openai 5000 (80.645 %), anthropic
    // 1200 (19.355 %) → hundredths 8064.52 | 1935.48 → +1 to openai → 80.65 | 19.35
    const alice = await providers({ userId: 'alice' });
    expect(alice.providers).toEqual([
      { provider: 'openai', requests: 2, totalTokens: 5000, cost: '0.02625', percentage: 80.65 },
      { provider: 'anthropic', requests: 1, totalTokens: 1200, cost: '0.006', percentage: 19.35 },
    ]);
  });

  it('splits three equal providers into shares that sum to exactly 100 (33.34 + 33.33 + 33.33)', async () => {
    const thirds = adminOf(t, 'thirds');
    await ingest(
      t,
      thirds,
      ['p-a', 'p-b', 'p-c'].map((provider) =>
        usageRecord({
          requestId: `third-${provider}`,
          occurredAt: '2026-03-20T10:00:00Z',
          userId: 'tess',
          provider,
          model: 'same',
          inputTokens: 600,
          outputTokens: 400,
          cost: '0.1',
        }),
      ),
      { expectAccepted: true },
    );
    const body = await providers({}, thirds);
    // 1000 / 3000 each: hundredths 3333.33 ×3 → floors 9999, the tie goes to the first listed
    expect(body.providers).toEqual([
      { provider: 'p-a', requests: 1, totalTokens: 1000, cost: '0.1', percentage: 33.34 },
      { provider: 'p-b', requests: 1, totalTokens: 1000, cost: '0.1', percentage: 33.33 },
      { provider: 'p-c', requests: 1, totalTokens: 1000, cost: '0.1', percentage: 33.33 },
    ]);
    expect(hundredths(body.providers.map((p) => p.percentage))).toBe(10000);
    expect(body.unpricedRequests).toBe(0);
  });

  it('shares requests when no call used a token (all failed)', async () => {
    const failing = adminOf(t, 'failing');
    await ingest(
      t,
      failing,
      [
        {
          requestId: 'x1',
          occurredAt: '2026-03-20T10:00:00Z',
          provider: 'x',
          model: 'm',
          inputTokens: 0,
          outputTokens: 0,
          error: 'down',
        },
        {
          requestId: 'x2',
          occurredAt: '2026-03-20T11:00:00Z',
          provider: 'x',
          model: 'm',
          inputTokens: 0,
          outputTokens: 0,
          error: 'down',
        },
        {
          requestId: 'y1',
          occurredAt: '2026-03-20T12:00:00Z',
          provider: 'y',
          model: 'm',
          inputTokens: 0,
          outputTokens: 0,
          error: 'down',
        },
      ],
      { expectAccepted: true },
    );
    const body = await providers({}, failing);
    // 2 of 3 requests → 66.666… | 33.333… → hundredths 6666.67 | 3333.33 → +1 to x
    expect(body.providers).toEqual([
      { provider: 'x', requests: 2, totalTokens: 0, cost: null, percentage: 66.67 },
      { provider: 'y', requests: 1, totalTokens: 0, cost: null, percentage: 33.33 },
    ]);
    expect(body.unpricedRequests).toBe(3);
  });

  it('answers an empty range with no providers, no series and no unpriced records', async () => {
    const body = await providers({ from: '2025-01-01T00:00:00Z', to: '2025-01-08T00:00:00Z' });
    expect(body).toEqual({
      range: { from: '2025-01-01T00:00:00.000Z', to: '2025-01-08T00:00:00.000Z', tz: 'UTC', granularity: 'day' },
      providers: [],
      series: [],
      unpricedRequests: 0,
    });
  });
});
