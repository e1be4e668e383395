import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../support/records';
import type { TestApp } from '../support/test-app';
import { adminOf, createDatasetApp, get, getOk, memberOf, zeroBucket, type Headers } from '../support/usage-dataset';

/**
 * Workspaces are separate: the shared dataset (test/support/usage-dataset.ts) lives in "acme";
 * "globex" has one record of its own, under a request id and user id that acme also uses:
 *   a1  2026-03-25T10:00Z  alice  acmeai/tally-1  5 in / 2 out
 * acme's workspace price for acmeai/tally-1 does not apply in globex, so there it is unpriced.
 * Every endpoint, asked by globex, answers globex's record only; asked by acme, acme's only.
 */
let t: TestApp;
let acme: Headers;
let globex: Headers;

beforeAll(async () => {
  t = await createDatasetApp();
  acme = adminOf(t, 'acme');
  globex = adminOf(t, 'globex');
  await ingest(
    t,
    globex,
    [
      {
        requestId: 'a1',
        occurredAt: '2026-03-25T10:00:00Z',
        userId: 'alice',
        provider: 'acmeai',
        model: 'tally-1',
        inputTokens: 5,
        outputTokens: 2,
      },
    ],
    { expectAccepted: true },
  );
});
afterAll(async () => t.close());

const WIDE = { from: '2026-02-01T00:00:00Z', to: '2026-04-01T00:00:00Z' };
const EMPTY_WINDOW = { requests: 0, totalTokens: 0, errors: 0, cost: '0', unpricedRequests: 0 };

