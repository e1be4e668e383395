import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DataSource } from 'typeorm';
import type { RunningService } from '../../src/composition-root';
import { postWebhook } from '../../src/infrastructure/webhooks/http-sender';
import { startWebhookWorker } from '../../src/infrastructure/webhooks/webhook-delivery-worker';
import { waitUntil } from '../support/outage-checks';
import { createTestDatabase } from '../support/test-app';
import {
  bearerFor,
  startReceiver,
  startWebhookService,
  tableResolver,
  type ReceivedWebhook,
  type Receiver,
} from '../support/webhooks';

/**
 * The delivery worker against real HTTP receivers on loopback (self-hosted mode, where any
 * URL may be registered): signed Standard Webhooks requests, retries on a shortened schedule,
 * Retry-After, 410, a restart between enqueue and delivery, two workers on one database, and
 * in the cloud a name that resolves to loopback by the time of delivery.
 */
let database: { url: string; drop: () => Promise<void> };
let service: RunningService;
const admin = bearerFor('ops');
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  database = await createTestDatabase();
  service = await startWebhookService(database.url);
}, 120_000);
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(async () => {
  await service?.stop();
  await database?.drop();
});

/** A database of its own (a worker of the shared one would take its deliveries), dropped after the test. */
async function ownDatabase(): Promise<string> {
  const own = await createTestDatabase();
  cleanups.push(() => own.drop());
  return own.url;
}

async function receiver(answer?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const started = await startReceiver(answer);
  cleanups.push(() => started.close());
  return started;
}

async function register(
  on: RunningService,
  url: string,
  events = ['webhook.test'],
): Promise<{ id: string; secret: string }> {
  const res = await on.app.inject({
    method: 'POST',
    url: '/v1/admin/webhooks',
    headers: admin,
    payload: { url, events },
  });
  expect(res.statusCode, res.body).toBe(201);
  const body = res.json() as { secret: string; webhook: { id: string } };
  return { id: body.webhook.id, secret: body.secret };
}

async function sendTest(on: RunningService, webhookId: string): Promise<string> {
  const res = await on.app.inject({
    method: 'POST',
    url: `/v1/admin/webhooks/${webhookId}/test`,
    headers: admin,
    payload: {},
  });
  expect(res.statusCode, res.body).toBe(202);
  return (res.json() as { eventId: string }).eventId;
}

interface DeliveryView {
  eventId: string;
  type: string;
  status: string;
  attempts: Array<{
    attempt: number;
    attemptedAt: string;
    statusCode: number | null;
    error: string | null;
    durationMs: number;
  }>;
  nextAttemptAt: string | null;
}

async function deliveries(webhookId: string, on = service): Promise<DeliveryView[]> {
  const res = await on.app.inject({
    method: 'GET',
    url: `/v1/admin/webhooks/${webhookId}/deliveries`,
    headers: admin,
  });
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { items: DeliveryView[] }).items;
}

async function settled(webhookId: string, eventId: string, timeoutMs = 10_000, on = service): Promise<DeliveryView> {
  let found: DeliveryView | undefined;
  await waitUntil(timeoutMs, async () => {
    found = (await deliveries(webhookId, on)).find((d) => d.eventId === eventId);
    return found !== undefined && found.status !== 'pending';
  });
  return found!;
}

function verify(secret: string, request: ReceivedWebhook): unknown {
  const headers = {
    'webhook-id': String(request.headers['webhook-id']),
    'webhook-timestamp': String(request.headers['webhook-timestamp']),
    'webhook-signature': String(request.headers['webhook-signature']),
  };
  return new Webhook(secret).verify(request.body, headers);
}

