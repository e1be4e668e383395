import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningService } from '../../src/composition-root';
import { waitUntil } from '../support/outage-checks';
import { planFor } from '../support/quotas';
import { createTestDatabase, TEST_JWT_SECRET } from '../support/test-app';
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
  await planFor(service, admin, [userId], {
    name: `alerts-${userId}`,
    monthlyTokenLimit: 1000,
    alertThresholds: [80, 100],
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
    // nothing of this test's may deliver the next test's alert
    await second.stop();
  });

  it('delivers an alert after the service is killed (SIGKILL) between commit and delivery', async () => {
    // a port nobody listens on yet: the killed service's first attempt is refused
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: REPO,
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        JWT_SECRET: TEST_JWT_SECRET,
        PORT: String(await freePort()),
        LOG_LEVEL: 'silent',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(async () => child.exitCode === null && child.kill('SIGKILL'));
    const origin = await new Promise<string>((found, failed) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening on (http:\/\/\S+)/.exec(out);
        if (match) found(match[1]!.replace(/\/$/, ''));
      });
      child.once('exit', (code) => failed(new Error(`the service exited (${code}) before listening:\n${out}`)));
    });
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(origin + path, {
        method,
        headers: { ...admin, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status, `${method} ${path}: ${await res.clone().text()}`).toBeLessThan(300);
      return res.json() as Promise<{ id: string; secret: string; accepted: number }>;
    };
    const hookUrl = `http://127.0.0.1:${port}/hook`;
    const { secret } = await call('POST', '/v1/admin/webhooks', { url: hookUrl, events: ['quota.threshold_crossed'] });
    const plan = await call('POST', '/v1/admin/plans', { name: 'alerts-cleo', monthlyTokenLimit: 1000 });
    await call('PUT', '/v1/admin/users/cleo/plan', { planId: plan.id });
    const records = [
      { requestId: 'cleo-1', userId: 'cleo', provider: 'openai', model: 'gpt-4o', inputTokens: 850, outputTokens: 0 },
    ];
    expect((await call('POST', '/v1/usage/records', { records })).accepted).toBe(1);

    // the alert is committed and its first attempt failed; kill the service before the retry
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    cleanups.push(() => db.end());
    const attemptsToHook = async () =>
      (
        await db.query<{ attempts: number; status: string }>(
          `SELECT d.attempts, d.status FROM webhook_deliveries d
             JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE e.url = $1`,
          [hookUrl],
        )
      ).rows;
    // the failed attempt recorded, not only claimed: killed between the two, the delivery would
    // wait out its claim's lease (a minute) before another instance may try it
    await waitUntil(10_000, async () => {
      const { rows } = await db.query(
        `SELECT 1 FROM webhook_attempts a JOIN webhook_endpoints e ON e.id = a.endpoint_id WHERE e.url = $1`,
        [hookUrl],
      );
      return rows.length >= 1;
    });
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(await attemptsToHook()).toEqual([{ attempts: 1, status: 'pending' }]);

    // the receiver comes up, another instance starts, and the retry is delivered
    const hook = await startReceiver(() => ({ status: 204 }), port);
    cleanups.push(hook.close);
    const next = await startWebhookService(databaseUrl);
    cleanups.push(next.stop);
    await waitUntil(15_000, async () => hook.received.some((r) => r.body.includes('"cleo"')));
    const got = hook.received.filter((r) => r.body.includes('"cleo"'));
    expect(got).toHaveLength(1);
    expect(new Webhook(secret).verify(got[0]!.body, got[0]!.headers as Record<string, string>)).toMatchObject({
      type: 'quota.threshold_crossed',
      data: { userId: 'cleo', threshold: 80, tokens: { limit: 1000, used: 850 } },
    });
    // the receiver has the body before the service has written down its answer
    await waitUntil(10_000, async () => (await attemptsToHook())[0]?.status !== 'pending');
    expect(await attemptsToHook()).toEqual([{ attempts: 2, status: 'delivered' }]);
  }, 90_000); // a service process starts from source here
});

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** A loopback port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}
