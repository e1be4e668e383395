import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * The users table's totals over any range equal the sums of the records in it, wherever the
 * range starts and ends in a month (its start and end are read as months less dekads, days and
 * hours, or as dekads, days and hours). Users a, b and c each made one call a day at 10:30 UTC
 * from 2026-09-25 to 2026-12-19 — every call a distinct number of input tokens — and a also at
 * 23:45 UTC every third day; the clock is 2026-12-20T12:00Z.
 */
const DAY = 86_400_000;
const START = Date.parse('2026-09-25T00:00:00Z');
const DAYS = 86;
const records = ['a', 'b', 'c'].flatMap((userId, u) =>
  Array.from({ length: DAYS }, (_, d) => [
    { userId, at: START + d * DAY + 10.5 * 3_600_000, tokens: 1000 * (u + 1) + d },
    ...(userId === 'a' && d % 3 === 0 ? [{ userId, at: START + d * DAY + 23.75 * 3_600_000, tokens: 7 + d }] : []),
  ]).flat(),
);

let t: TestApp;
let admin: Record<string, string>;
beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => new Date('2026-12-20T12:00:00Z') } });
  admin = bearer(t.token('root', { role: 'admin' }));
  const all = records.map((r) =>
    usageRecord({
      userId: r.userId,
      occurredAt: new Date(r.at).toISOString(),
      provider: 'openai',
      model: 'gpt-4o',
      inputTokens: r.tokens,
      outputTokens: 0,
    }),
  );
  for (let i = 0; i < all.length; i += 500) await ingest(t, admin, all.slice(i, i + 500), { expectAccepted: true });
});
afterAll(async () => t.close());

describe('the users table over ranges that start and end anywhere in a month', () => {
  it('sums exactly the records in the range, for every user', async () => {
    const span = DAYS * 24 + 24;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: span - 1 }),
        fc.integer({ min: 1, max: span }),
        fc.constantFrom('UTC', 'Europe/Berlin'),
        async (startHour, hours, tz) => {
          const from = START + startHour * 3_600_000;
          const to = Math.min(from + hours * 3_600_000, START + span * 3_600_000);
          const res = await t.app.inject({
            method: 'GET',
            url: `/v1/admin/usage/users?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}&tz=${encodeURIComponent(tz)}&pageSize=100`,
            headers: admin,
          });
          expect(res.statusCode, res.body).toBe(200);
          const got = Object.fromEntries(
            (res.json().items as Array<{ userId: string; requests: number; totalTokens: number }>).map((i) => [
              i.userId,
              [i.requests, i.totalTokens],
            ]),
          );
          const expected: Record<string, [number, number]> = {};
          for (const r of records.filter((x) => x.at >= from && x.at < to)) {
            const sums = (expected[r.userId] ??= [0, 0]);
            sums[0] += 1;
            sums[1] += r.tokens;
          }
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 80 },
    );
  }, 120_000);
});