describe('a second workspace', () => {
  it('sees only its own record in stats', async () => {
    const body = await getOk<Record<string, unknown>>(t, '/v1/admin/usage/stats', globex, WIDE);
    expect(body.totals).toEqual({
      requests: 1,
      inputTokens: 5,
      outputTokens: 2,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
      totalTokens: 7,
      errors: 0,
      errorRate: 0,
      avgDurationMs: null,
      cost: null,
      unpricedRequests: 1,
    });
    expect(body.activeUsers).toBe(1);
    expect(body.topModels).toEqual([
      { provider: 'acmeai', model: 'tally-1', requests: 1, totalTokens: 7, cost: null, percentage: 100 },
    ]);
    // a3, a4, e1 … of acme are in these windows; globex's a1 is only in the month
    expect(body.windows).toEqual({
      today: { from: '2026-03-31T00:00:00.000Z', ...EMPTY_WINDOW },
      week: { from: '2026-03-30T00:00:00.000Z', ...EMPTY_WINDOW },
      month: {
        from: '2026-03-01T00:00:00.000Z',
        requests: 1,
        totalTokens: 7,
        errors: 0,
        cost: null,
        unpricedRequests: 1,
      },
    });
  });

  it('sees only its own record in providers, models, users and activity', async () => {
    const providers = await getOk<{
      providers: unknown[];
      series: Array<{ totalTokens: number }>;
      unpricedRequests: number;
    }>(t, '/v1/admin/usage/providers', globex, WIDE);
    expect(providers.providers).toEqual([
      { provider: 'acmeai', requests: 1, totalTokens: 7, cost: null, percentage: 100 },
    ]);
    expect(providers.series).toHaveLength(59); // 59 days of Feb + Mar, one provider
    expect(providers.series.reduce((sum, s) => sum + s.totalTokens, 0)).toBe(7);
    expect(providers.unpricedRequests).toBe(1);

    const models = await getOk(t, '/v1/admin/usage/models', globex, { ...WIDE, limit: 1 });
    expect(models).toMatchObject({
      models: [{ provider: 'acmeai', model: 'tally-1', requests: 1, totalTokens: 7, cost: null, percentage: 100 }],
      others: null,
      unpricedRequests: 1,
    });

    const users = await getOk(t, '/v1/admin/usage/users', globex, WIDE);
    expect(users).toMatchObject({
      items: [
        {
          userId: 'alice',
          requests: 1,
          totalTokens: 7,
          cost: null,
          lastActiveAt: '2026-03-25T10:00:00.000Z',
          status: 'active',
          models: [{ provider: 'acmeai', model: 'tally-1', requests: 1, totalTokens: 7 }],
        },
      ],
      total: 1,
    });
    // acme's users do not exist here, whatever the search
    expect(await getOk(t, '/v1/admin/usage/users', globex, { ...WIDE, search: 'bob' })).toMatchObject({
      items: [],
      total: 0,
    });

    const activity = await getOk<{ items: Array<Record<string, unknown>> }>(t, '/v1/admin/usage/activity', globex, {
      ...WIDE,
      limit: 100,
    });
    expect(activity.items.map((r) => [r.requestId, r.userId, r.totalTokens, r.cost, r.costStatus])).toEqual([
      ['a1', 'alice', 7, null, 'unpriced'],
    ]);
  });

  it("sees its own alice, not acme's, in the user detail; acme's other users are 404", async () => {
    const body = await getOk<Record<string, unknown>>(t, '/v1/admin/usage/users/alice', globex, WIDE);
    expect(body).toMatchObject({
      userId: 'alice',
      lastActiveAt: '2026-03-25T10:00:00.000Z',
      totals: { requests: 1, totalTokens: 7, cost: null, unpricedRequests: 1 },
      monthly: [
        zeroBucket('2026-02-01T00:00:00.000Z'),
        {
          ...zeroBucket('2026-03-01T00:00:00.000Z'),
          requests: 1,
          inputTokens: 5,
          outputTokens: 2,
          totalTokens: 7,
          cost: null,
        },
      ],
      models: [
        {
          provider: 'acmeai',
          model: 'tally-1',
          requests: 1,
          inputTokens: 5,
          outputTokens: 2,
          totalTokens: 7,
          cost: null,
        },
      ],
    });
    expect((body.recent as Array<{ requestId: string }>).map((r) => r.requestId)).toEqual(['a1']);
    for (const userId of ['bob', 'carol', 'dave', 'eve']) {
      expect((await get(t, `/v1/admin/usage/users/${userId}`, globex)).status, userId).toBe(404);
    }
  });

  it("gives globex's members their own usage only", async () => {
    const alice = await getOk<Record<string, unknown>>(t, '/v1/me/usage', memberOf(t, 'alice', 'globex'), WIDE);
    expect(alice.totals).toMatchObject({ requests: 1, totalTokens: 7, cost: null });
    const bob = await getOk<Record<string, unknown>>(t, '/v1/me/usage', memberOf(t, 'bob', 'globex'), WIDE);
    expect(bob.totals).toMatchObject({ requests: 0, totalTokens: 0, cost: '0' });
    expect(bob.providers).toEqual([]);
  });

  it("does not list acme's workspace models in globex's catalog", async () => {
    expect(await getOk(t, '/v1/admin/models', globex, { search: 'tally' })).toMatchObject({ items: [], total: 0 });
    expect(await getOk(t, '/v1/admin/models', acme, { search: 'tally' })).toMatchObject({ total: 2 });
  });

  it("leaves acme's numbers untouched by globex's record", async () => {
    const stats = await getOk<Record<string, unknown>>(t, '/v1/admin/usage/stats', acme, WIDE);
    // the shared dataset over [02-01, 04-01): 12 records, 27500 tokens, 0.09485
    expect(stats.totals).toMatchObject({ requests: 12, totalTokens: 27500, cost: '0.09485', unpricedRequests: 2 });
    expect(stats.activeUsers).toBe(5);
    const alice = await getOk<Record<string, unknown>>(t, '/v1/admin/usage/users/alice', acme, WIDE);
    expect(alice).toMatchObject({
      lastActiveAt: '2026-03-31T12:30:00.000Z',
      totals: { requests: 5, totalTokens: 7900 },
    });
    expect(
      (alice.recent as Array<{ requestId: string; occurredAt: string }>).find((r) => r.requestId === 'a1'),
    ).toEqual(expect.objectContaining({ occurredAt: '2026-02-28T23:30:00.000Z' }));
    const tally = await getOk<{ models: Array<Record<string, unknown>> }>(t, '/v1/admin/usage/models', acme, {
      ...WIDE,
      model: 'tally-1',
    });
    expect(tally.models).toEqual([
      { provider: 'acmeai', model: 'tally-1', requests: 1, totalTokens: 11000, cost: '0.028', percentage: 100 },
    ]);
  });

  it('answers an empty workspace with zeros on every endpoint', async () => {
    const empty = adminOf(t, 'initech');
    const stats = await getOk<Record<string, unknown>>(t, '/v1/admin/usage/stats', empty);
    expect(stats).toMatchObject({ totals: { requests: 0, cost: '0' }, activeUsers: 0, topModels: [] });
    expect(await getOk(t, '/v1/admin/usage/providers', empty)).toMatchObject({
      providers: [],
      series: [],
      unpricedRequests: 0,
    });
    expect(await getOk(t, '/v1/admin/usage/models', empty)).toMatchObject({ models: [], others: null });
    expect(await getOk(t, '/v1/admin/usage/users', empty)).toMatchObject({ items: [], total: 0 });
    expect(await getOk(t, '/v1/admin/usage/activity', empty)).toMatchObject({ items: [] });
    expect((await get(t, '/v1/admin/usage/users/alice', empty)).status).toBe(404);
  });
});
