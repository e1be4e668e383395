import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import { createTestApp, type TestApp } from '../support/test-app';
import { adminOf, getOk, memberOf } from '../support/usage-dataset';

/**
 * Buckets at local midnights across DST changes and in a half-hour zone. Every record has
 * 0 output tokens and a distinct power of ten of input tokens, so a bucket's inputTokens
 * says exactly which records fell into it. Provider x / model m (unpriced). Workspace "tz".
 *
 * Spring app, clock 2026-03-31T12:00Z:
 *   user "berlin" (Europe/Berlin: CET +1 until 2026-03-29T01:00Z, then CEST +2)
 *     t1 2026-03-28T22:59Z      1   Sat 23:59 CET   → Berlin 03-28 | UTC 03-28
 *     t2 2026-03-28T23:00Z     10   Sun 00:00 CET   → Berlin 03-29 | UTC 03-28
 *     t6 2026-03-29T00:59Z 100000   Sun 01:59 CET   → Berlin 03-29 | UTC 03-29
 *     t5 2026-03-29T01:30Z  10000   Sun 03:30 CEST  → Berlin 03-29 | UTC 03-29
 *     t3 2026-03-29T21:59Z    100   Sun 23:59 CEST  → Berlin 03-29 | UTC 03-29
 *     t4 2026-03-29T22:00Z   1000   Mon 00:00 CEST  → Berlin 03-30 | UTC 03-29
 *   Berlin's 03-29 runs from 03-28T23:00Z to 03-29T22:00Z: 23 hours.
 *
 *   user "newyork" (America/New_York: EST −5 until 2026-03-08T07:00Z, then EDT −4)
 *     n1 2026-03-08T04:59Z      1   Sat 23:59 EST   → NY 03-07 | UTC 03-08
 *     n2 2026-03-08T05:00Z     10   Sun 00:00 EST   → NY 03-08 | UTC 03-08
 *     n5 2026-03-08T07:00Z  10000   Sun 03:00 EDT   → NY 03-08 | UTC 03-08
 *     n3 2026-03-09T03:59Z    100   Sun 23:59 EDT   → NY 03-08 | UTC 03-09
 *     n4 2026-03-09T04:00Z   1000   Mon 00:00 EDT   → NY 03-09 | UTC 03-09
 *   NY's 03-08 runs from 03-08T05:00Z to 03-09T04:00Z: 23 hours.
 *
 *   user "kolkata" (Asia/Kolkata, +05:30, no DST) — both in the same UTC hour 18:00
 *     k1 2026-03-20T18:15Z      1   23:45 on 03-20 → Kolkata 03-20 | UTC 03-20
 *     k2 2026-03-20T18:45Z     10   00:15 on 03-21 → Kolkata 03-21 | UTC 03-20
 *
 * Autumn app, clock 2026-10-27T12:00Z (a Tuesday), user "berlin" (CEST +2 until
 * 2026-10-25T01:00Z, then CET +1; local 02:00–03:00 happens twice):
 *     u1 2026-10-24T21:59Z      1   Sat 23:59 CEST         → Berlin 10-24 | UTC 10-24
 *     u2 2026-10-24T22:00Z     10   Sun 00:00 CEST         → Berlin 10-25 | UTC 10-24
 *     u3 2026-10-25T00:30Z    100   Sun 02:30 CEST (first) → Berlin 10-25 | UTC 10-25
 *     u4 2026-10-25T01:30Z   1000   Sun 02:30 CET (second) → Berlin 10-25 | UTC 10-25
 *     u5 2026-10-25T22:59Z  10000   Sun 23:59 CET          → Berlin 10-25 | UTC 10-25
 *     u6 2026-10-25T23:00Z 100000   Mon 00:00 CET          → Berlin 10-26 | UTC 10-25
 *   Berlin's 10-25 runs from 10-24T22:00Z to 10-25T23:00Z: 25 hours.
 */
const HOUR = 3_600_000;

