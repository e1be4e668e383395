import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/test-app';
import { bearerFor, createWebhookApp, tableResolver } from '../support/webhooks';

/**
 * The admin routes of webhooks: an endpoint is registered with its secret shown once, listed
 * without it, scoped to its workspace, tested and removed; in the cloud only public https URLs.
 */
let t: TestApp;
let cloud: TestApp;
const acme = bearerFor('acme-admin', 'acme');
const globex = bearerFor('globex-admin', 'globex');

beforeAll(async () => {
  [t, cloud] = await Promise.all([
    createWebhookApp(),
    createWebhookApp({
      deploymentMode: 'cloud',
      resolveHost: tableResolver({
        'hooks.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
        'loopback.example.com': ['127.0.0.1'],
        'mixed.example.com': ['93.184.215.14', '10.1.2.3'],
        'v6-private.example.com': ['fd00::1'],
        'nat64-local.example.com': ['64:ff9b:1::a9fe:a9fe'],
        'translated.example.com': ['::ffff:0:7f00:1'],
      }),
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([t?.close(), cloud?.close()]);
});

interface WebhookView {
  id: string;
  url: string;
  events: string[];
  description: string | null;
  disabledAt: string | null;
  createdAt: string;
}

const create = (app: TestApp, headers: Record<string, string>, payload: object) =>
  app.app.inject({ method: 'POST', url: '/v1/admin/webhooks', headers, payload });

async function created(
  headers: Record<string, string>,
  payload: object = { url: 'https://example.com/hook', events: ['quota.threshold_crossed'] },
): Promise<{ secret: string; webhook: WebhookView }> {
  const res = await create(t, headers, payload);
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

const list = async (headers: Record<string, string>): Promise<WebhookView[]> => {
  const res = await t.app.inject({ method: 'GET', url: '/v1/admin/webhooks', headers });
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { items: WebhookView[] }).items;
};

describe('webhook endpoints', () => {
  it('are created with a whsec_ secret of 32 bytes shown once, and listed without it', async () => {
    const { secret, webhook } = await created(acme, {
      url: 'https://example.com/hooks/tokentally',
      events: ['quota.threshold_crossed', 'webhook.test', 'webhook.test'],
      description: 'budget alerts',
    });
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(webhook).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      url: 'https://example.com/hooks/tokentally',
      events: ['quota.threshold_crossed', 'webhook.test'],
      description: 'budget alerts',
      disabledAt: null,
      createdAt: expect.any(String),
    });

    const res = await t.app.inject({ method: 'GET', url: '/v1/admin/webhooks', headers: acme });
    expect(res.body).not.toContain(secret.slice('whsec_'.length, 20));
    expect(res.body).not.toContain('whsec_');
    expect((res.json() as { items: WebhookView[] }).items).toContainEqual(webhook);

    const another = await created(acme);
    expect(another.secret).not.toBe(secret);
  });

  it('belong to their workspace: another one cannot list, delete, test or read their deliveries', async () => {
    const { webhook } = await created(acme);
    expect((await list(globex)).map((w) => w.id)).not.toContain(webhook.id);

    for (const [method, url] of [
      ['DELETE', `/v1/admin/webhooks/${webhook.id}`],
      ['POST', `/v1/admin/webhooks/${webhook.id}/test`],
      ['GET', `/v1/admin/webhooks/${webhook.id}/deliveries`],
    ] as const) {
      const res = await t.app.inject({ method, url, headers: globex, ...(method === 'POST' ? { payload: {} } : {}) });
      expect(res.statusCode, `${method} ${url}`).toBe(404);
      expect(res.json()).toMatchObject({ code: 'not_found' });
    }
    // untouched, and nothing was queued by the other workspace
    expect((await list(acme)).map((w) => w.id)).toContain(webhook.id);
    const [queued] = (await t.db.query(
      `SELECT count(*)::int AS n FROM webhook_events WHERE workspace_id = 'globex'`,
    )) as Array<{ n: number }>;
    expect(queued?.n).toBe(0);
  });

  it('are removed, with their deliveries; a second removal is a 404', async () => {
    const { webhook } = await created(acme, { url: 'http://example.com/x', events: ['webhook.test'] });
    const test = await t.app.inject({
      method: 'POST',
      url: `/v1/admin/webhooks/${webhook.id}/test`,
      headers: acme,
      payload: {},
    });
    expect(test.statusCode, test.body).toBe(202);

    const removed = await t.app.inject({ method: 'DELETE', url: `/v1/admin/webhooks/${webhook.id}`, headers: acme });
    expect(removed.statusCode, removed.body).toBe(204);
    expect((await list(acme)).map((w) => w.id)).not.toContain(webhook.id);
    const [left] = (await t.db.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1`, [
      webhook.id,
    ])) as Array<{ n: number }>;
    expect(left?.n).toBe(0);
    const again = await t.app.inject({ method: 'DELETE', url: `/v1/admin/webhooks/${webhook.id}`, headers: acme });
    expect(again.statusCode).toBe(404);
  });

  it('get a webhook.test event to that endpoint only, answered 202 with its id and shown in the deliveries', async () => {
    const target = await created(acme, { url: 'https://example.com/a', events: ['quota.threshold_crossed'] });
    const other = await created(acme, { url: 'https://example.com/b', events: ['webhook.test'] });

    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/admin/webhooks/${target.webhook.id}/test`,
      headers: acme,
      payload: { message: 'hello' },
    });
    expect(res.statusCode, res.body).toBe(202);
    const { eventId } = res.json() as { eventId: string };
    expect(eventId).toMatch(/^msg_[0-9a-f]{32}$/);

    const [event] = (await t.db.query(
      `SELECT type, payload FROM webhook_events WHERE workspace_id = 'acme' AND id = $1`,
      [eventId],
    )) as Array<{ type: string; payload: { type: string; timestamp: string; data: object } }>;
    expect(event?.type).toBe('webhook.test');
    expect(event?.payload).toEqual({
      type: 'webhook.test',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      data: { webhookId: target.webhook.id, requestedBy: 'acme-admin', message: 'hello' },
    });
    const deliveries = (await t.db.query(`SELECT endpoint_id, status FROM webhook_deliveries WHERE event_id = $1`, [
      eventId,
    ])) as Array<{ endpoint_id: string; status: string }>;
    expect(deliveries).toEqual([{ endpoint_id: target.webhook.id, status: 'pending' }]);

    const log = await t.app.inject({
      method: 'GET',
      url: `/v1/admin/webhooks/${target.webhook.id}/deliveries`,
      headers: acme,
    });
    expect(log.statusCode, log.body).toBe(200);
    expect(log.json()).toEqual({
      items: [
        {
          eventId,
          type: 'webhook.test',
          createdAt: expect.any(String),
          status: 'pending',
          attempts: [],
          nextAttemptAt: expect.any(String),
        },
      ],
    });
    const none = await t.app.inject({
      method: 'GET',
      url: `/v1/admin/webhooks/${other.webhook.id}/deliveries`,
      headers: acme,
    });
    expect(none.json()).toEqual({ items: [] });
  });

  it('get a webhook.test event also when the test is asked for without a body, as with {}', async () => {
    const { webhook } = await created(acme, { url: 'https://example.com/c', events: ['webhook.test'] });
    const res = await t.app.inject({ method: 'POST', url: `/v1/admin/webhooks/${webhook.id}/test`, headers: acme });
    expect(res.statusCode, res.body).toBe(202);
    const [event] = (await t.db.query(`SELECT payload FROM webhook_events WHERE id = $1`, [
      (res.json() as { eventId: string }).eventId,
    ])) as Array<{ payload: { data: object } }>;
    expect(event?.payload.data).toEqual({ webhookId: webhook.id, requestedBy: 'acme-admin' });
    // a body that is there is still checked
    const bad = await t.app.inject({
      method: 'POST',
      url: `/v1/admin/webhooks/${webhook.id}/test`,
      headers: acme,
      payload: { message: 1 },
    });
    expect(bad.statusCode, bad.body).toBe(400);
    expect(bad.json()).toMatchObject({ details: [{ path: '/message' }] });
  });

  it('are for admins: a member gets 403, an anonymous caller 401', async () => {
    const member = bearerFor('bob', 'acme', 'member');
    const { webhook } = await created(acme);
    for (const [method, url] of [
      ['POST', '/v1/admin/webhooks'],
      ['GET', '/v1/admin/webhooks'],
      ['DELETE', `/v1/admin/webhooks/${webhook.id}`],
      ['POST', `/v1/admin/webhooks/${webhook.id}/test`],
      ['GET', `/v1/admin/webhooks/${webhook.id}/deliveries`],
    ] as const) {
      const payload = method === 'POST' ? { url: 'https://example.com/', events: ['webhook.test'] } : undefined;
      expect((await t.app.inject({ method, url, headers: member, payload })).statusCode, `${method} ${url}`).toBe(403);
      expect((await t.app.inject({ method, url, payload })).statusCode, `${method} ${url}`).toBe(401);
    }
  });

  it('refuse a bad body: no events, an unknown event, a non-http(s) URL, credentials, an over-long URL', async () => {
    const cases: Array<[object, string]> = [
      [{ url: 'https://example.com/', events: [] }, '/events'],
      [{ url: 'https://example.com/', events: ['usage.recorded'] }, '/events/0'],
      [{ url: 'ftp://example.com/', events: ['webhook.test'] }, '/url'],
      [{ url: 'not a url', events: ['webhook.test'] }, '/url'],
      [{ url: 'javascript:alert(1)', events: ['webhook.test'] }, '/url'],
      [{ url: 'https://user:pass@example.com/', events: ['webhook.test'] }, '/url'],
      [{ url: 'https://token@example.com/', events: ['webhook.test'] }, '/url'],
      [{ url: `https://example.com/${'a'.repeat(2040)}`, events: ['webhook.test'] }, '/url'],
      [{ events: ['webhook.test'] }, '/url'],
    ];
    for (const [payload, path] of cases) {
      const res = await create(t, acme, payload);
      expect(res.statusCode, JSON.stringify(payload).slice(0, 80)).toBe(400);
      expect(res.json().details, JSON.stringify(payload).slice(0, 80)).toEqual(
        expect.arrayContaining([expect.objectContaining({ path })]),
      );
    }
  });

  it('accept any http(s) URL in self-hosted mode, loopback and private included', async () => {
    for (const url of [
      'http://127.0.0.1:9000/hook',
      'http://localhost/hook',
      'http://10.0.0.1/',
      'http://[::1]:8080/x',
    ]) {
      expect((await create(t, acme, { url, events: ['webhook.test'] })).statusCode, url).toBe(201);
    }
  });
});

describe('webhook URLs in the cloud', () => {
  const admin = bearerFor('ops', 'default');

  it.each([
    'https://127.0.0.1/hook',
    'https://localhost/hook',
    'https://api.localhost/hook',
    'https://10.0.0.1/hook',
    'https://172.16.0.5/hook',
    'https://192.168.1.10/hook',
    'https://[::1]/hook',
    'https://[fd00::1]/hook',
    'https://[fe80::1]/hook',
    'https://[::ffff:127.0.0.1]/hook',
    // IPv4-translated (::ffff:0:0:0/96): the IPv4 address it carries is checked
    'https://[::ffff:0:7f00:1]/hook',
    'https://[::ffff:0:10.0.0.1]/hook',
    'https://[::ffff:0:a9fe:a9fe]/hook',
    // local-use NAT64 (64:ff9b:1::/48): a network's own translator, never public
    'https://[64:ff9b:1::a9fe:a9fe]/hook',
    'https://[64:ff9b:1:ffff::5db8:d70e]/hook',
    'https://nat64-local.example.com/hook',
    'https://translated.example.com/hook',
    'https://169.254.169.254/latest/meta-data',
    'https://100.64.0.1/hook',
    'https://0.0.0.0/hook',
    'https://224.0.0.1/hook',
    'https://2130706433/hook',
    'https://loopback.example.com/hook',
    'https://mixed.example.com/hook',
    'https://v6-private.example.com/hook',
    'https://does-not-resolve.example.com/hook',
    'http://93.184.215.14/hook',
  ])('refuses %s with a 400 at /url', async (url) => {
    const res = await create(cloud, admin, { url, events: ['quota.threshold_crossed'] });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ code: 'validation_failed', details: [{ path: '/url' }] });
  });

  it('accepts a public https URL, by address or by a name whose every address is public', async () => {
    for (const url of [
      'https://93.184.215.14/hook',
      'https://hooks.example.com/tokentally',
      'https://[2606:4700::1111]/h',
      // 93.184.215.14, IPv4-translated and through the well-known NAT64 prefix
      'https://[::ffff:0:5db8:d70e]/h',
      'https://[64:ff9b::5db8:d70e]/h',
    ]) {
      const res = await create(cloud, admin, { url, events: ['quota.threshold_crossed'] });
      expect(res.statusCode, `${url} ${res.body}`).toBe(201);
    }
  });
});
