import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import type { TestApp } from '../support/test-app';
import { adminOf, createDatasetApp, getOk, memberOf, type Headers } from '../support/usage-dataset';

/**
 * Bucket counts per granularity, zero-fill and exact range edges.
 *
 * Workspace "acme": the shared dataset (test/support/usage-dataset.ts). alice's records:
 *   a1 02-28 23:30 (1500 tokens, 0.0075) | a2 03-02 09:00 (3000, 0.01375) |
 *   a3 03-30 10:00 (1200, 0.006) | a4 03-31 09:00 (2000, 0.0125) | f1 03-31 12:30 (200, 0.00125)
 *
 * Workspace "edges", user edgy, all on 2026-03-25 (UTC), 0 output tokens, input a power of ten
 * so that a total says exactly which records it holds:
 *   e10 10:10:00.000        1
 *   e15 10:15:00.000       10   ← from (inclusive)
 *   e20 10:20:00.000      100
 *   e12 12:00:00.000     1000
 *   e13 13:59:59.999    10000
 *   e40 14:40:00.000   100000
 *   e45 14:45:00.000  1000000   ← to (exclusive)
 *   e50 14:50:00.000 10000000
 * [10:15, 14:45) therefore holds e15 e20 e12 e13 e40 = 111110 tokens in 5 requests: the whole
 * hours 11:00–14:00 come from the hourly rollup, 10:15–11:00 and 14:00–14:45 from raw records.
 */
let t: TestApp;
let alice: Headers;
let edges: Headers;

const DAY = '2026-03-25';
const edgeRecord = (requestId: string, time: string, inputTokens: number) =>
  usageRecord({
    requestId,
    occurredAt: `${DAY}T${time}Z`,
    userId: 'edgy',
    provider: 'openai',
    model: 'gpt-4o',
    inputTokens,
    outputTokens: 0,
  });

beforeAll(async () => {
  t = await createDatasetApp();
  alice = memberOf(t, 'alice');
  edges = adminOf(t, 'edges');
  await ingest(
    t,
    edges,
    [
      edgeRecord('e10', '10:10:00.000', 1),
      edgeRecord('e15', '10:15:00.000', 10),
      edgeRecord('e20', '10:20:00.000', 100),
      edgeRecord('e12', '12:00:00.000', 1000),
      edgeRecord('e13', '13:59:59.999', 10000),
      edgeRecord('e40', '14:40:00.000', 100000),
      edgeRecord('e45', '14:45:00.000', 1000000),
      edgeRecord('e50', '14:50:00.000', 10000000),
    ],
    { expectAccepted: true },
  );
});
afterAll(async () => t.close());

type Bucket = { bucketStart: string; requests: number; totalTokens: number; cost: string | null };
const series = async (headers: Headers, query: Record<string, string>) =>
  (await getOk<{ series: Bucket[] }>(t, '/v1/me/usage', headers, query)).series;
const starts = (buckets: Bucket[]) => buckets.map((b) => b.bucketStart);

