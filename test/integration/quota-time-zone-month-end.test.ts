import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planFor, quotaOf, setWorkspaceZone } from '../support/quotas';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * A zone change in the last hour of a month, with a record already stamped in the next one
 * (records may be up to an hour ahead): each record counts in the period of its own time in the
 * new zone, as the Usage tab shows it.
 */
let t: TestApp;
let admin: Record<string, string>;
// 23:30 in Berlin on 30 November
let now = new Date('2026-11-30T22:30:00Z');
const clock = { now: () => new Date(now) };

beforeAll(async () => {
  t = await createTestApp({ clock });
  admin = bearer(t.token('root', { role: 'admin' }));
});
afterAll(async () => t.close());

async function tabTokens(userId: string, from: string, to: string): Promise<number> {
  const tab = await t.app.inject({
    method: 'GET',
    url: `/v1/admin/usage/users/${userId}?from=${from}&to=${to}&tz=Europe/Berlin`,
    headers: admin,
  });
  expect(tab.statusCode, tab.body).toBe(200);
  return (tab.json() as { totals: { totalTokens: number } }).totals.totalTokens;
}

describe('a zone change in the last hour of the month', () => {
  it('counts a record stamped in the next period there, not in the current one', async () => {
    await planFor(t, admin, ['late'], { monthlyTokenLimit: 10_000 });
    await ingest(
      t,
      admin,
      [
        usageRecord({ userId: 'late', inputTokens: 700, outputTokens: 0, occurredAt: '2026-11-30T22:20:00Z' }),
        // 00:10 on 1 December in Berlin, still 30 November in UTC
        usageRecord({ userId: 'late', inputTokens: 100, outputTokens: 0, occurredAt: '2026-11-30T23:10:00Z' }),
      ],
      { expectAccepted: true },
    );
    // in UTC both are November's
    expect((await quotaOf(t, admin, 'late')).tokens.used).toBe(800);

    await setWorkspaceZone(t, admin, 'Europe/Berlin');
    const november = await quotaOf(t, admin, 'late');
    expect(november.periodStart).toBe('2026-10-31T23:00:00.000Z');
    expect(november.tokens.used).toBe(700);
    expect(await tabTokens('late', november.periodStart, november.resetsAt)).toBe(700);

    now = new Date('2026-11-30T23:20:00Z');
    const december = await quotaOf(t, admin, 'late');
    expect(december.periodStart).toBe('2026-11-30T23:00:00.000Z');
    expect(december.tokens.used).toBe(100);
    expect(await tabTokens('late', december.periodStart, december.resetsAt)).toBe(100);
  });
});
