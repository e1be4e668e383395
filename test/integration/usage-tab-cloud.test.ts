import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/test-app';
import { adminOf, createDatasetApp, get, getOk, memberOf, type Headers } from '../support/usage-dataset';

/**
 * DEPLOYMENT_MODE=cloud: the shared dataset (test/support/usage-dataset.ts) seeded in a cloud
 * deployment. Every response body of every Usage tab endpoint (and the model catalog) is walked
 * recursively: no key named cost, costStatus, unpricedRequests or prices may appear anywhere,
 * not even with a null value. The counts themselves are unchanged (see the stats file).
 */
const FORBIDDEN = new Set(['cost', 'costStatus', 'unpricedRequests', 'prices']);

/** Paths (like `$.items[0].cost`) of every forbidden key anywhere in `value`. */
function forbiddenKeys(value: unknown, path = '$'): string[] {
  if (Array.isArray(value)) return value.flatMap((item, i) => forbiddenKeys(item, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) => [
    ...(FORBIDDEN.has(key) ? [`${path}.${key}`] : []),
    ...forbiddenKeys(child, `${path}.${key}`),
  ]);
}

let t: TestApp;
let admin: Headers;

beforeAll(async () => {
  t = await createDatasetApp({ deploymentMode: 'cloud' });
  admin = adminOf(t);
});
afterAll(async () => t.close());

const WIDE = { from: '2026-02-01T00:00:00Z', to: '2026-04-01T00:00:00Z' };
const EMPTY = { from: '2025-01-01T00:00:00Z', to: '2025-01-08T00:00:00Z' };