describe('bucket counts and zero-fill', () => {
  it('day: one bucket per UTC day, every one present', async () => {
    const days = await series(alice, { from: '2026-03-01T00:00:00Z', to: '2026-04-01T00:00:00Z' });
    expect(starts(days)).toEqual(
      Array.from({ length: 31 }, (_, i) => new Date(Date.UTC(2026, 2, 1 + i)).toISOString()),
    );
    // 03-02: a2; 03-30: a3; 03-31: a4 + f1 (0.0125 + 0.00125); 28 empty days with zeros
    expect(days.filter((b) => b.requests > 0).map((b) => [b.bucketStart, b.requests, b.totalTokens, b.cost])).toEqual([
      ['2026-03-02T00:00:00.000Z', 1, 3000, '0.01375'],
      ['2026-03-30T00:00:00.000Z', 1, 1200, '0.006'],
      ['2026-03-31T00:00:00.000Z', 2, 2200, '0.01375'],
    ]);
    const empty = days.filter((b) => b.requests === 0);
    expect(empty).toHaveLength(28);
    expect(empty.every((b) => b.totalTokens === 0 && b.cost === '0')).toBe(true);
    // a range of a single millisecond still has its day
    expect(starts(await series(alice, { from: '2026-03-05T00:00:00Z', to: '2026-03-05T00:00:00.001Z' }))).toEqual([
      '2026-03-05T00:00:00.000Z',
    ]);
  });

  it('week: buckets start on Monday; the first may start before from', async () => {
    // 03-01 is a Sunday: its week began Monday 02-23. a1 (Sat 02-28) is in that week but
    // before from, so the bucket is empty. a3 + a4 + f1 = 3400 tokens, 0.01975.
    const weeks = await series(alice, {
      from: '2026-03-01T00:00:00Z',
      to: '2026-04-01T00:00:00Z',
      granularity: 'week',
    });
    expect(weeks.map((b) => [b.bucketStart, b.requests, b.totalTokens, b.cost])).toEqual([
      ['2026-02-23T00:00:00.000Z', 0, 0, '0'],
      ['2026-03-02T00:00:00.000Z', 1, 3000, '0.01375'],
      ['2026-03-09T00:00:00.000Z', 0, 0, '0'],
      ['2026-03-16T00:00:00.000Z', 0, 0, '0'],
      ['2026-03-23T00:00:00.000Z', 0, 0, '0'],
      ['2026-03-30T00:00:00.000Z', 3, 3400, '0.01975'],
    ]);
    // Monday to Monday: exactly four weeks
    expect(
      starts(await series(alice, { from: '2026-03-02T00:00:00Z', to: '2026-03-30T00:00:00Z', granularity: 'week' })),
    ).toEqual([
      '2026-03-02T00:00:00.000Z',
      '2026-03-09T00:00:00.000Z',
      '2026-03-16T00:00:00.000Z',
      '2026-03-23T00:00:00.000Z',
    ]);
  });

  it('month: one bucket per calendar month from the month holding from', async () => {
    const months = await series(alice, {
      from: '2026-01-15T00:00:00Z',
      to: '2026-04-01T00:00:00Z',
      granularity: 'month',
    });
    // February: a1; March: a2 a3 a4 f1 = 3000 + 1200 + 2000 + 200, 0.01375 + 0.006 + 0.0125 + 0.00125
    expect(months.map((b) => [b.bucketStart, b.requests, b.totalTokens, b.cost])).toEqual([
      ['2026-01-01T00:00:00.000Z', 0, 0, '0'],
      ['2026-02-01T00:00:00.000Z', 1, 1500, '0.0075'],
      ['2026-03-01T00:00:00.000Z', 4, 6400, '0.0335'],
    ]);
    const year = await series(alice, {
      from: '2025-04-01T00:00:00Z',
      to: '2026-04-01T00:00:00Z',
      granularity: 'month',
    });
    expect(year).toHaveLength(12);
    expect(year[0]!.bucketStart).toBe('2025-04-01T00:00:00.000Z');
    expect(year[11]!.bucketStart).toBe('2026-03-01T00:00:00.000Z');
    expect(year.reduce((sum, b) => sum + b.totalTokens, 0)).toBe(7900);
  });

  it('hour: one bucket per hour, the first holding from', async () => {
    const hours = await series(alice, {
      from: '2026-03-31T00:00:00Z',
      to: '2026-03-31T13:00:00Z',
      granularity: 'hour',
    });
    expect(starts(hours)).toEqual(
      Array.from({ length: 13 }, (_, i) => new Date(Date.UTC(2026, 2, 31, i)).toISOString()),
    );
    expect(hours.filter((b) => b.requests > 0).map((b) => [b.bucketStart, b.totalTokens])).toEqual([
      ['2026-03-31T09:00:00.000Z', 2000], // a4
      ['2026-03-31T12:00:00.000Z', 200], // f1
    ]);
    expect(
      starts(await series(alice, { from: '2026-03-31T08:30:00Z', to: '2026-03-31T10:30:00Z', granularity: 'hour' })),
    ).toEqual(['2026-03-31T08:00:00.000Z', '2026-03-31T09:00:00.000Z', '2026-03-31T10:00:00.000Z']);
  });
});