const rec = (requestId: string, occurredAt: string, userId: string, inputTokens: number) =>
  usageRecord({ requestId, occurredAt, userId, provider: 'x', model: 'm', inputTokens, outputTokens: 0 });

/*
 * Also in the autumn app:
 *   user "lordhowe" (Australia/Lord_Howe: +11:00 until 2026-04-04T15:00Z, then +10:30 — local
 *   02:00 goes back to 01:30, so local 01:30–02:00 happens twice)
 *     L1 2026-04-04T14:10Z      1   01:10 (+11:00)          → hour 01:00 (+11:00) = 14:00Z
 *     L2 2026-04-04T15:10Z     10   01:40 (+10:30, again)   → hour 01:00 (+10:30) = 14:30Z
 *     L3 2026-04-04T15:40Z    100   02:10 (+10:30)          → hour 02:00 (+10:30) = 15:30Z
 *     L4 2026-04-05T13:20Z   1000   23:50 on 04-05          → day 04-05 (04-04T13:00Z, 24.5 h long)
 *     L5 2026-04-05T13:30Z  10000   00:00 on 04-06          → day 04-06 (04-05T13:30Z)
 *   workspace "grid", user p: one record every 20 minutes (at :07, :27, :47) over the three UTC
 *   days around each of these changes — local midnight skipped or repeated (Havana, Beirut,
 *   Santiago), a 30-minute change (Lord Howe), a :45 offset (Chatham) — to check that every
 *   record falls into exactly one bucket, and into the local day and month Intl gives it.
 */
const GRID_DAYS = ['2026-03-08', '2026-03-29', '2026-04-04', '2026-09-06', '2026-10-03'];
const GRID_ZONES = [
  'America/Havana',
  'Asia/Beirut',
  'America/Santiago',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'Asia/Kathmandu',
];
const GRID = GRID_DAYS.flatMap((day) =>
  Array.from({ length: 3 * 72 }, (_, i) => {
    const at = new Date(Date.parse(`${day}T00:00:00Z`) - 24 * HOUR + i * 20 * 60_000 + 7 * 60_000);
    return rec(`${day}-${i}`, at.toISOString(), 'p', 1);
  }),
);

let spring: TestApp;
let autumn: TestApp;

beforeAll(async () => {
  spring = await createTestApp({ clock: { now: () => new Date('2026-03-31T12:00:00Z') } });
  await ingest(
    spring,
    adminOf(spring, 'tz'),
    [
      rec('t1', '2026-03-28T22:59:00Z', 'berlin', 1),
      rec('t2', '2026-03-28T23:00:00Z', 'berlin', 10),
      rec('t6', '2026-03-29T00:59:00Z', 'berlin', 100000),
      rec('t5', '2026-03-29T01:30:00Z', 'berlin', 10000),
      rec('t3', '2026-03-29T21:59:00Z', 'berlin', 100),
      rec('t4', '2026-03-29T22:00:00Z', 'berlin', 1000),
      rec('n1', '2026-03-08T04:59:00Z', 'newyork', 1),
      rec('n2', '2026-03-08T05:00:00Z', 'newyork', 10),
      rec('n5', '2026-03-08T07:00:00Z', 'newyork', 10000),
      rec('n3', '2026-03-09T03:59:00Z', 'newyork', 100),
      rec('n4', '2026-03-09T04:00:00Z', 'newyork', 1000),
      rec('k1', '2026-03-20T18:15:00Z', 'kolkata', 1),
      rec('k2', '2026-03-20T18:45:00Z', 'kolkata', 10),
    ],
    { expectAccepted: true },
  );
  autumn = await createTestApp({ clock: { now: () => new Date('2026-10-27T12:00:00Z') } });
  await ingest(
    autumn,
    adminOf(autumn, 'tz'),
    [
      rec('u1', '2026-10-24T21:59:00Z', 'berlin', 1),
      rec('u2', '2026-10-24T22:00:00Z', 'berlin', 10),
      rec('u3', '2026-10-25T00:30:00Z', 'berlin', 100),
      rec('u4', '2026-10-25T01:30:00Z', 'berlin', 1000),
      rec('u5', '2026-10-25T22:59:00Z', 'berlin', 10000),
      rec('u6', '2026-10-25T23:00:00Z', 'berlin', 100000),
      rec('L1', '2026-04-04T14:10:00Z', 'lordhowe', 1),
      rec('L2', '2026-04-04T15:10:00Z', 'lordhowe', 10),
      rec('L3', '2026-04-04T15:40:00Z', 'lordhowe', 100),
      rec('L4', '2026-04-05T13:20:00Z', 'lordhowe', 1000),
      rec('L5', '2026-04-05T13:30:00Z', 'lordhowe', 10000),
    ],
    { expectAccepted: true },
  );
  for (let i = 0; i < GRID.length; i += 1000) {
    await ingest(autumn, adminOf(autumn, 'grid'), GRID.slice(i, i + 1000), { expectAccepted: true });
  }
});
afterAll(async () => {
  await spring?.close();
  await autumn?.close();
});

