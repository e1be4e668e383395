import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecords } from '../support/records';
import type { TestApp } from '../support/test-app';
import { adminOf, createDatasetApp, getOk, type Headers } from '../support/usage-dataset';

/**
 * GET /v1/admin/usage/stats on the shared dataset (test/support/usage-dataset.ts, clock
 * 2026-03-31T12:00Z, a Tuesday).
 *
 * Default range R = [2026-03-01T12:00Z, 2026-03-31T12:00Z) (30 days up to now) holds a2 b1 c1
 * d1 d2 b2 a3 c2 a4 e1; a1 (Feb 28) is before it and f1 (12:30) after it.
 *   requests 10
 *   input  2000+2000+10000+3000+0+1000+1000+400+1000+500 = 20900
 *   output 1000+1000+1000+0+0+100+200+100+1000+500      =  4900
 *   total 25800; cached 1000 (a2); cache write 1000 (b1); reasoning 200 (c1)
 *   errors 1 (d2) → errorRate 0.1; durations 400, 1200, 501 → 2101 / 3 = 700.33 → 700.3
 *   cost 0.01375+0.02175+0.028+0+0.0035+0.006+0.0006+0.0125 = 0.0861; unpriced 2 (d1, e1)
 *   activeUsers 5 (alice bob carol dave eve)
 * Models in R by tokens: tally-1 11000 | gpt-4o 6100 (a2 3000 + d2 0 + b2 1100 + a4 2000) |
 *   claude 4200 (b1 3000 + a3 1200) | unknown-1 4000 (d1 3000 + e1 1000) | tally-2 500.
 *   Shares in hundredths of a percent of 25800 (largest remainder):
 *   4263.57 | 2364.34 | 1627.91 | 1550.39 | 193.80 → floors sum to 9997, the 3 largest
 *   remainders (.91 claude, .80 tally-2, .57 tally-1) get +1 → 42.64 | 23.64 | 16.28 | 15.5 | 1.94.
 */
let t: TestApp;
let admin: Headers;

beforeAll(async () => {
  t = await createDatasetApp();
  admin = adminOf(t);
});
afterAll(async () => t.close());

type Stats = {
  range: Record<string, string>;
  totals: Record<string, unknown>;
  activeUsers: number;
  topModels: Array<Record<string, unknown>>;
  windows: Record<'today' | 'week' | 'month', Record<string, unknown>>;
};

const stats = (query: Record<string, string> = {}) => getOk<Stats>(t, '/v1/admin/usage/stats', admin, query);