describe('range edges that are not whole hours', () => {
  const EDGE = { from: `${DAY}T10:15:00Z`, to: `${DAY}T14:45:00Z` };

  it('counts exactly the records in [from, to) on every endpoint', async () => {
    const stats = await getOk<{ totals: Record<string, unknown>; activeUsers: number }>(
      t,
      '/v1/admin/usage/stats',
      edges,
      EDGE,
    );
    // 10 + 100 + 1000 + 10000 + 100000 input tokens at 2.5 per million = 111110 × 2.5 = 277775 → 0.277775
    expect(stats.totals).toMatchObject({ requests: 5, inputTokens: 111110, totalTokens: 111110, cost: '0.277775' });
    expect(stats.activeUsers).toBe(1);

    const providers = await getOk<{ providers: Array<Record<string, unknown>> }>(
      t,
      '/v1/admin/usage/providers',
      edges,
      EDGE,
    );
    expect(providers.providers).toEqual([
      { provider: 'openai', requests: 5, totalTokens: 111110, cost: '0.277775', percentage: 100 },
    ]);
    const models = await getOk<{ models: Array<Record<string, unknown>> }>(t, '/v1/admin/usage/models', edges, EDGE);
    expect(models.models).toEqual([
      { provider: 'openai', model: 'gpt-4o', requests: 5, totalTokens: 111110, cost: '0.277775', percentage: 100 },
    ]);
    const users = await getOk<{ items: Array<Record<string, unknown>> }>(t, '/v1/admin/usage/users', edges, EDGE);
    expect(users.items.map((u) => [u.userId, u.requests, u.totalTokens, u.models])).toEqual([
      ['edgy', 5, 111110, [{ provider: 'openai', model: 'gpt-4o', requests: 5, totalTokens: 111110 }]],
    ]);
    const activity = await getOk<{ items: Array<Record<string, unknown>> }>(t, '/v1/admin/usage/activity', edges, {
      ...EDGE,
      limit: '100',
    });
    expect(activity.items.map((r) => r.requestId)).toEqual(['e40', 'e13', 'e12', 'e20', 'e15']);
    const detail = await getOk<{ totals: Record<string, unknown>; recent: unknown[] }>(
      t,
      '/v1/admin/usage/users/edgy',
      edges,
      EDGE,
    );
    expect(detail.totals).toMatchObject({ requests: 5, totalTokens: 111110 });
    expect(detail.recent).toHaveLength(5);
    const mine = await getOk<{ totals: Record<string, unknown> }>(
      t,
      '/v1/me/usage',
      memberOf(t, 'edgy', 'edges'),
      EDGE,
    );
    expect(mine.totals).toMatchObject({ requests: 5, totalTokens: 111110 });
  });

  it('splits the partial hours into the right hourly buckets', async () => {
    const expected = [
      [`${DAY}T10:00:00.000Z`, 110], // e15 + e20, not e10
      [`${DAY}T11:00:00.000Z`, 0],
      [`${DAY}T12:00:00.000Z`, 1000],
      [`${DAY}T13:00:00.000Z`, 10000],
      [`${DAY}T14:00:00.000Z`, 100000], // e40, not e45 or e50
    ];
    const hours = await series(memberOf(t, 'edgy', 'edges'), { ...EDGE, granularity: 'hour' });
    expect(hours.map((b) => [b.bucketStart, b.totalTokens])).toEqual(expected);
    // by provider alone, partial hours on 15-minute boundaries come from the 15-minute slots
    const providers = await getOk<{ series: Bucket[] }>(t, '/v1/admin/usage/providers', edges, {
      ...EDGE,
      granularity: 'hour',
    });
    expect(providers.series.map((b) => [b.bucketStart, b.totalTokens])).toEqual(expected);
  });

  it('is exact for any edges, in any zone', async () => {
    const total = async (from: string, to: string, tz?: string) =>
      (
        await getOk<{ totals: { totalTokens: number } }>(t, '/v1/admin/usage/stats', edges, {
          from: `${DAY}T${from}Z`,
          to: `${DAY}T${to}Z`,
          ...(tz ? { tz } : {}),
        })
      ).totals.totalTokens;
    // the same [10:15, 14:45) through a whole-hour zone (rollup + raw) and a half-hour one (raw)
    expect(await total('10:15:00', '14:45:00', 'Europe/Berlin')).toBe(111110);
    expect(await total('10:15:00', '14:45:00', 'Asia/Kolkata')).toBe(111110);
    // both edges inside one hour: raw only
    expect(await total('10:15:00', '10:45:00')).toBe(110);
    // whole hours only: rollup only
    expect(await total('12:00:00', '14:00:00')).toBe(11000);
    expect(await total('10:00:00', '15:00:00')).toBe(11111111);
    // millisecond edges
    expect(await total('10:10:00.001', '14:50:00')).toBe(1111110);
    expect(await total('10:10:00', '14:50:00.001')).toBe(11111111);
    expect(await total('13:59:59.999', '14:00:00')).toBe(10000);
    expect(await total('13:00:00', '13:59:59.999')).toBe(0);
  });

  it('counts a range over two partial UTC days exactly', async () => {
    // acme, [03-30T09:59:59Z, 03-31T09:00:00.001Z): a3 (10:00), c2 (22:30), a4 (09:00) = 1200 + 500 + 2000
    const stats = await getOk<{ totals: Record<string, unknown> }>(t, '/v1/admin/usage/stats', adminOf(t), {
      from: '2026-03-30T09:59:59Z',
      to: '2026-03-31T09:00:00.001Z',
    });
    expect(stats.totals).toMatchObject({ requests: 3, totalTokens: 3700, cost: '0.0191' });
  });
});