describe('cloud mode', () => {
  it('the walker finds a cost key wherever it is', () => {
    expect(forbiddenKeys({ a: [{ b: { cost: null } }], prices: [] })).toEqual(['$.a[0].b.cost', '$.prices']);
  });

  it('writes no cost key in any response of any Usage tab endpoint', async () => {
    const calls: Array<[string, Headers, Record<string, string | number>]> = [];
    for (const query of [{}, WIDE, EMPTY, { ...WIDE, tz: 'Europe/Berlin', granularity: 'week' }]) {
      calls.push(
        ['/v1/admin/usage/stats', admin, query],
        ['/v1/admin/usage/providers', admin, query],
        ['/v1/admin/usage/models', admin, { ...query, limit: 2 }],
        ['/v1/admin/usage/models', admin, { ...query, limit: 50 }],
        ['/v1/admin/usage/users', admin, query],
        ['/v1/admin/usage/users', admin, { ...query, sort: 'requests', order: 'asc' }],
        ['/v1/admin/usage/users/alice', admin, query],
        ['/v1/admin/usage/users/eve', admin, query],
        ['/v1/admin/usage/activity', admin, { ...query, limit: 100 }],
        ['/v1/me/usage', memberOf(t, 'alice'), query],
        ['/v1/me/usage', memberOf(t, 'eve'), query],
        ['/v1/me/usage', admin, query],
      );
    }
    calls.push(
      ['/v1/admin/usage/stats', admin, { provider: 'mystery' }],
      ['/v1/admin/usage/providers', admin, { userId: 'dave' }],
      ['/v1/admin/usage/models', admin, { model: 'unknown-1', limit: 1 }],
      ['/v1/usage/config', admin, {}],
      ['/v1/usage/config', memberOf(t, 'alice'), {}],
      ['/v1/admin/models', admin, {}],
      ['/v1/admin/models', admin, { search: 'tally' }],
      ['/v1/admin/models', admin, { search: 'gpt-4o', provider: 'openai' }],
    );
    for (const [path, headers, query] of calls) {
      const body = await getOk(t, path, headers, query);
      expect(forbiddenKeys(body), `${path} ${JSON.stringify(query)}`).toEqual([]);
    }
  });

  it('still answers the numbers, only without cost', async () => {
    const stats = await getOk<{ totals: Record<string, unknown>; windows: Record<string, unknown> }>(
      t,
      '/v1/admin/usage/stats',
      admin,
    );
    expect(stats.totals).toEqual({
      requests: 10,
      inputTokens: 20900,
      outputTokens: 4900,
      cachedInputTokens: 1000,
      cacheWriteTokens: 1000,
      reasoningTokens: 200,
      totalTokens: 25800,
      errors: 1,
      errorRate: 0.1,
      avgDurationMs: 700.3,
    });
    expect(stats.windows.today).toEqual({
      from: '2026-03-31T00:00:00.000Z',
      requests: 2,
      totalTokens: 3000,
      errors: 0,
    });
    const activity = await getOk<{ items: Array<Record<string, unknown>> }>(t, '/v1/admin/usage/activity', admin, {
      limit: 1,
    });
    expect(activity.items).toEqual([
      {
        requestId: 'e1',
        occurredAt: '2026-03-31T11:00:00.000Z',
        userId: 'eve',
        provider: 'mystery',
        model: 'unknown-1',
        operation: null,
        inputTokens: 500,
        outputTokens: 500,
        totalTokens: 1000,
        durationMs: null,
        success: true,
        error: null,
        tokenSource: 'reported',
      },
    ]);
    const models = await getOk<{ models: unknown[]; others: unknown }>(t, '/v1/admin/usage/models', admin, {
      limit: 3,
    });
    expect(models.others).toEqual({ models: 2, requests: 3, totalTokens: 4500, percentage: 17.44 });
  });

  it('does not sort the users table by the cost it hides: sort=cost is a 400, absent from the document', async () => {
    // an answer ordered by cost would tell the ranking of the cost it leaves out; other sorts answer
    for (const order of ['asc', 'desc']) {
      const res = await get<{ code: string; details: Array<{ path: string }> }>(t, '/v1/admin/usage/users', admin, {
        ...WIDE,
        sort: 'cost',
        order,
      });
      expect(res.status, order).toBe(400);
      expect(res.body.details.map((d) => d.path)).toContain('/querystring/sort');
    }
    const byTokens = await getOk<{ items: Array<{ userId: string }> }>(t, '/v1/admin/usage/users', admin, {
      ...WIDE,
      sort: 'totalTokens',
    });
    expect(byTokens.items.map((u) => u.userId).slice(0, 3)).toEqual(['carol', 'alice', 'bob']);
    const doc = await getOk<{
      paths: Record<string, { get: { parameters: Array<{ name: string; schema: { enum?: string[] } }> } }>;
    }>(t, '/openapi.json', undefined);
    const sort = doc.paths['/v1/admin/usage/users']!.get.parameters.find((p) => p.name === 'sort');
    expect(sort?.schema.enum).toEqual(['totalTokens', 'requests', 'lastActiveAt', 'userId', 'usagePercentage']);
  });

  it('tells the UI not to draw cost', async () => {
    expect(await getOk(t, '/v1/usage/config', memberOf(t, 'bob'))).toEqual({
      deploymentMode: 'cloud',
      showCost: false,
      currency: 'USD',
    });
  });

  it('answers model creation without prices', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/models',
      headers: admin,
      payload: {
        provider: 'acmeai',
        model: 'tally-3',
        kind: 'language',
        price: { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion: '1', outputPerMillion: '1' },
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(forbiddenKeys(res.json())).toEqual([]);
  });

  it('documents no cost field in the OpenAPI document, neither as a property nor as a required one', async () => {
    // test/integration/openapi-cloud.test.ts looks for every cost field of the self-hosted document
    const doc = await getOk(t, '/openapi.json', undefined);
    const named: string[] = [];
    const walk = (value: unknown, path: string): void => {
      if (Array.isArray(value)) return value.forEach((v, i) => walk(v, `${path}[${i}]`));
      if (value === null || typeof value !== 'object') return;
      const node = value as Record<string, unknown>;
      if (Array.isArray(node.required)) {
        for (const name of node.required as string[]) if (FORBIDDEN.has(name)) named.push(`${path}.required.${name}`);
      }
      if (typeof node.properties === 'object' && node.properties !== null) {
        for (const name of Object.keys(node.properties))
          if (FORBIDDEN.has(name)) named.push(`${path}.properties.${name}`);
      }
      for (const [key, child] of Object.entries(node)) walk(child, `${path}.${key}`);
    };
    walk(doc, '$');
    expect(named).toEqual([]);
  });
});
