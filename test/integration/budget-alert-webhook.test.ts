import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/composition-root';
import { waitUntil } from '../support/outage-checks';
import { createTestDatabase } from '../support/test-app';
import { bearerFor, startReceiver, startWebhookService, type Receiver } from '../support/webhooks';

/**
 * A budget alert end to end: usage crosses a plan's threshold, the alert is written with it,
 * and a real receiver on loopback gets it signed, after failures and across a restart.
 */
const admin = bearerFor('root');
const cleanups: Array<() => Promise<unknown>> = [];
let databaseUrl: string;

beforeAll(async () => {
  const database = await createTestDatabase();
  databaseUrl = database.url;
  cleanups.push(database.drop);
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function setUp(service: RunningService, hook: Receiver, userId: string): Promise<string> {
  const webhook = await service.app.inject({
    method: 'POST',
    url: '/v1/admin/webhooks',
    headers: admin,
    payload: { url: hook.url, events: ['quota.threshold_crossed'] },
  });
  expect(webhook.statusCode, webhook.body).toBe(201);
  const plan = await service.app.inject({
    method: 'POST',
    url: '/v1/admin/plans',
    headers: admin,
    payload: { name: `alerts-${userId}`, monthlyTokenLimit: 1000, alertThresholds: [80, 100] },
  });
  expect(plan.statusCode, plan.body).toBe(201);
  await service.app.inject({
    method: 'PUT',
    url: `/v1/admin/users/${userId}/plan`,
    headers: admin,
    payload: { planId: plan.json().id },
  });
  return webhook.json().secret;
}

async function spend(service: RunningService, userId: string, tokens: number, requestId: string) {
  const res = await service.app.inject({
    method: 'POST',
    url: '/v1/usage/records',
    headers: admin,
    payload: {
      records: [{ requestId, userId, provider: 'openai', model: 'gpt-4o', inputTokens: tokens, outputTokens: 0 }],
    },
  });
  expect(res.json()).toMatchObject({ accepted: 1 });
}

describe('budget alerts by webhook', () => {
  it('reaches a receiver that fails three times, with one webhook-id and a signature that verifies', async () => {
    // the first three attempts of each event fail
    const hook = await startReceiver((request, before) => ({
      status: before.filter((b) => b.headers['webhook-id'] === request.headers['webhook-id']).length < 3 ? 500 : 204,
    }));
    cleanups.push(hook.close);
    const service = await startWebhookService(databaseUrl);
    cleanups.push(service.stop);
    const secret = await setUp(service, hook, 'ana');

    await spend(service, 'ana', 500, 'ana-1');
    await spend(service, 'ana', 1200, 'ana-2'); // 500 → 1,700: past 80 % and 100 % in one record
    await waitUntil(10_000, async () => hook.received.filter((r) => r.headers['webhook-id'] !== undefined).length >= 8);

    const ids = [...new Set(hook.received.map((r) => r.headers['webhook-id']))];
    expect(ids).toHaveLength(2);
    const verifier = new Webhook(secret);
    const events = ids.map((id) => {
      const attempts = hook.received.filter((r) => r.headers['webhook-id'] === id);
      expect(attempts).toHaveLength(4);
      const last = attempts.at(-1)!;
      return verifier.verify(last.body, last.headers as Record<string, string>) as {
        type: string;
        data: { userId: string; threshold: number; tokens: { limit: number; used: number } };
      };
    });
    expect(events.map((e) => [e.type, e.data.userId, e.data.threshold, e.data.tokens]).sort()).toEqual([
      ['quota.threshold_crossed', 'ana', 100, { limit: 1000, used: 1700 }],
      ['quota.threshold_crossed', 'ana', 80, { limit: 1000, used: 1700 }],
    ]);
    // a tampered body does not verify
    const tampered = hook.received.at(-1)!;
    expect(() =>
      verifier.verify(tampered.body.replace('1700', '1'), tampered.headers as Record<string, string>),
    ).toThrow();
    // its worker must not deliver the next test's alert
    await service.stop();
  });

  it('delivers an alert committed just before the service stopped, after it starts again', async () => {
    const hook = await startReceiver(() => ({ status: 200 }));
    cleanups.push(hook.close);
    // this instance's worker looks once at start and then not for a minute: it dies with the alert undelivered
    const first = await startWebhookService(databaseUrl, { pollIntervalMs: 60_000 });
    const secret = await setUp(first, hook, 'ben');
    await spend(first, 'ben', 900, 'ben-1');
    await first.stop();
    await new Promise((done) => setTimeout(done, 200));
    expect(hook.received.filter((r) => r.body.includes('"ben"'))).toEqual([]);

    const second = await startWebhookService(databaseUrl);
    cleanups.push(second.stop);
    await waitUntil(10_000, async () => hook.received.some((r) => r.body.includes('"ben"')));
    const got = hook.received.find((r) => r.body.includes('"ben"'))!;
    expect(new Webhook(secret).verify(got.body, got.headers as Record<string, string>)).toMatchObject({
      type: 'quota.threshold_crossed',
      data: { userId: 'ben', threshold: 80, tokens: { limit: 1000, used: 900 } },
    });
  });
});