describe('webhook delivery', () => {
  it('retries a failing receiver and delivers on its first 2xx, each attempt signed, with the same webhook-id', async () => {
    const hook = await receiver((_, before) => ({ status: before.length < 3 ? 500 : 204 }));
    const { id, secret } = await register(service, hook.url);
    const eventId = await sendTest(service, id);

    const delivery = await settled(id, eventId);
    expect(delivery.status).toBe('delivered');
    expect(delivery.nextAttemptAt).toBeNull();
    expect(delivery.attempts.map((a) => [a.attempt, a.statusCode, a.error])).toEqual([
      [1, 500, null],
      [2, 500, null],
      [3, 500, null],
      [4, 204, null],
    ]);
    for (const a of delivery.attempts) expect(a.durationMs).toBeGreaterThanOrEqual(0);

    expect(hook.received).toHaveLength(4);
    for (const request of hook.received) {
      expect(request.headers['webhook-id']).toBe(eventId);
      expect(request.headers['content-type']).toBe('application/json');
      expect(Number(request.headers['webhook-timestamp'])).toBeCloseTo(Date.now() / 1000, -2);
      expect(request.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(verify(secret, request)).toEqual({
        type: 'webhook.test',
        timestamp: expect.any(String),
        data: { webhookId: id, requestedBy: 'ops' },
      });
    }
    // a signature made with another secret does not verify
    expect(() => verify(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, hook.received[0]!)).toThrow();
  });

  it('gives up after the last attempt of the schedule: failed, every attempt recorded', async () => {
    const hook = await receiver(() => ({ status: 302, headers: { location: 'http://127.0.0.1:1/' } }));
    const { id } = await register(service, hook.url);
    const eventId = await sendTest(service, id);
    const delivery = await settled(id, eventId);
    expect(delivery.status).toBe('failed');
    // the test schedule has five attempts; a redirect is a failure and is not followed
    expect(delivery.attempts.map((a) => a.statusCode)).toEqual([302, 302, 302, 302, 302]);
    expect(hook.received).toHaveLength(5);
  });

  it('records a refused connection as an error and retries it', async () => {
    const gone = await startReceiver();
    const url = gone.url;
    await gone.close();
    const { id } = await register(service, url);
    const eventId = await sendTest(service, id);
    const delivery = await settled(id, eventId);
    expect(delivery.status).toBe('failed');
    expect(delivery.attempts).toHaveLength(5);
    for (const a of delivery.attempts) {
      expect(a.statusCode).toBeNull();
      expect(a.error).toMatch(/ECONNREFUSED/);
    }
  });

  it('waits as long as the receiver’s Retry-After says (seconds or an HTTP date)', async () => {
    const hook = await receiver((_, before) =>
      before.length === 0
        ? { status: 503, headers: { 'retry-after': '2' } }
        : before.length === 1
          ? { status: 429, headers: { 'retry-after': new Date(Date.now() + 2_000).toUTCString() } }
          : { status: 200 },
    );
    const { id } = await register(service, hook.url);
    const eventId = await sendTest(service, id);
    const delivery = await settled(id, eventId, 15_000);
    expect(delivery.status).toBe('delivered');
    expect(hook.received).toHaveLength(3);
    const [first, second, third] = hook.received.map((r) => r.at);
    // the schedule alone would retry after 50 ms; an HTTP date has a resolution of one second
    expect(second! - first!).toBeGreaterThanOrEqual(1_900);
    expect(third! - second!).toBeGreaterThanOrEqual(900);
  });

  it('disables an endpoint that answers 410 Gone and stops its other pending deliveries', async () => {
    const hook = await receiver(() => ({ status: 410 }));
    const { id } = await register(service, hook.url, ['webhook.test', 'quota.threshold_crossed']);
    // an event due later, still pending when the 410 comes
    await service.dataSource.query(
      `WITH e AS (INSERT INTO webhook_events (workspace_id, id, type, payload)
                  VALUES ('default', 'msg_later', 'quota.threshold_crossed', '{}') RETURNING id)
       INSERT INTO webhook_deliveries (workspace_id, event_id, endpoint_id, status, next_attempt_at)
       SELECT 'default', e.id, $1, 'pending', now() + interval '1 hour' FROM e`,
      [id],
    );
    const eventId = await sendTest(service, id);
    const delivery = await settled(id, eventId);
    expect(delivery.status).toBe('failed');
    expect(delivery.attempts.map((a) => a.statusCode)).toEqual([410]);
    expect(hook.received).toHaveLength(1);

    const later = (await deliveries(id)).find((d) => d.eventId === 'msg_later');
    expect(later).toMatchObject({ status: 'failed', attempts: [], nextAttemptAt: null });
    const listed = await service.app.inject({ method: 'GET', url: '/v1/admin/webhooks', headers: admin });
    const endpoint = (listed.json() as { items: Array<{ id: string; disabledAt: string | null }> }).items.find(
      (w) => w.id === id,
    );
    expect(endpoint?.disabledAt).toEqual(expect.any(String));
    // nothing more goes to it
    const test = await service.app.inject({
      method: 'POST',
      url: `/v1/admin/webhooks/${id}/test`,
      headers: admin,
      payload: {},
    });
    expect(test.statusCode, test.body).toBe(409);
  });

  it('connects to the addresses it checked, not to what the name resolves to later', async () => {
    const hook = await receiver(() => ({ status: 200 }));
    const answer = await postWebhook({
      url: new URL(`http://pinned.invalid:${hook.port}/hook`),
      headers: { 'content-type': 'application/json' },
      body: '{}',
      timeoutMs: 5_000,
      addresses: [{ address: '127.0.0.1', family: 4 }],
    });
    expect(answer.statusCode).toBe(200);
    expect(hook.received[0]?.headers.host).toBe(`pinned.invalid:${hook.port}`);
  });

  it('in the cloud, does not send to a name that resolves to loopback by the time of delivery (DNS rebinding)', async () => {
    const hook = await receiver(() => ({ status: 200 }));
    let lookups = 0;
    // public when the endpoint is registered, loopback afterwards
    const resolveHost = tableResolver({
      'rebind.example.com': () => (lookups++ === 0 ? ['93.184.215.14'] : ['127.0.0.1']),
    });
    const cloud = await startWebhookService(await ownDatabase(), { resolveHost, retryScheduleMs: [0, 50] }, 'cloud');
    cleanups.push(() => cloud.stop());
    const { id } = await register(cloud, `https://rebind.example.com:${hook.port}/hook`);
    const eventId = await sendTest(cloud, id);
    const delivery = await settled(id, eventId, 10_000, cloud);
    expect(delivery.status).toBe('failed');
    expect(delivery.attempts).toHaveLength(2);
    for (const a of delivery.attempts) {
      expect(a.statusCode).toBeNull();
      expect(a.error).toMatch(/127\.0\.0\.1.*loopback/);
    }
    expect(hook.received).toEqual([]);
  });
});

describe('webhook delivery across restarts and instances', () => {
  it('delivers after a restart what was queued while no worker ran', async () => {
    const hook = await receiver(() => ({ status: 200 }));
    const url = await ownDatabase();
    // this instance's worker looks once at start, then not for a minute
    const first = await startWebhookService(url, { pollIntervalMs: 60_000 });
    const { id, secret } = await register(first, hook.url);
    const eventId = await sendTest(first, id);
    // committed and due, but this worker does not look again before it stops
    const [row] = (await first.dataSource.query(
      `SELECT status, attempts, next_attempt_at <= now() AS due FROM webhook_deliveries WHERE event_id = $1`,
      [eventId],
    )) as Array<{ status: string; attempts: number; due: boolean }>;
    expect(row).toEqual({ status: 'pending', attempts: 0, due: true });
    await first.stop();
    await new Promise((done) => setTimeout(done, 300));
    expect(hook.received).toEqual([]);

    const second = await startWebhookService(url, { pollIntervalMs: 20 });
    cleanups.push(() => second.stop());
    await waitUntil(10_000, async () => hook.received.length === 1);
    expect(hook.received[0]!.headers['webhook-id']).toBe(eventId);
    expect(verify(secret, hook.received[0]!)).toMatchObject({ type: 'webhook.test' });
  });

  it('two workers on one database send each attempt once', async () => {
    // every event's first attempt fails, its second succeeds
    const hook = await receiver((request, before) => ({
      status: before.some((b) => b.headers['webhook-id'] === request.headers['webhook-id']) ? 200 : 500,
    }));
    const url = await ownDatabase();
    const workers = await Promise.all([
      startWebhookService(url, { pollIntervalMs: 5, concurrency: 4 }),
      startWebhookService(url, { pollIntervalMs: 5, concurrency: 4 }),
    ]);
    cleanups.push(() => Promise.all(workers.map((w) => w.stop())));
    const { id } = await register(workers[0]!, hook.url);
    const events = 40;
    const eventIds = await Promise.all(Array.from({ length: events }, (_, i) => sendTest(workers[i % 2]!, id)));

    await waitUntil(20_000, async () => {
      const [row] = (await workers[0]!.dataSource.query(
        `SELECT count(*) FILTER (WHERE status = 'delivered')::int AS n FROM webhook_deliveries WHERE endpoint_id = $1`,
        [id],
      )) as Array<{ n: number }>;
      return row?.n === events;
    });
    // give a duplicate a moment to show up
    await new Promise((done) => setTimeout(done, 200));
    const perEvent = new Map<string, number>();
    for (const r of hook.received) {
      const eventId = String(r.headers['webhook-id']);
      perEvent.set(eventId, (perEvent.get(eventId) ?? 0) + 1);
    }
    expect(new Set(perEvent.keys())).toEqual(new Set(eventIds));
    expect([...perEvent.values()].filter((n) => n !== 2)).toEqual([]);
    expect(hook.received).toHaveLength(2 * events);
    const attempts = (await workers[0]!.dataSource.query(
      `SELECT event_id, array_agg(attempt ORDER BY attempt) AS attempts, array_agg(status_code ORDER BY attempt) AS codes
       FROM webhook_attempts WHERE endpoint_id = $1 GROUP BY event_id`,
      [id],
    )) as Array<{ event_id: string; attempts: number[]; codes: number[] }>;
    expect(attempts).toHaveLength(events);
    for (const row of attempts)
      expect([row.attempts, row.codes]).toEqual([
        [1, 2],
        [500, 200],
      ]);
  });
});

describe('the webhook worker when the database fails', () => {
  it('reports the first failure once, backs off, and recovers by itself', async () => {
    let failing = true;
    let polls = 0;
    const db = {
      query: async () => {
        polls += 1;
        if (failing) throw new Error('Connection terminated unexpectedly');
        return [];
      },
    } as unknown as DataSource;
    const errors: unknown[] = [];
    const recovered: number[] = [];
    const worker = startWebhookWorker(
      db,
      { deploymentMode: 'self-hosted', pollIntervalMs: 10, maxBackoffMs: 80 },
      { onError: (error) => errors.push(error), onRecovered: (failures) => recovered.push(failures) },
    );
    cleanups.push(() => worker.stop());
    await new Promise((done) => setTimeout(done, 500));
    expect(errors).toHaveLength(1);
    // 10, 20, 40, 80, 80 … ms apart: about ten polls, not the fifty of a loop without backoff
    expect(polls).toBeGreaterThan(3);
    expect(polls).toBeLessThan(20);
    failing = false;
    await waitUntil(2_000, async () => recovered.length === 1);
    expect(recovered[0]).toBeGreaterThan(3);
    const after = polls;
    await new Promise((done) => setTimeout(done, 100));
    expect(polls).toBeGreaterThan(after + 3);
  });
});