type Bucket = { bucketStart: string; requests: number; inputTokens: number };

/** The caller's series from /v1/me/usage as [bucketStart, inputTokens] pairs. */
async function series(t: TestApp, user: string, query: Record<string, string>): Promise<Array<[string, number]>> {
  const body = await getOk<{ series: Bucket[]; range: Record<string, string> }>(
    t,
    '/v1/me/usage',
    memberOf(t, user, 'tz'),
    query,
  );
  return body.series.map((b) => [b.bucketStart, b.inputTokens]);
}

const hoursBetween = (a: string, b: string) => (Date.parse(b) - Date.parse(a)) / HOUR;

describe('Europe/Berlin, spring forward (2026-03-29 is 23 hours)', () => {
  it('puts records near local midnight into the right local day', async () => {
    const days = await series(spring, 'berlin', {
      from: '2026-03-27T23:00:00Z', // 03-28 00:00 CET
      to: '2026-03-30T22:00:00Z', // 03-31 00:00 CEST
      tz: 'Europe/Berlin',
    });
    expect(days).toEqual([
      ['2026-03-27T23:00:00.000Z', 1], // t1
      ['2026-03-28T23:00:00.000Z', 110110], // t2 + t6 + t5 + t3
      ['2026-03-29T22:00:00.000Z', 1000], // t4
    ]);
    expect(hoursBetween(days[1]![0], days[2]![0])).toBe(23);
    expect(hoursBetween(days[0]![0], days[1]![0])).toBe(24);
  });

  it('buckets the same records differently in UTC', async () => {
    expect(await series(spring, 'berlin', { from: '2026-03-28T00:00:00Z', to: '2026-03-31T00:00:00Z' })).toEqual([
      ['2026-03-28T00:00:00.000Z', 11], // t1 + t2
      ['2026-03-29T00:00:00.000Z', 111100], // t6 + t5 + t3 + t4
      ['2026-03-30T00:00:00.000Z', 0],
    ]);
  });

  it('has 23 hourly buckets on the short day, skipping local 02:00', async () => {
    const hours = await series(spring, 'berlin', {
      from: '2026-03-28T23:00:00Z',
      to: '2026-03-29T22:00:00Z',
      tz: 'Europe/Berlin',
      granularity: 'hour',
    });
    expect(hours).toHaveLength(23);
    expect(hours.map(([start]) => start)).toEqual(
      Array.from({ length: 23 }, (_, i) => new Date(Date.parse('2026-03-28T23:00:00Z') + i * HOUR).toISOString()),
    );
    // local 00:00 (t2), 01:00 (t6), 03:00 (t5: the hour after 01:00 local), 23:00 (t3)
    expect(hours.filter(([, tokens]) => tokens > 0)).toEqual([
      ['2026-03-28T23:00:00.000Z', 10],
      ['2026-03-29T00:00:00.000Z', 100000],
      ['2026-03-29T01:00:00.000Z', 10000],
      ['2026-03-29T21:00:00.000Z', 100],
    ]);
  });

  it('starts weeks on local Monday midnight and months on the local 1st across the change', async () => {
    expect(
      await series(spring, 'berlin', {
        from: '2026-03-22T23:00:00Z', // Mon 03-23 00:00 CET
        to: '2026-04-05T22:00:00Z', // Mon 04-06 00:00 CEST
        tz: 'Europe/Berlin',
        granularity: 'week',
      }),
    ).toEqual([
      ['2026-03-22T23:00:00.000Z', 110111], // t1 t2 t6 t5 t3
      ['2026-03-29T22:00:00.000Z', 1000], // t4 (Monday 00:00 CEST)
    ]);
    // in UTC t4 (Sunday 22:00) still belongs to the week of 03-23
    expect(
      await series(spring, 'berlin', {
        from: '2026-03-23T00:00:00Z',
        to: '2026-04-06T00:00:00Z',
        granularity: 'week',
      }),
    ).toEqual([
      ['2026-03-23T00:00:00.000Z', 111111],
      ['2026-03-30T00:00:00.000Z', 0],
    ]);
    expect(
      await series(spring, 'berlin', {
        from: '2026-02-28T23:00:00Z', // 03-01 00:00 CET
        to: '2026-04-30T22:00:00Z', // 05-01 00:00 CEST
        tz: 'Europe/Berlin',
        granularity: 'month',
      }),
    ).toEqual([
      ['2026-02-28T23:00:00.000Z', 111111],
      ['2026-03-31T22:00:00.000Z', 0],
    ]);
  });

  it('gives the provider series and the user detail the same local days', async () => {
    const query = { from: '2026-03-27T23:00:00Z', to: '2026-03-30T22:00:00Z', tz: 'Europe/Berlin' };
    const admin = adminOf(spring, 'tz');
    const providers = await getOk<{ series: Array<Bucket & { totalTokens: number }> }>(
      spring,
      '/v1/admin/usage/providers',
      admin,
      { ...query, userId: 'berlin' },
    );
    expect(providers.series.map((s) => [s.bucketStart, s.totalTokens])).toEqual([
      ['2026-03-27T23:00:00.000Z', 1],
      ['2026-03-28T23:00:00.000Z', 110110],
      ['2026-03-29T22:00:00.000Z', 1000],
    ]);
    const detail = await getOk<{ daily: Bucket[]; monthly: Bucket[] }>(
      spring,
      '/v1/admin/usage/users/berlin',
      admin,
      query,
    );
    expect(detail.daily.map((b) => [b.bucketStart, b.inputTokens])).toEqual([
      ['2026-03-27T23:00:00.000Z', 1],
      ['2026-03-28T23:00:00.000Z', 110110],
      ['2026-03-29T22:00:00.000Z', 1000],
    ]);
    expect(detail.monthly.map((b) => [b.bucketStart, b.inputTokens])).toEqual([['2026-02-28T23:00:00.000Z', 111111]]);
  });
});

