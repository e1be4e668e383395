import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../support/records';
import type { TestApp } from '../support/test-app';
import {
  adminOf,
  createDatasetApp,
  get,
  getOk,
  hundredths,
  memberOf,
  zeroBucket,
  type Headers,
} from '../support/usage-dataset';

/**
 * GET /v1/admin/usage/activity, GET /v1/me/usage and GET /v1/usage/config on the shared
 * dataset (test/support/usage-dataset.ts, clock 2026-03-31T12:00Z), plus workspace "ties":
 *   p1 at 2026-03-25T10:00Z with a client-sent cost of 0.5 (costStatus "provided")
 *   t-a and t-b both at 2026-03-25T11:00Z (same instant: ordered by request id, newest-first = desc)
 *
 * Activity in the default range R = [2026-03-01T12:00Z, 2026-03-31T12:00Z), newest first:
 *   e1 a4 c2 a3 b2 d2 d1 c1 b1 a2 (a1 is before R, f1 after it)
 *
 * alice's own usage in R: a2 (2000/1000, cached 1000, 400 ms, 0.01375), a3 (claude 1000/200,
 * 0.006), a4 (1000/1000, 501 ms, 0.0125) → 3 requests, 4000 / 2200 / 6200 tokens, 0.03225;
 * openai 5000 (80.645 %) and anthropic 1200 (19.355 %) → hundredths 8064.52 | 1935.48 →
 * +1 to openai → 80.65 | 19.35.
 */
let t: TestApp;
let admin: Headers;

beforeAll(async () => {
  t = await createDatasetApp();
  admin = adminOf(t);
  await ingest(
    t,
    adminOf(t, 'ties'),
    [
      {
        requestId: 'p1',
        occurredAt: '2026-03-25T10:00:00Z',
        userId: 'pat',
        provider: 'openai',
        model: 'gpt-4o',
        inputTokens: 1,
        outputTokens: 1,
        cost: '0.5',
      },
      {
        requestId: 't-a',
        occurredAt: '2026-03-25T11:00:00Z',
        userId: 'pat',
        provider: 'openai',
        model: 'gpt-4o',
        inputTokens: 1,
        outputTokens: 0,
      },
      {
        requestId: 't-b',
        occurredAt: '2026-03-25T11:00:00Z',
        userId: 'pat',
        provider: 'openai',
        model: 'gpt-4o',
        inputTokens: 2,
        outputTokens: 0,
      },
    ],
    { expectAccepted: true },
  );
});
afterAll(async () => t.close());

type Activity = { range: Record<string, string>; items: Array<Record<string, unknown>> };
const activity = (query: Record<string, string | number> = {}, headers = admin) =>
  getOk<Activity>(t, '/v1/admin/usage/activity', headers, query);
const activityIds = async (query: Record<string, string | number> = {}) =>
  (await activity(query)).items.map((r) => r.requestId);

