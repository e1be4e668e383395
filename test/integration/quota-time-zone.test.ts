import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * Changing the workspace's zone within a month moves its quota period's start; what the month
 * already holds — alerts sent, reservations held — moves with it.
 */
let t: TestApp;
let admin: Record<string, string>;
const now = new Date('2026-11-20T12:00:00Z');
const clock = { now: () => new Date(now) };

beforeAll(async () => {
  t = await createTestApp({ clock });
  admin = bearer(t.token('root', { role: 'admin' }));
});
afterAll(async () => t.close());

const call = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) =>
  t.app.inject({ method, url, headers: admin, ...(payload ? { payload } : {}) });

async function alertsOf(userId: string) {
  return (await t.db.query(
    `SELECT e.payload->'data'->>'threshold' AS threshold, e.payload->'data'->>'periodStart' AS period
     FROM webhook_events e WHERE e.payload->'data'->>'userId' = $1 ORDER BY 1`,
    [userId],
  )) as Array<{ threshold: string; period: string }>;
}

describe('a zone change within the month', () => {
  it('keeps held reservations holding and sends no alert twice', async () => {
    const plan = await call('POST', '/v1/admin/plans', {
      name: 'zoned',
      monthlyTokenLimit: 1000,
      alertThresholds: [50, 100],
    });
    expect(plan.statusCode, plan.body).toBe(201);
    expect((await call('PUT', '/v1/admin/users/zed/plan', { planId: plan.json().id })).statusCode).toBe(200);
    const hook = await call('POST', '/v1/admin/webhooks', {
      url: 'http://127.0.0.1:9/hook',
      events: ['quota.threshold_crossed'],
    });
    expect(hook.statusCode, hook.body).toBe(201);

    await ingest(t, admin, [usageRecord({ userId: 'zed', inputTokens: 600, outputTokens: 0 })], {
      expectAccepted: true,
    });
    expect(await alertsOf('zed')).toEqual([{ threshold: '50', period: '2026-11-01T00:00:00.000Z' }]);
    const held = await call('POST', '/v1/quota/reservations', {
      userId: 'zed',
      requestId: 'zed-a',
      estimatedTokens: 300,
    });
    expect(held.statusCode, held.body).toBe(201);

    expect((await call('PUT', '/v1/admin/workspace', { timeZone: 'Europe/Berlin' })).statusCode).toBe(200);
    const quota = await call('GET', '/v1/admin/users/zed/quota');
    expect(quota.json()).toMatchObject({
      periodStart: '2026-10-31T23:00:00.000Z',
      tokens: { limit: 1000, used: 600, reserved: 300, remaining: 100 },
    });
    // the 300 still hold: 200 more would pass the limit
    const over = await call('POST', '/v1/quota/reservations', {
      userId: 'zed',
      requestId: 'zed-b',
      estimatedTokens: 200,
    });
    expect(over.statusCode, over.body).toBe(429);

    // the record settles the moved reservation; 50 % was alerted this month already
    await ingest(t, admin, [usageRecord({ requestId: 'zed-a', userId: 'zed', inputTokens: 100, outputTokens: 0 })], {
      expectAccepted: true,
    });
    expect((await call('GET', '/v1/admin/users/zed/quota')).json().tokens).toMatchObject({ used: 700, reserved: 0 });
    expect(await alertsOf('zed')).toEqual([{ threshold: '50', period: '2026-11-01T00:00:00.000Z' }]);

    // and 100 % is alerted once, in the period as it now starts
    await ingest(t, admin, [usageRecord({ userId: 'zed', inputTokens: 300, outputTokens: 0 })], {
      expectAccepted: true,
    });
    expect(await alertsOf('zed')).toEqual([
      { threshold: '100', period: '2026-10-31T23:00:00.000Z' },
      { threshold: '50', period: '2026-11-01T00:00:00.000Z' },
    ]);
  });
});
