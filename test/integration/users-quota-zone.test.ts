import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * The users table's usage percentage is of the quota period holding the clock, in the
 * workspace's zone: at 2026-11-30 23:30 UTC it is still November in UTC and already December
 * in Berlin (since 23:00 UTC). kim's plan allows 1,000 tokens a month; she used 500 at 22:00
 * UTC (November either way) and 200 at 23:10 UTC (December in Berlin).
 */
let t: TestApp;
let admin: Record<string, string>;
const clock = { now: () => new Date('2026-11-30T23:30:00Z') };

beforeAll(async () => {
  t = await createTestApp({ clock });
  admin = bearer(t.token('root', { role: 'admin' }));
  const plan = await call('POST', '/v1/admin/plans', { name: 'thousand', monthlyTokenLimit: 1000 });
  expect(plan.statusCode, plan.body).toBe(201);
  expect((await call('PUT', '/v1/admin/users/kim/plan', { planId: plan.json().id })).statusCode).toBe(200);
  await ingest(
    t,
    admin,
    [
      usageRecord({ userId: 'kim', occurredAt: '2026-11-30T22:00:00Z', inputTokens: 500, outputTokens: 0 }),
      usageRecord({ userId: 'kim', occurredAt: '2026-11-30T23:10:00Z', inputTokens: 200, outputTokens: 0 }),
    ],
    { expectAccepted: true, fold: true },
  );
});
afterAll(async () => t.close());

const call = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) =>
  t.app.inject({ method, url, headers: admin, ...(payload ? { payload } : {}) });

async function kimInUsersTable(): Promise<{ totalTokens: number; usagePercentage: number | null }> {
  const page = await call('GET', '/v1/admin/usage/users?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z');
  expect(page.statusCode, page.body).toBe(200);
  const kim = (
    page.json().items as Array<{ userId: string; totalTokens: number; usagePercentage: number | null }>
  ).find((item) => item.userId === 'kim');
  return { totalTokens: kim!.totalTokens, usagePercentage: kim!.usagePercentage };
}

describe('the users table at a month boundary', () => {
  it('counts the usage percentage in the period of the workspace’s zone', async () => {
    // UTC (the default): November holds both records
    expect(await kimInUsersTable()).toEqual({ totalTokens: 700, usagePercentage: 70 });

    expect((await call('PUT', '/v1/admin/workspace', { timeZone: 'Europe/Berlin' })).statusCode).toBe(200);
    // Berlin: December began at 23:00 UTC and holds the 200 alone; the range's totals do not move
    expect(await kimInUsersTable()).toEqual({ totalTokens: 700, usagePercentage: 20 });
    expect((await call('GET', '/v1/admin/users/kim/quota')).json().tokens).toMatchObject({ used: 200 });
  });
});
