import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/test-app';
import { adminOf, getOk, ingestAll, memberOf, type Headers } from '../support/usage-dataset';

/**
 * Ranges that start or end inside a UTC day or hour. The queries read a whole day's (or,
 * bucketed, a whole hour's) rollup rows for such an edge when the rest of that day or hour
 * holds no usage, and the exact pieces otherwise. Workspace "edges", one UTC day:
 *   r1 10:10 alice · r2 12:10 alice · r3 12:20 bob · r4 14:00 bob · r5 next day 03:00 alice
 */
const DAY = '2025-07-01';
const at = (time: string, day = DAY) => `${day}T${time}:00Z`;
const record = (requestId: string, occurredAt: string, userId: string) => ({
  requestId,
  occurredAt,
  userId,
  provider: 'openai',
  model: 'gpt-4o',
  inputTokens: 100,
  outputTokens: 10,
});

let t: TestApp;
let admin: Headers;
beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => new Date('2025-07-10T00:00:00Z') } });
  admin = adminOf(t, 'edges');
  await ingestAll(t, admin, [
    record('r1', at('10:10'), 'alice'),
    record('r2', at('12:10'), 'alice'),
    record('r3', at('12:20'), 'bob'),
    record('r4', at('14:00'), 'bob'),
    record('r5', at('03:00', '2025-07-02'), 'alice'),
  ]);
});
afterAll(async () => t.close());

type Stats = { totals: { requests: number; totalTokens: number }; activeUsers: number };
const stats = (from: string, to: string) =>
  getOk<Stats>(t, '/v1/admin/usage/stats', admin, { from, to, tz: 'UTC', granularity: 'day' });

describe('ranges with partial days and hours at their ends', () => {
  it.each([
    ['ends mid-day with usage later that day', at('00:00', '2025-06-30'), at('12:15'), 2, 1],
    ['ends mid-day after the last usage of the day', at('00:00', '2025-06-30'), at('15:00'), 4, 2],
    ['lies inside one hour that has usage before it', at('12:15'), at('13:00'), 1, 1],
    ['starts mid-day with usage earlier that day', at('12:15'), at('00:00', '2025-07-02'), 2, 1],
    ['starts and ends inside a day with nothing around it', at('09:00'), at('18:00'), 4, 2],
    ['starts after usage of the same day and ends after the last', at('11:00'), at('18:00'), 3, 2],
    ['spans two partial days', at('12:15'), at('12:00', '2025-07-02'), 3, 2],
  ])('counts exactly the records inside when it %s', async (_, from, to, requests, users) => {
    const body = await stats(from, to);
    expect(body.totals).toMatchObject({ requests, totalTokens: requests * 110 });
    expect(body.activeUsers).toBe(users);
  });

  it('lists only the users and requests inside a range ending mid-day', async () => {
    const body = await getOk<{ items: Array<{ userId: string; requests: number; models: unknown[] }> }>(
      t,
      '/v1/admin/usage/users',
      admin,
      { from: at('00:00', '2025-06-30'), to: at('12:15'), tz: 'UTC' },
    );
    expect(body.items).toEqual([
      expect.objectContaining({
        userId: 'alice',
        requests: 2,
        models: [{ provider: 'openai', model: 'gpt-4o', requests: 2, totalTokens: 220 }],
      }),
    ]);
  });

  it('gives a user only their records before a mid-day end', async () => {
    const bob = memberOf(t, 'bob', 'edges');
    const early = await getOk<Stats>(t, '/v1/me/usage', bob, { from: at('00:00'), to: at('12:15'), tz: 'UTC' });
    expect(early.totals.requests).toBe(0);
    const late = await getOk<Stats>(t, '/v1/me/usage', bob, { from: at('00:00'), to: at('13:00'), tz: 'UTC' });
    expect(late.totals.requests).toBe(1);
  });

  it('buckets hours exactly when the range starts and ends inside hours', async () => {
    const body = await getOk<{ series: Array<{ bucketStart: string; provider: string; requests: number }> }>(
      t,
      '/v1/admin/usage/providers',
      admin,
      { from: at('12:15'), to: at('14:30'), tz: 'UTC', granularity: 'hour' },
    );
    expect(body.series.map((b) => [b.bucketStart, b.requests])).toEqual([
      ['2025-07-01T12:00:00.000Z', 1],
      ['2025-07-01T13:00:00.000Z', 0],
      ['2025-07-01T14:00:00.000Z', 1],
    ]);
  });

  it('does not take an hour whose raw records are gone for an empty one', async () => {
    // as when retention dropped the raw partition: the rollups keep r1, the raw table does not
    await t.db.query(`DELETE FROM usage_records WHERE workspace_id = 'edges' AND request_id = 'r1'`);
    const body = await stats(at('10:15'), at('00:00', '2025-07-02'));
    expect(body.totals.requests).toBe(3);
  });
});