describe('America/New_York, spring forward (2026-03-08 is 23 hours)', () => {
  it('puts records near local midnight into the right local day', async () => {
    const days = await series(spring, 'newyork', {
      from: '2026-03-07T05:00:00Z', // 03-07 00:00 EST
      to: '2026-03-10T04:00:00Z', // 03-10 00:00 EDT
      tz: 'America/New_York',
    });
    expect(days).toEqual([
      ['2026-03-07T05:00:00.000Z', 1], // n1
      ['2026-03-08T05:00:00.000Z', 10110], // n2 + n5 + n3
      ['2026-03-09T04:00:00.000Z', 1000], // n4
    ]);
    expect(hoursBetween(days[1]![0], days[2]![0])).toBe(23);
  });

  it('buckets the same records differently in UTC', async () => {
    expect(await series(spring, 'newyork', { from: '2026-03-07T00:00:00Z', to: '2026-03-10T00:00:00Z' })).toEqual([
      ['2026-03-07T00:00:00.000Z', 0],
      ['2026-03-08T00:00:00.000Z', 10011], // n1 + n2 + n5
      ['2026-03-09T00:00:00.000Z', 1100], // n3 + n4
    ]);
  });

  it('has 23 hourly buckets on the short day', async () => {
    const hours = await series(spring, 'newyork', {
      from: '2026-03-08T05:00:00Z',
      to: '2026-03-09T04:00:00Z',
      tz: 'America/New_York',
      granularity: 'hour',
    });
    expect(hours).toHaveLength(23);
    // local 00:00 (n2), 03:00 EDT (n5, right after 01:00 EST), 23:00 (n3)
    expect(hours.filter(([, tokens]) => tokens > 0)).toEqual([
      ['2026-03-08T05:00:00.000Z', 10],
      ['2026-03-08T07:00:00.000Z', 10000],
      ['2026-03-09T03:00:00.000Z', 100],
    ]);
  });
});