describe('GET /v1/admin/usage/activity', () => {
  it('lists the most recent records of the range newest first, 10 by default', async () => {
    const body = await activity();
    expect(body.range).toEqual({
      from: '2026-03-01T12:00:00.000Z',
      to: '2026-03-31T12:00:00.000Z',
      tz: 'UTC',
      granularity: 'day',
    });
    expect(body.items.map((r) => r.requestId)).toEqual(['e1', 'a4', 'c2', 'a3', 'b2', 'd2', 'd1', 'c1', 'b1', 'a2']);
    expect(body.items[0]).toEqual({
      requestId: 'e1',
      occurredAt: '2026-03-31T11:00:00.000Z',
      userId: 'eve',
      provider: 'mystery',
      model: 'unknown-1',
      operation: null,
      inputTokens: 500,
      outputTokens: 500,
      totalTokens: 1000,
      durationMs: null,
      success: true,
      error: null,
      tokenSource: 'reported',
      cost: null,
      costStatus: 'unpriced',
    });
    expect(body.items[5]).toEqual({
      requestId: 'd2',
      occurredAt: '2026-03-20T13:00:00.000Z',
      userId: 'dave',
      provider: 'openai',
      model: 'gpt-4o',
      operation: null,
      inputTokens: 0,
      outputTokens: 0,
      totalTokens: 0,
      durationMs: null,
      success: false,
      error: 'timeout',
      tokenSource: 'reported',
      cost: '0',
      costStatus: 'computed',
    });
    expect(body.items[9]).toMatchObject({ requestId: 'a2', operation: 'chat', durationMs: 400, cost: '0.01375' });
  });

  it('respects limit, up to 100', async () => {
    expect(await activityIds({ limit: 3 })).toEqual(['e1', 'a4', 'c2']);
    expect(await activityIds({ limit: 1 })).toEqual(['e1']);
    // the whole of [02-01, 04-01): twelve records, f1 (12:30, after now) first and a1 last
    const all = await activityIds({ limit: 100, from: '2026-02-01T00:00:00Z', to: '2026-04-01T00:00:00Z' });
    expect(all).toEqual(['f1', 'e1', 'a4', 'c2', 'a3', 'b2', 'd2', 'd1', 'c1', 'b1', 'a2', 'a1']);
  });

  it('rejects a limit of 0 or over 100', async () => {
    for (const limit of [0, 101]) {
      const res = await get<{ details: Array<{ path: string }> }>(t, '/v1/admin/usage/activity', admin, { limit });
      expect(res.status).toBe(400);
      expect(res.body.details.map((d) => d.path)).toContain('/querystring/limit');
    }
  });

  it('narrows by provider, model and userId, and keeps [from, to) exact', async () => {
    expect(await activityIds({ provider: 'OPENAI' })).toEqual(['a4', 'b2', 'd2', 'a2']);
    expect(await activityIds({ model: 'claude-3-5-sonnet' })).toEqual(['a3', 'b1']);
    expect(await activityIds({ userId: 'carol' })).toEqual(['c2', 'c1']);
    expect(await activityIds({ userId: 'carol', provider: 'openai' })).toEqual([]);
    // from is inclusive, to exclusive, to the millisecond
    expect(await activityIds({ from: '2026-03-30T10:00:00Z', to: '2026-03-31T11:00:00Z' })).toEqual(['a4', 'c2', 'a3']);
  });

  it('shows provided costs and orders records of the same instant by request id', async () => {
    const body = await activity({}, adminOf(t, 'ties'));
    expect(body.items.map((r) => [r.requestId, r.cost, r.costStatus])).toEqual([
      ['t-b', '0.000005', 'computed'], // 2 × 2.5 per million
      ['t-a', '0.0000025', 'computed'],
      ['p1', '0.5', 'provided'],
    ]);
  });

  it('answers an empty range with no items', async () => {
    expect((await activity({ from: '2025-01-01T00:00:00Z', to: '2025-01-08T00:00:00Z' })).items).toEqual([]);
  });
});

type MyUsage = {
  range: Record<string, string>;
  userId: string;
  totals: Record<string, unknown>;
  series: Array<ReturnType<typeof zeroBucket> | Record<string, unknown>>;
  providers: Array<Record<string, unknown>>;
  models: Array<Record<string, unknown>>;
};
const myUsage = (headers: Headers, query: Record<string, string> = {}) =>
  getOk<MyUsage>(t, '/v1/me/usage', headers, query);

/** Every UTC midnight from 03-01 to 03-31 (the days of R). */
const MARCH_DAYS = Array.from({ length: 31 }, (_, i) => new Date(Date.UTC(2026, 2, 1 + i)).toISOString());

