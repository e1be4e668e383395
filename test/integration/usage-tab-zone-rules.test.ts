import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKENS } from '../../src/application/ports/tokens';
import type { TimeZoneRules } from '../../src/application/ports/time-zone-rules.port';
import { utcOffsetMinutes } from '../../src/domain/usage-window';
import { ingest, usageRecord } from '../support/records';
import { createTestApp, type TestApp } from '../support/test-app';
import { adminOf, get, getOk, memberOf } from '../support/usage-dataset';

/**
 * One copy of the time zone data: the service cuts ranges into local days and months with the
 * offsets PostgreSQL has, which labels what is not folded yet, zero-fills the charts and counts
 * quota periods. Node's own copy (ICU) may differ: America/Vancouver from November 2026 is
 * −07:00 all year in newer data and −08:00 in winter in older (Node 20's 2025c); where the two
 * disagreed, a chart's buckets missed the sums cut for them.
 */
const NOW = new Date('2026-11-20T12:00:00Z');
const ZONE = 'America/Vancouver';
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => NOW } });
  const times = ['2026-11-04T12:00:00Z', '2026-11-05T07:30:00Z', '2026-11-05T12:00:00Z', '2026-11-07T12:00:00Z'];
  await ingest(
    t,
    adminOf(t, 'van'),
    times.map((occurredAt, i) =>
      usageRecord({ requestId: `van-${i}`, occurredAt, userId: 'vic', inputTokens: 10 ** i, outputTokens: 0 }),
    ),
    { expectAccepted: true },
  );
});
afterAll(async () => t?.close());

type Bucket = { bucketStart: string; requests: number; totalTokens: number };
const sum = (buckets: Bucket[]) => buckets.reduce((n, b) => n + b.totalTokens, 0);

describe('local days by the database’s zone data', () => {
  it('cuts every series into buckets that add up to the totals, in a zone whose data differ between copies', async () => {
    const range = { from: '2026-11-03T00:00:00Z', to: '2026-11-10T00:00:00Z', tz: ZONE };
    const mine = await getOk<{ totals: { totalTokens: number }; series: Bucket[] }>(
      t,
      '/v1/me/usage',
      memberOf(t, 'vic', 'van'),
      { ...range, granularity: 'day' },
    );
    expect(mine.totals.totalTokens).toBe(1111);
    expect(sum(mine.series)).toBe(1111);
    const providers = await getOk<{ series: Bucket[] }>(t, '/v1/admin/usage/providers', adminOf(t, 'van'), {
      ...range,
      granularity: 'week',
    });
    expect(sum(providers.series)).toBe(1111);
    const user = await getOk<{ daily: Bucket[]; monthly: Bucket[] }>(
      t,
      '/v1/admin/usage/users/vic',
      adminOf(t, 'van'),
      range,
    );
    expect([sum(user.daily), sum(user.monthly)]).toEqual([1111, 1111]);
    // each day starts at a local midnight as PostgreSQL has it, a day after the one before
    const [days] = (await t.db.query(
      `SELECT bool_and(date_trunc('day', s, $1) = s) AND count(DISTINCT date_trunc('day', s, $1)) = count(*)
                AND max(s) - min(s) = (count(*) - 1) * interval '1 day' AS midnights
       FROM unnest($2::timestamptz[]) AS s`,
      [ZONE, mine.series.map((b) => b.bucketStart)],
    )) as Array<{ midnights: boolean }>;
    expect(days!.midnights).toBe(true);
  });

  it('starts the stats’ today, week and month where the charts start them', async () => {
    const stats = await getOk<{ windows: Record<'today' | 'week' | 'month', { from: string }> }>(
      t,
      '/v1/admin/usage/stats',
      adminOf(t, 'van'),
      { tz: ZONE },
    );
    const [starts] = (await t.db.query(
      `SELECT ${['day', 'week', 'month']
        .map(
          (unit) =>
            `to_char(date_trunc('${unit}', $1::timestamptz, $2) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.000"Z"') AS ${unit}`,
        )
        .join(', ')}`,
      [NOW.toISOString(), ZONE],
    )) as Array<Record<'day' | 'week' | 'month', string>>;
    expect([stats.windows.today.from, stats.windows.week.from, stats.windows.month.from]).toEqual([
      starts!.day,
      starts!.week,
      starts!.month,
    ]);
  });

  it('refuses, at its field, a zone Intl knows and PostgreSQL does not', async () => {
    // US/Pacific-New was dropped from the time zone data in 2020; Node 20 still has it
    const tab = await get<{ details: unknown[] }>(t, '/v1/admin/usage/stats', adminOf(t, 'van'), {
      tz: 'US/Pacific-New',
    });
    expect(tab.status).toBe(400);
    expect(tab.body.details).toEqual([expect.objectContaining({ path: '/querystring/tz' })]);
    const workspace = await t.app.inject({
      method: 'PUT',
      url: '/v1/admin/workspace',
      headers: adminOf(t, 'van'),
      payload: { timeZone: 'US/Pacific-New' },
    });
    expect(workspace.statusCode, workspace.body).toBe(400);
    expect(workspace.json().details).toEqual([expect.objectContaining({ path: '/timeZone' })]);
  });

  it('gives every offset PostgreSQL gives, in any zone at any instant from 1980 to 2099', async () => {
    const zones = t.container.resolve<TimeZoneRules>(TOKENS.TimeZoneRules);
    const db = t.container.resolve(DataSource);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...Intl.supportedValuesOf('timeZone')),
        // since 1980 offsets change only at whole quarter hours, where the rules put each change
        fc.array(fc.integer({ min: Date.UTC(1980, 0, 1), max: Date.UTC(2099, 11, 31) }), {
          minLength: 1,
          maxLength: 40,
        }),
        async (zone, instants) => {
          fc.pre(await zones.load(zone));
          const [row] = (await db.query(
            `SELECT array_agg(round((extract(epoch FROM i AT TIME ZONE $1) - extract(epoch FROM i)) / 60)::int
                              ORDER BY n) AS offsets
             FROM unnest($2::float8[]) WITH ORDINALITY AS u(ms, n), LATERAL (SELECT to_timestamp(ms / 1000) AS i) x`,
            [zone, instants],
          )) as Array<{ offsets: number[] }>;
          expect(instants.map((ms) => utcOffsetMinutes(zone, new Date(ms)))).toEqual(row!.offsets);
        },
      ),
      { numRuns: 25 },
    );
  });
});