describe('Asia/Kolkata, a half-hour zone', () => {
  it('splits 23:45 and 00:15 local into different days although they share a UTC hour', async () => {
    expect(
      await series(spring, 'kolkata', {
        from: '2026-03-19T18:30:00Z', // 03-20 00:00 IST
        to: '2026-03-21T18:30:00Z', // 03-22 00:00 IST
        tz: 'Asia/Kolkata',
      }),
    ).toEqual([
      ['2026-03-19T18:30:00.000Z', 1],
      ['2026-03-20T18:30:00.000Z', 10],
    ]);
    expect(await series(spring, 'kolkata', { from: '2026-03-20T00:00:00Z', to: '2026-03-22T00:00:00Z' })).toEqual([
      ['2026-03-20T00:00:00.000Z', 11],
      ['2026-03-21T00:00:00.000Z', 0],
    ]);
  });

  it('has hourly buckets on the half hour and exact partial-hour edges', async () => {
    expect(
      await series(spring, 'kolkata', {
        from: '2026-03-20T17:30:00Z',
        to: '2026-03-20T19:30:00Z',
        tz: 'Asia/Kolkata',
        granularity: 'hour',
      }),
    ).toEqual([
      ['2026-03-20T17:30:00.000Z', 1],
      ['2026-03-20T18:30:00.000Z', 10],
    ]);
    // [18:30, 19:00) holds only k2; [18:00, 18:30) only k1
    const totals = async (from: string, to: string) =>
      (
        await getOk<{ totals: { inputTokens: number } }>(spring, '/v1/me/usage', memberOf(spring, 'kolkata', 'tz'), {
          from,
          to,
          tz: 'Asia/Kolkata',
        })
      ).totals.inputTokens;
    expect(await totals('2026-03-20T18:30:00Z', '2026-03-20T19:00:00Z')).toBe(10);
    expect(await totals('2026-03-20T18:00:00Z', '2026-03-20T18:30:00Z')).toBe(1);
  });

  it('zero-fills the default range by local days and puts the windows at local midnights', async () => {
    // default range [03-01T12:00Z, 03-31T12:00Z) is 17:30 IST on 03-01 to 17:30 IST on 03-31
    const days = await series(spring, 'kolkata', { tz: 'Asia/Kolkata' });
    expect(days).toHaveLength(31);
    expect(days[0]![0]).toBe('2026-02-28T18:30:00.000Z');
    expect(days[30]![0]).toBe('2026-03-30T18:30:00.000Z');
    expect(days.filter(([, tokens]) => tokens > 0)).toEqual([
      ['2026-03-19T18:30:00.000Z', 1],
      ['2026-03-20T18:30:00.000Z', 10],
    ]);
    const stats = await getOk<{ windows: Record<string, { from: string; requests: number; totalTokens: number }> }>(
      spring,
      '/v1/admin/usage/stats',
      adminOf(spring, 'tz'),
      { tz: 'Asia/Kolkata', userId: 'kolkata' },
    );
    // now = 17:30 IST on Tuesday 03-31
    expect(stats.windows).toEqual({
      today: expect.objectContaining({ from: '2026-03-30T18:30:00.000Z', requests: 0 }),
      week: expect.objectContaining({ from: '2026-03-29T18:30:00.000Z', requests: 0 }),
      month: expect.objectContaining({ from: '2026-02-28T18:30:00.000Z', requests: 2, totalTokens: 11 }),
    });
  });
});