describe('GET /v1/admin/usage/stats', () => {
  it('answers the default range (30 days up to now, UTC, day) with exact totals, users and top models', async () => {
    const body = await stats();
    expect(body.range).toEqual({
      from: '2026-03-01T12:00:00.000Z',
      to: '2026-03-31T12:00:00.000Z',
      tz: 'UTC',
      granularity: 'day',
    });
    expect(body.totals).toEqual({
      requests: 10,
      inputTokens: 20900,
      outputTokens: 4900,
      cachedInputTokens: 1000,
      cacheWriteTokens: 1000,
      reasoningTokens: 200,
      totalTokens: 25800,
      errors: 1,
      errorRate: 0.1,
      avgDurationMs: 700.3,
      cost: '0.0861',
      unpricedRequests: 2,
    });
    expect(body.activeUsers).toBe(5);
    expect(body.topModels).toEqual([
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
      // every record unpriced: cost null, never '0'
      { provider: 'mystery', model: 'unknown-1', requests: 2, totalTokens: 4000, cost: null, percentage: 15.5 },
      { provider: 'acmeai', model: 'tally-2', requests: 1, totalTokens: 500, cost: '0.0006', percentage: 1.94 },
    ]);
  });

  it('defaults from to 30 days before to, and to to now', async () => {
    // [02-13, 03-15): a1 (1500, 0.0075), a2 (3000, 0.01375), b1 (3000, 0.02175); c1 is at 08:00 on 03-15
    const until = await stats({ to: '2026-03-15T00:00:00Z' });
    expect(until.range).toMatchObject({ from: '2026-02-13T00:00:00.000Z', to: '2026-03-15T00:00:00.000Z' });
    expect(until.totals).toMatchObject({ requests: 3, totalTokens: 7500, cost: '0.043', unpricedRequests: 0 });
    // [03-30, now): a3 (1200), c2 (500), a4 (2000), e1 (1000, unpriced); f1 is after now
    const since = await stats({ from: '2026-03-30T00:00:00Z' });
    expect(since.range).toMatchObject({ from: '2026-03-30T00:00:00.000Z', to: '2026-03-31T12:00:00.000Z' });
    expect(since.totals).toMatchObject({ requests: 4, totalTokens: 4700, cost: '0.0191', unpricedRequests: 1 });
  });

  it('lists every model of a wider range with its share of all tokens', async () => {
    // [2026-02-01, 2026-04-01) adds a1 (gpt-4o, 1500, 0.0075) and f1 (gpt-4o, 200, 0.00125):
    // 12 requests, 27500 tokens, cost 0.0861 + 0.0075 + 0.00125 = 0.09485; gpt-4o 7800.
    const body = await stats({ from: '2026-02-01T00:00:00Z', to: '2026-04-01T00:00:00Z' });
    expect(body.totals).toMatchObject({ requests: 12, totalTokens: 27500, cost: '0.09485', unpricedRequests: 2 });
    // hundredths of 27500: 4000 | 2836.36 | 1527.27 | 1454.55 | 181.82 → floors 9998, +1 to
    // .82 (tally-2) and .55 (unknown-1) → 40 | 28.36 | 15.27 | 14.55 | 1.82
    expect(body.topModels.map((m) => [m.model, m.totalTokens, m.percentage])).toEqual([
      ['tally-1', 11000, 40],
      ['gpt-4o', 7800, 28.36],
      ['claude-3-5-sonnet', 4200, 15.27],
      ['unknown-1', 4000, 14.55],
      ['tally-2', 500, 1.82],
    ]);
  });

  it('shows only the top 5 models, each with its share of all tokens (a sixth is left out)', async () => {
    // workspace "six": lab/m1..m6 with 600, 500, 400, 300, 200, 100 tokens (unpriced), total 2100.
    // hundredths: 2857.14 | 2380.95 | 1904.76 | 1428.57 | 952.38 | 476.19 → floors 9997, +1 to
    // .95, .76, .57 → 28.57 | 23.81 | 19.05 | 14.29 | 9.52 | 4.76 (m6 is not shown)
    const six = adminOf(t, 'six');
    await ingest(
      t,
      six,
      usageRecords(6, (i) => ({
        requestId: `six-${i + 1}`,
        occurredAt: '2026-03-20T10:00:00Z',
        userId: 'sam',
        provider: 'lab',
        model: `m${i + 1}`,
        inputTokens: 600 - 100 * i,
        outputTokens: 0,
      })),
      { expectAccepted: true },
    );
    const body = await getOk<Stats>(t, '/v1/admin/usage/stats', six);
    expect(body.topModels).toEqual([
      { provider: 'lab', model: 'm1', requests: 1, totalTokens: 600, cost: null, percentage: 28.57 },
      { provider: 'lab', model: 'm2', requests: 1, totalTokens: 500, cost: null, percentage: 23.81 },
      { provider: 'lab', model: 'm3', requests: 1, totalTokens: 400, cost: null, percentage: 19.05 },
      { provider: 'lab', model: 'm4', requests: 1, totalTokens: 300, cost: null, percentage: 14.29 },
      { provider: 'lab', model: 'm5', requests: 1, totalTokens: 200, cost: null, percentage: 9.52 },
    ]);
    expect(body.totals).toMatchObject({ requests: 6, totalTokens: 2100, cost: null, unpricedRequests: 6 });
    expect(body.activeUsers).toBe(1);
  });

  it('computes today / this week (from Monday) / this month in UTC relative to the clock', async () => {
    const { windows } = await stats();
    // today [03-31T00:00Z, now): a4 2000 (0.0125) + e1 1000 (unpriced); f1 is after now
    expect(windows.today).toEqual({
      from: '2026-03-31T00:00:00.000Z',
      requests: 2,
      totalTokens: 3000,
      errors: 0,
      cost: '0.0125',
      unpricedRequests: 1,
    });
    // week from Monday [03-30T00:00Z, now): a3 1200 + c2 500 + a4 2000 + e1 1000 = 4700;
    // cost 0.006 + 0.0006 + 0.0125 = 0.0191 (b2 is Sunday 22:30 UTC)
    expect(windows.week).toEqual({
      from: '2026-03-30T00:00:00.000Z',
      requests: 4,
      totalTokens: 4700,
      errors: 0,
      cost: '0.0191',
      unpricedRequests: 1,
    });
    // month [03-01T00:00Z, now): the ten records of R; a1 is in February
    expect(windows.month).toEqual({
      from: '2026-03-01T00:00:00.000Z',
      requests: 10,
      totalTokens: 25800,
      errors: 1,
      cost: '0.0861',
      unpricedRequests: 2,
    });
  });

  it('computes the windows at local midnights in Europe/Berlin (CET in February, CEST now)', async () => {
    const body = await stats({ tz: 'Europe/Berlin' });
    expect(body.range.tz).toBe('Europe/Berlin');
    // the range is instants: the same totals as in UTC
    expect(body.totals).toMatchObject({ requests: 10, totalTokens: 25800, cost: '0.0861' });
    // today: Tuesday 00:00 CEST = 03-30T22:00Z → c2 500 (0.0006) + a4 2000 (0.0125) + e1 1000
    expect(body.windows.today).toEqual({
      from: '2026-03-30T22:00:00.000Z',
      requests: 3,
      totalTokens: 3500,
      errors: 0,
      cost: '0.0131',
      unpricedRequests: 1,
    });
    // week: Monday 03-30 00:00 CEST = 03-29T22:00Z → b2 1100 + a3 1200 + c2 500 + a4 2000 + e1 1000
    // = 5800; cost 0.0035 + 0.006 + 0.0006 + 0.0125 = 0.0226
    expect(body.windows.week).toEqual({
      from: '2026-03-29T22:00:00.000Z',
      requests: 5,
      totalTokens: 5800,
      errors: 0,
      cost: '0.0226',
      unpricedRequests: 1,
    });
    // month: 03-01 00:00 CET = 02-28T23:00Z → a1 (1500, 0.0075) and the ten of March
    // = 27300 tokens, cost 0.0861 + 0.0075 = 0.0936
    expect(body.windows.month).toEqual({
      from: '2026-02-28T23:00:00.000Z',
      requests: 11,
      totalTokens: 27300,
      errors: 1,
      cost: '0.0936',
      unpricedRequests: 2,
    });
  });

  it('narrows every aggregate with provider, model and userId (names are case-insensitive)', async () => {
    // openai in R: a2 (2000/1000, 400 ms) d2 (0/0, failed) b2 (1000/100) a4 (1000/1000, 501 ms)
    const openai = await stats({ provider: 'OpenAI' });
    expect(openai.totals).toEqual({
      requests: 4,
      inputTokens: 4000,
      outputTokens: 2100,
      cachedInputTokens: 1000,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
      totalTokens: 6100,
      errors: 1,
      errorRate: 0.25,
      avgDurationMs: 450.5,
      cost: '0.02975',
      unpricedRequests: 0,
    });
    expect(openai.activeUsers).toBe(3); // alice, dave, bob
    expect(openai.topModels).toEqual([
      { provider: 'openai', model: 'gpt-4o', requests: 4, totalTokens: 6100, cost: '0.02975', percentage: 100 },
    ]);
    // windows keep the filter: today a4; week a4; month the four of R
    expect([
      openai.windows.today.totalTokens,
      openai.windows.week.totalTokens,
      openai.windows.month.totalTokens,
    ]).toEqual([2000, 2000, 6100]);

    const claude = await stats({ model: 'claude-3-5-sonnet' });
    expect(claude.totals).toMatchObject({ requests: 2, totalTokens: 4200, cost: '0.02775', cacheWriteTokens: 1000 });
    expect(claude.activeUsers).toBe(2);

    // carol: c1 tally-1 11000 (0.028) and c2 tally-2 500 (0.0006) → 11000/11500 = 95.652 %,
    // 500/11500 = 4.348 % → hundredths 9565.22 | 434.78 → +1 to tally-2 → 95.65 | 4.35
    const carol = await stats({ userId: 'carol' });
    expect(carol.totals).toMatchObject({ requests: 2, totalTokens: 11500, reasoningTokens: 200, cost: '0.0286' });
    expect(carol.activeUsers).toBe(1);
    expect(carol.topModels.map((m) => [m.model, m.percentage])).toEqual([
      ['tally-1', 95.65],
      ['tally-2', 4.35],
    ]);
    expect(carol.windows.today).toMatchObject({ requests: 0, totalTokens: 0, cost: '0', unpricedRequests: 0 });
    expect(carol.windows.week).toMatchObject({ requests: 1, totalTokens: 500, cost: '0.0006' });
    expect(carol.windows.month).toMatchObject({ requests: 2, totalTokens: 11500, cost: '0.0286' });

    // all of dave's records in R are unpriced or free: cost '0' with one unpriced request
    const dave = await stats({ userId: 'dave' });
    expect(dave.totals).toMatchObject({ requests: 2, totalTokens: 3000, errors: 1, errorRate: 0.5, cost: '0' });
    expect(dave.totals.unpricedRequests).toBe(1);
    // eve's only record is unpriced: cost null
    const eve = await stats({ userId: 'eve' });
    expect(eve.totals).toMatchObject({ requests: 1, totalTokens: 1000, cost: null, unpricedRequests: 1 });
  });

  it('answers an empty range with zeros, no models and windows that still follow the clock', async () => {
    const body = await stats({ from: '2025-01-01T00:00:00Z', to: '2025-01-08T00:00:00Z' });
    expect(body.totals).toEqual({
      requests: 0,
      inputTokens: 0,
      outputTokens: 0,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
      totalTokens: 0,
      errors: 0,
      errorRate: 0,
      avgDurationMs: null,
      cost: '0',
      unpricedRequests: 0,
    });
    expect(body.activeUsers).toBe(0);
    expect(body.topModels).toEqual([]);
    expect(body.windows.today).toMatchObject({ requests: 2, totalTokens: 3000 });
  });
});