describe('GET /v1/me/usage', () => {
  it('gives a member their own totals, zero-filled series, providers and models', async () => {
    const body = await myUsage(memberOf(t, 'alice'));
    expect(body.range).toEqual({
      from: '2026-03-01T12:00:00.000Z',
      to: '2026-03-31T12:00:00.000Z',
      tz: 'UTC',
      granularity: 'day',
    });
    expect(body.userId).toBe('alice');
    expect(body.totals).toEqual({
      requests: 3,
      inputTokens: 4000,
      outputTokens: 2200,
      cachedInputTokens: 1000,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
      totalTokens: 6200,
      errors: 0,
      errorRate: 0,
      avgDurationMs: 450.5,
      cost: '0.03225',
      unpricedRequests: 0,
    });
    const used: Record<string, object> = {
      '2026-03-02T00:00:00.000Z': {
        requests: 1,
        inputTokens: 2000,
        outputTokens: 1000,
        totalTokens: 3000,
        cost: '0.01375',
      },
      '2026-03-30T00:00:00.000Z': {
        requests: 1,
        inputTokens: 1000,
        outputTokens: 200,
        totalTokens: 1200,
        cost: '0.006',
      },
      '2026-03-31T00:00:00.000Z': {
        requests: 1,
        inputTokens: 1000,
        outputTokens: 1000,
        totalTokens: 2000,
        cost: '0.0125',
      },
    };
    expect(body.series).toEqual(MARCH_DAYS.map((day) => ({ ...zeroBucket(day), ...used[day] })));
    expect(body.providers).toEqual([
      { provider: 'openai', requests: 2, totalTokens: 5000, cost: '0.02625', percentage: 80.65 },
      { provider: 'anthropic', requests: 1, totalTokens: 1200, cost: '0.006', percentage: 19.35 },
    ]);
    expect(body.models).toEqual([
      { provider: 'openai', model: 'gpt-4o', requests: 2, totalTokens: 5000, cost: '0.02625', percentage: 80.65 },
      {
        provider: 'anthropic',
        model: 'claude-3-5-sonnet',
        requests: 1,
        totalTokens: 1200,
        cost: '0.006',
        percentage: 19.35,
      },
    ]);
    expect(hundredths(body.providers.map((p) => p.percentage as number))).toBe(10000);
  });

  it("never shows a member anyone else's usage, whatever userId they pass", async () => {
    const alice = memberOf(t, 'alice');
    const spoofed = await myUsage(alice, { userId: 'bob' });
    expect(spoofed.userId).toBe('alice');
    expect(spoofed.totals).toMatchObject({ requests: 3, totalTokens: 6200, cost: '0.03225' });
    // bob: b1 claude 3000 (0.02175) + b2 gpt-4o 1100 (0.0035)
    const bob = await myUsage(memberOf(t, 'bob'));
    expect(bob.totals).toMatchObject({ requests: 2, totalTokens: 4100, cost: '0.02525', cacheWriteTokens: 1000 });
    expect(bob.models.map((m) => m.model)).toEqual(['claude-3-5-sonnet', 'gpt-4o']);
    // eve's only record is unpriced: cost null in totals, providers and models and her bucket
    const eve = await myUsage(memberOf(t, 'eve'));
    expect(eve.totals).toMatchObject({ requests: 1, totalTokens: 1000, cost: null, unpricedRequests: 1 });
    expect(eve.providers).toEqual([
      { provider: 'mystery', requests: 1, totalTokens: 1000, cost: null, percentage: 100 },
    ]);
    expect(eve.series.at(-1)).toEqual({
      bucketStart: '2026-03-31T00:00:00.000Z',
      requests: 1,
      inputTokens: 500,
      outputTokens: 500,
      totalTokens: 1000,
      cost: null,
    });
    // an admin's own usage is their own too: root sent the records but used nothing
    const root = await myUsage(admin);
    expect(root.userId).toBe('root');
    expect(root.totals).toMatchObject({ requests: 0, totalTokens: 0 });
  });

  it('answers a member without usage with zeros and a zero-filled series', async () => {
    const body = await myUsage(memberOf(t, 'nobody'));
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
    expect(body.series).toEqual(MARCH_DAYS.map(zeroBucket));
    expect(body.providers).toEqual([]);
    expect(body.models).toEqual([]);
  });

  it('narrows with provider and model filters and follows granularity', async () => {
    const alice = memberOf(t, 'alice');
    const anthropic = await myUsage(alice, { provider: 'anthropic' });
    expect(anthropic.totals).toMatchObject({ requests: 1, totalTokens: 1200, cost: '0.006' });
    expect(anthropic.models).toEqual([
      {
        provider: 'anthropic',
        model: 'claude-3-5-sonnet',
        requests: 1,
        totalTokens: 1200,
        cost: '0.006',
        percentage: 100,
      },
    ]);
    // weeks from Monday over R (03-01 is a Sunday): 02-23, 03-02, 03-09, 03-16, 03-23, 03-30;
    // a2 in the 03-02 week, a3 + a4 in the 03-30 week (1200 + 2000, 0.006 + 0.0125 = 0.0185)
    const weekly = await myUsage(alice, { granularity: 'week' });
    expect(weekly.range.granularity).toBe('week');
    expect(weekly.series.map((b) => [b.bucketStart, b.totalTokens, b.cost])).toEqual([
      ['2026-02-23T00:00:00.000Z', 0, '0'],
      ['2026-03-02T00:00:00.000Z', 3000, '0.01375'],
      ['2026-03-09T00:00:00.000Z', 0, '0'],
      ['2026-03-16T00:00:00.000Z', 0, '0'],
      ['2026-03-23T00:00:00.000Z', 0, '0'],
      ['2026-03-30T00:00:00.000Z', 3200, '0.0185'],
    ]);
  });

  it('needs a token', async () => {
    const res = await get(t, '/v1/me/usage', undefined);
    expect(res.status).toBe(401);
  });
});

describe('GET /v1/usage/config', () => {
  it('tells any signed-in user that cost is shown in USD when self-hosted', async () => {
    for (const headers of [admin, memberOf(t, 'alice')]) {
      expect(await getOk(t, '/v1/usage/config', headers)).toEqual({
        deploymentMode: 'self-hosted',
        showCost: true,
        currency: 'USD',
      });
    }
  });

  it('needs a token', async () => {
    expect((await get(t, '/v1/usage/config', undefined)).status).toBe(401);
  });
});