describe('Asia/Kolkata once the raw records are gone (as after retention)', () => {
  // workspace "india", user "asha": i1 11:40 IST and i2 23:45 IST on 03-10, i3 00:15 and
  // i4 08:30 IST on 03-11; i2 and i3 share the UTC hour 18:00, which local midnight cuts
  const days = async () =>
    (
      await getOk<{ series: Bucket[] }>(spring, '/v1/me/usage', memberOf(spring, 'asha', 'india'), {
        from: '2026-03-09T18:30:00Z', // 03-10 00:00 IST
        to: '2026-03-11T18:30:00Z', // 03-12 00:00 IST
        tz: 'Asia/Kolkata',
      })
    ).series.map((b) => [b.bucketStart, b.inputTokens]);
  const total = async (from: string, to: string) =>
    (
      await getOk<{ totals: { inputTokens: number } }>(spring, '/v1/me/usage', memberOf(spring, 'asha', 'india'), {
        from,
        to,
        tz: 'Asia/Kolkata',
      })
    ).totals.inputTokens;

  const providerChart = async () =>
    (
      await getOk<{ series: Array<{ bucketStart: string; totalTokens: number }> }>(
        spring,
        '/v1/admin/usage/providers',
        adminOf(spring, 'india'),
        { from: '2026-03-09T18:30:00Z', to: '2026-03-11T18:30:00Z', tz: 'Asia/Kolkata' },
      )
    ).series.map((b) => [b.bucketStart, b.totalTokens]);

  it('keeps the daily history from the rollups, the cut hour whole in the day it starts in', async () => {
    await ingest(
      spring,
      adminOf(spring, 'india'),
      [
        rec('i1', '2026-03-10T06:10:00Z', 'asha', 1),
        rec('i2', '2026-03-10T18:15:00Z', 'asha', 10),
        rec('i3', '2026-03-10T18:45:00Z', 'asha', 100),
        rec('i4', '2026-03-11T03:00:00Z', 'asha', 1000),
      ],
      { expectAccepted: true },
    );
    expect(await days()).toEqual([
      ['2026-03-09T18:30:00.000Z', 11],
      ['2026-03-10T18:30:00.000Z', 1100],
    ]);
    expect(await total('2026-03-10T00:00:00Z', '2026-03-10T18:30:00Z')).toBe(11);

    expect(await providerChart()).toEqual([
      ['2026-03-09T18:30:00.000Z', 11],
      ['2026-03-10T18:30:00.000Z', 1100],
    ]);

    await spring.db.query(`DELETE FROM usage_records WHERE workspace_id = 'india'`);
    // the provider chart reads the cut hour from the 15-minute slots, kept as long as the raw months
    expect(await providerChart()).toEqual([
      ['2026-03-09T18:30:00.000Z', 11],
      ['2026-03-10T18:30:00.000Z', 1100],
    ]);
    // 18:00–19:00Z starts at 23:30 IST on 03-10: all of it counts there, once
    expect(await days()).toEqual([
      ['2026-03-09T18:30:00.000Z', 111],
      ['2026-03-10T18:30:00.000Z', 1000],
    ]);
    // a range's partial end hour likewise counts whole when the range holds its start, else not at all
    expect(await total('2026-03-10T00:00:00Z', '2026-03-10T18:30:00Z')).toBe(111);
    expect(await total('2026-03-10T18:30:00Z', '2026-03-12T00:00:00Z')).toBe(1000);
    // …and once the slots went with the raw months, by the same rule as everything else
    await spring.db.query(`DELETE FROM usage_slot_providers WHERE workspace_id = 'india'`);
    expect(await providerChart()).toEqual([
      ['2026-03-09T18:30:00.000Z', 111],
      ['2026-03-10T18:30:00.000Z', 1000],
    ]);
  });
});

