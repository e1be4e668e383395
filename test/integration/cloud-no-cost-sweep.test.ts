import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * Cloud mode: every GET route of the cloud document, with data behind it (records sent with a
 * cost, a plan whose alert fired, a webhook), answers no cost key or cost value; the exports
 * and the stored webhook payloads carry none either.
 */
let cloud: TestApp;
const COSTY = /cost|pric|permillion/i;

function costKeys(node: unknown, at = ''): string[] {
  if (Array.isArray(node)) return node.flatMap((v, i) => costKeys(v, `${at}/${i}`));
  if (typeof node !== 'object' || node === null) return [];
  return Object.entries(node).flatMap(([k, v]) => [
    ...(COSTY.test(k) ? [`${at}/${k}`] : []),
    ...costKeys(v, `${at}/${k}`),
  ]);
}

const admin = () => bearer(cloud.token('root', { role: 'admin' }));
const alice = () => bearer(cloud.token('alice'));

beforeAll(async () => {
  cloud = await createTestApp({ deploymentMode: 'cloud' });
  const plan = await cloud.app.inject({
    method: 'POST',
    url: '/v1/admin/plans',
    headers: admin(),
    payload: { name: 'small', monthlyTokenLimit: 100, alertThresholds: [50, 100] },
  });
  expect(plan.statusCode, plan.body).toBe(201);
  const assign = await cloud.app.inject({
    method: 'PUT',
    url: '/v1/admin/users/alice/plan',
    headers: admin(),
    payload: { planId: plan.json().id },
  });
  expect(assign.statusCode, assign.body).toBe(200);
  const hook = await cloud.app.inject({
    method: 'POST',
    url: '/v1/admin/webhooks',
    headers: admin(),
    payload: { url: 'https://93.184.216.34/hook', events: ['quota.threshold_crossed'] },
  });
  expect(hook.statusCode, hook.body).toBe(201);
  const now = Date.now();
  const records = [0, 1, 2].map((i) => ({
    requestId: `sweep-${i}`,
    userId: 'alice',
    provider: 'openai',
    model: i === 2 ? 'no-such-model' : 'gpt-4o',
    inputTokens: 40,
    outputTokens: 20,
    occurredAt: new Date(now - 60_000 * (i + 1)).toISOString(),
    ...(i === 0 ? { cost: '0.5' } : {}),
  }));
  const ingest = await cloud.app.inject({
    method: 'POST',
    url: '/v1/usage/records',
    headers: admin(),
    payload: { records },
  });
  expect(ingest.statusCode, ingest.body).toBe(200);
  expect(ingest.json().accepted).toBe(3);
});
afterAll(async () => {
  await cloud?.close();
});

describe('a cloud service with data', () => {
  it('answers no cost key on any GET route of its document', async () => {
    const doc = (await cloud.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    const webhooks = (await cloud.app.inject({ method: 'GET', url: '/v1/admin/webhooks', headers: admin() })).json();
    const webhookId = webhooks.items[0].id as string;
    const found: string[] = [];
    let checked = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      if (!('get' in item) || path.includes('/export')) continue;
      const url = path.replace('{userId}', 'alice').replace('{webhookId}', webhookId);
      const from = new Date(Date.now() - 86_400_000).toISOString();
      const to = new Date(Date.now() + 60_000).toISOString();
      for (const headers of [admin(), alice()]) {
        const res = await cloud.app.inject({
          method: 'GET',
          url,
          headers,
          query: path.includes('/usage') && !path.includes('config') && !path.includes('realtime') ? { from, to } : {},
        });
        if (res.statusCode !== 200) continue;
        checked++;
        if (!String(res.headers['content-type'] ?? '').includes('json')) continue;
        found.push(
          ...costKeys(res.json())
            .filter((k) => k !== '/showCost')
            .map((k) => `GET ${url}${k}`),
        );
        if (/"(computed|provided|unpriced)"|0\.5\b/.test(res.body) && !path.includes('/models'))
          found.push(`GET ${url}: ${res.body.slice(0, 200)}`);
      }
    }
    expect(checked).toBeGreaterThan(15);
    expect(found).toEqual([]);
  });

  it('exports no cost column at either level, CSV or NDJSON', async () => {
    const from = new Date(Date.now() - 86_400_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    for (const level of ['record', 'day']) {
      for (const format of ['csv', 'ndjson']) {
        const res = await cloud.app.inject({
          method: 'GET',
          url: '/v1/admin/usage/export',
          headers: admin(),
          query: { from, to, level, format },
        });
        expect(res.statusCode, res.body).toBe(200);
        expect(res.body.length).toBeGreaterThan(50);
        expect(res.body, `${level} ${format}`).not.toMatch(/cost|unpriced|0\.5\b/i);
      }
    }
  });

  it('stores and lists webhook events without cost', async () => {
    const rows: Array<{ type: string; payload: unknown }> = await cloud.db.query(
      `SELECT type, payload FROM webhook_events`,
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.flatMap((r) => costKeys(r.payload))).toEqual([]);
  });
});