describe('Europe/Berlin, fall back (2026-10-25 is 25 hours)', () => {
  it('puts records near local midnight and in the repeated hour into the right local day', async () => {
    const days = await series(autumn, 'berlin', {
      from: '2026-10-23T22:00:00Z', // 10-24 00:00 CEST
      to: '2026-10-26T23:00:00Z', // 10-27 00:00 CET
      tz: 'Europe/Berlin',
    });
    expect(days).toEqual([
      ['2026-10-23T22:00:00.000Z', 1], // u1
      ['2026-10-24T22:00:00.000Z', 11110], // u2 + u3 + u4 + u5
      ['2026-10-25T23:00:00.000Z', 100000], // u6
    ]);
    expect(hoursBetween(days[1]![0], days[2]![0])).toBe(25);
  });

  it('buckets the same records differently in UTC', async () => {
    expect(await series(autumn, 'berlin', { from: '2026-10-24T00:00:00Z', to: '2026-10-27T00:00:00Z' })).toEqual([
      ['2026-10-24T00:00:00.000Z', 11], // u1 + u2
      ['2026-10-25T00:00:00.000Z', 111100], // u3 + u4 + u5 + u6
      ['2026-10-26T00:00:00.000Z', 0],
    ]);
  });

  it('has 25 hourly buckets on the long day, the repeated 02:00 twice', async () => {
    const hours = await series(autumn, 'berlin', {
      from: '2026-10-24T22:00:00Z',
      to: '2026-10-25T23:00:00Z',
      tz: 'Europe/Berlin',
      granularity: 'hour',
    });
    expect(hours).toHaveLength(25);
    expect(hours.filter(([, tokens]) => tokens > 0)).toEqual([
      ['2026-10-24T22:00:00.000Z', 10], // 00:00 CEST
      ['2026-10-25T00:00:00.000Z', 100], // 02:00 CEST
      ['2026-10-25T01:00:00.000Z', 1000], // 02:00 CET
      ['2026-10-25T22:00:00.000Z', 10000], // 23:00 CET
    ]);
  });

  it('computes today / week / month windows at local midnights after the change', async () => {
    // now = 2026-10-27T12:00Z = Tuesday 13:00 CET
    const admin = adminOf(autumn, 'tz');
    const berlin = await getOk<{ windows: Record<string, Record<string, unknown>> }>(
      autumn,
      '/v1/admin/usage/stats',
      admin,
      { tz: 'Europe/Berlin' },
    );
    expect(berlin.windows).toEqual({
      today: {
        from: '2026-10-26T23:00:00.000Z',
        requests: 0,
        totalTokens: 0,
        errors: 0,
        cost: '0',
        unpricedRequests: 0,
      },
      // Monday 10-26 00:00 CET: u6
      week: {
        from: '2026-10-25T23:00:00.000Z',
        requests: 1,
        totalTokens: 100000,
        errors: 0,
        cost: null,
        unpricedRequests: 1,
      },
      // October 1st 00:00 CEST: all six
      month: {
        from: '2026-09-30T22:00:00.000Z',
        requests: 6,
        totalTokens: 111111,
        errors: 0,
        cost: null,
        unpricedRequests: 6,
      },
    });
    const utc = await getOk<{ windows: Record<string, Record<string, unknown>> }>(
      autumn,
      '/v1/admin/usage/stats',
      admin,
    );
    expect(utc.windows).toEqual({
      today: expect.objectContaining({ from: '2026-10-27T00:00:00.000Z', requests: 0 }),
      // u6 is Sunday 23:00 in UTC: not in this week
      week: expect.objectContaining({ from: '2026-10-26T00:00:00.000Z', requests: 0 }),
      month: expect.objectContaining({ from: '2026-10-01T00:00:00.000Z', requests: 6, totalTokens: 111111 }),
    });
  });
});

describe('Australia/Lord_Howe, a 30-minute DST change (2026-04-05 is 24.5 hours)', () => {
  it('keeps local hours that start on the half UTC hour after the change', async () => {
    const hours = await series(autumn, 'lordhowe', {
      from: '2026-04-04T14:00:00Z',
      to: '2026-04-04T16:30:00Z',
      tz: 'Australia/Lord_Howe',
      granularity: 'hour',
    });
    expect(hours).toEqual([
      ['2026-04-04T14:00:00.000Z', 1], // 01:00 +11:00
      ['2026-04-04T14:30:00.000Z', 10], // 01:00 +10:30 (01:30–02:00 the second time)
      ['2026-04-04T15:30:00.000Z', 100], // 02:00 +10:30
    ]);
  });

  it('puts records near local midnight into the right local day', async () => {
    const days = await series(autumn, 'lordhowe', {
      from: '2026-04-04T13:00:00Z', // 04-05 00:00 +11:00
      to: '2026-04-06T13:30:00Z', // 04-07 00:00 +10:30
      tz: 'Australia/Lord_Howe',
    });
    expect(days).toEqual([
      ['2026-04-04T13:00:00.000Z', 1111], // L1 L2 L3 L4
      ['2026-04-05T13:30:00.000Z', 10000], // L5
    ]);
    expect(hoursBetween(days[0]![0], days[1]![0])).toBe(24.5);
  });
});

describe('zones whose DST changes at midnight, by 30 minutes or on a :45 offset', () => {
  /** The local calendar day or month of an instant, as Intl (not PostgreSQL) reads it. */
  function localKey(zone: string, at: Date, unit: 'day' | 'month'): string {
    const parts = new Intl.DateTimeFormat('en-CA', {
      timeZone: zone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
    })
      .formatToParts(at)
      .reduce<Record<string, string>>((acc, p) => ({ ...acc, [p.type]: p.value }), {});
    return unit === 'month' ? `${parts.year}-${parts.month}` : `${parts.year}-${parts.month}-${parts.day}`;
  }

  it('puts every record into exactly one bucket, the local day and month it happened in', async () => {
    const problems: string[] = [];
    for (const day of GRID_DAYS) {
      // not on whole hours: 21:13 the day before to 05:41 the day after, in UTC
      const from = new Date(Date.parse(`${day}T00:00:00Z`) - 2 * HOUR - 47 * 60_000).toISOString();
      const to = new Date(Date.parse(`${day}T00:00:00Z`) + 29 * HOUR + 41 * 60_000).toISOString();
      const inRange = GRID.filter((r) => r.occurredAt >= from && r.occurredAt < to);
      for (const zone of GRID_ZONES) {
        for (const granularity of ['hour', 'day', 'month'] as const) {
          const body = await getOk<{ totals: { requests: number }; series: Bucket[] }>(
            autumn,
            '/v1/me/usage',
            memberOf(autumn, 'p', 'grid'),
            { from, to, tz: zone, granularity },
          );
          const where = `${zone} ${day} ${granularity}`;
          const starts = body.series.map((b) => b.bucketStart);
          if (new Set(starts).size !== starts.length || [...starts].sort().join() !== starts.join()) {
            problems.push(`${where}: buckets not unique and ascending`);
          }
          const sum = body.series.reduce((total, b) => total + b.requests, 0);
          if (sum !== inRange.length || body.totals.requests !== inRange.length) {
            problems.push(`${where}: series ${sum}, totals ${body.totals.requests}, records ${inRange.length}`);
          }
          if (granularity === 'hour') continue;
          const expected = new Map<string, number>();
          for (const r of inRange) {
            const key = localKey(zone, new Date(r.occurredAt), granularity);
            expected.set(key, (expected.get(key) ?? 0) + 1);
          }
          const actual = new Map(
            body.series
              .filter((b) => b.requests > 0)
              .map((b) => [localKey(zone, new Date(b.bucketStart), granularity), b.requests]),
          );
          if (JSON.stringify([...actual]) !== JSON.stringify([...expected])) {
            problems.push(`${where}: ${JSON.stringify([...actual])} ≠ ${JSON.stringify([...expected])}`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
