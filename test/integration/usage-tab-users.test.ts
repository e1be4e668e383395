import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord, usageRecords } from '../support/records';
import type { TestApp } from '../support/test-app';
import { adminOf, createDatasetApp, get, getOk, zeroBucket, type Headers } from '../support/usage-dataset';

/**
 * GET /v1/admin/usage/users and /users/{userId} on the shared dataset
 * (test/support/usage-dataset.ts; clock 2026-03-31T12:00Z; active = last call at or after
 * 2026-03-24T12:00Z), plus two workspaces of their own:
 *   "busy":  zed, 55 calls z01…z55 at 2026-03-25 10:00, 10:01, …, 10:54, 10 input tokens each
 *   "edge7": just-in at 2026-03-24T12:00:00.000Z (exactly 7 days ago: active),
 *            just-out at 2026-03-24T11:59:59.999Z (inactive)
 *
 * Users in the default range R = [2026-03-01T12:00Z, 2026-03-31T12:00Z):
 *   user  | records     | requests | tokens | cost                          | lastActiveAt (any time) | status
 *   alice | a2 a3 a4    | 3        |  6200  | 0.01375+0.006+0.0125 = 0.03225 | 03-31 12:30 (f1)        | active
 *   bob   | b1 b2       | 2        |  4100  | 0.02175+0.0035 = 0.02525       | 03-29 22:30             | active
 *   carol | c1 c2       | 2        | 11500  | 0.028+0.0006 = 0.0286          | 03-30 22:30             | active
 *   dave  | d1 d2       | 2        |  3000  | 0 (d1 unpriced, d2 priced 0)   | 03-20 13:00             | inactive
 *   eve   | e1          | 1        |  1000  | null (only unpriced)           | 03-31 11:00             | active
 * Ties (requests 2: bob carol dave) are broken by userId in the same direction; eve's unknown cost
 * sorts last in both directions, after dave's 0.
 */
let t: TestApp;
let admin: Headers;

beforeAll(async () => {
  t = await createDatasetApp();
  admin = adminOf(t);
  await ingest(
    t,
    adminOf(t, 'busy'),
    usageRecords(55, (i) => ({
      requestId: `z${String(i + 1).padStart(2, '0')}`,
      occurredAt: new Date(Date.parse('2026-03-25T10:00:00Z') + i * 60_000).toISOString(),
      userId: 'zed',
      provider: 'openai',
      model: 'gpt-4o',
      inputTokens: 10,
      outputTokens: 0,
    })),
    { expectAccepted: true },
  );
  await ingest(
    t,
    adminOf(t, 'edge7'),
    [
      {
        requestId: 'in',
        occurredAt: '2026-03-24T12:00:00.000Z',
        userId: 'just-in',
        provider: 'x',
        model: 'm',
        inputTokens: 1,
        outputTokens: 0,
      },
      {
        requestId: 'out',
        occurredAt: '2026-03-24T11:59:59.999Z',
        userId: 'just-out',
        provider: 'x',
        model: 'm',
        inputTokens: 1,
        outputTokens: 0,
      },
    ],
    { expectAccepted: true },
  );
});
afterAll(async () => t.close());

type UserItem = {
  userId: string;
  requests: number;
  totalTokens: number;
  cost: string | null;
  lastActiveAt: string;
  status: string;
  models: Array<{ provider: string; model: string; requests: number; totalTokens: number }>;
  plan: { id: string; name: string };
  usagePercentage: number | null;
};
type UserPage = { range: Record<string, string>; items: UserItem[]; page: number; pageSize: number; total: number };

const list = (query: Record<string, string | number> = {}, headers = admin) =>
  getOk<UserPage>(t, '/v1/admin/usage/users', headers, query);
const ids = async (query: Record<string, string | number>) => (await list(query)).items.map((u) => u.userId);

/**
 * Everyone is on the default plan, free (10,000 tokens a month); the usage percentage is of the
 * clock's month, March in UTC, which holds records outside the range too: alice's 6,400 tokens
 * of March are 64 % though the range shows 6,200, carol's 11,500 are 115 %.
 */
const FREE = { id: expect.any(String) as unknown as string, name: 'free' };

const CAROL: UserItem = {
  userId: 'carol',
  requests: 2,
  totalTokens: 11500,
  cost: '0.0286',
  lastActiveAt: '2026-03-30T22:30:00.000Z',
  status: 'active',
  models: [
    { provider: 'acmeai', model: 'tally-1', requests: 1, totalTokens: 11000 },
    { provider: 'acmeai', model: 'tally-2', requests: 1, totalTokens: 500 },
  ],
  plan: FREE,
  usagePercentage: 115,
};
const ALICE: UserItem = {
  userId: 'alice',
  requests: 3,
  totalTokens: 6200,
  cost: '0.03225',
  lastActiveAt: '2026-03-31T12:30:00.000Z',
  status: 'active',
  models: [
    { provider: 'openai', model: 'gpt-4o', requests: 2, totalTokens: 5000 },
    { provider: 'anthropic', model: 'claude-3-5-sonnet', requests: 1, totalTokens: 1200 },
  ],
  plan: FREE,
  usagePercentage: 64,
};
const BOB: UserItem = {
  userId: 'bob',
  requests: 2,
  totalTokens: 4100,
  cost: '0.02525',
  lastActiveAt: '2026-03-29T22:30:00.000Z',
  status: 'active',
  models: [
    { provider: 'anthropic', model: 'claude-3-5-sonnet', requests: 1, totalTokens: 3000 },
    { provider: 'openai', model: 'gpt-4o', requests: 1, totalTokens: 1100 },
  ],
  plan: FREE,
  usagePercentage: 41,
};
const DAVE: UserItem = {
  userId: 'dave',
  requests: 2,
  totalTokens: 3000,
  cost: '0',
  lastActiveAt: '2026-03-20T13:00:00.000Z',
  status: 'inactive',
  models: [
    { provider: 'mystery', model: 'unknown-1', requests: 1, totalTokens: 3000 },
    { provider: 'openai', model: 'gpt-4o', requests: 1, totalTokens: 0 },
  ],
  plan: FREE,
  usagePercentage: 30,
};
const EVE: UserItem = {
  userId: 'eve',
  requests: 1,
  totalTokens: 1000,
  cost: null,
  lastActiveAt: '2026-03-31T11:00:00.000Z',
  status: 'active',
  models: [{ provider: 'mystery', model: 'unknown-1', requests: 1, totalTokens: 1000 }],
  plan: FREE,
  usagePercentage: 10,
};

describe('GET /v1/admin/usage/users', () => {
  it('lists every user of the range by total tokens, with exact cost, status and models', async () => {
    const body = await list();
    expect(body).toEqual({
      range: { from: '2026-03-01T12:00:00.000Z', to: '2026-03-31T12:00:00.000Z', tz: 'UTC', granularity: 'day' },
      items: [CAROL, ALICE, BOB, DAVE, EVE],
      page: 1,
      pageSize: 20,
      total: 5,
    });
  });

  it('paginates with page and pageSize, reporting the total on every page', async () => {
    const pages = await Promise.all([1, 2, 3, 4].map((page) => list({ pageSize: 2, page })));
    expect(pages.map((p) => p.items.map((u) => u.userId))).toEqual([['carol', 'alice'], ['bob', 'dave'], ['eve'], []]);
    expect(pages.map((p) => [p.page, p.pageSize, p.total])).toEqual([
      [1, 2, 5],
      [2, 2, 5],
      [3, 2, 5],
      [4, 2, 5],
    ]);
  });

  it('searches a case-insensitive substring of the user id, wildcards taken literally', async () => {
    expect(await list({ search: 'A' })).toMatchObject({ total: 3, items: [CAROL, ALICE, DAVE] });
    expect(await ids({ search: 'VE' })).toEqual(['dave', 'eve']);
    expect(await ids({ search: 'lic' })).toEqual(['alice']);
    for (const search of ['%', '_', 'a%', '\\']) {
      expect(await list({ search })).toMatchObject({ items: [], total: 0 });
    }
    expect(await list({ search: 'zzz' })).toMatchObject({ items: [], total: 0, page: 1 });
  });

  it('sorts by every field in both directions, ties broken by user id in the same direction', async () => {
    const orders: Array<[string, string, string[]]> = [
      ['totalTokens', 'desc', ['carol', 'alice', 'bob', 'dave', 'eve']],
      ['totalTokens', 'asc', ['eve', 'dave', 'bob', 'alice', 'carol']],
      // requests 3 | 2 2 2 | 1
      ['requests', 'desc', ['alice', 'dave', 'carol', 'bob', 'eve']],
      ['requests', 'asc', ['eve', 'bob', 'carol', 'dave', 'alice']],
      // cost 0.03225 | 0.0286 | 0.02525 | 0 (dave) | null (eve, unpriced: unknown, last either way)
      ['cost', 'desc', ['alice', 'carol', 'bob', 'dave', 'eve']],
      ['cost', 'asc', ['dave', 'bob', 'carol', 'alice', 'eve']],
      ['lastActiveAt', 'desc', ['alice', 'eve', 'carol', 'bob', 'dave']],
      ['lastActiveAt', 'asc', ['dave', 'bob', 'carol', 'eve', 'alice']],
      ['userId', 'asc', ['alice', 'bob', 'carol', 'dave', 'eve']],
      ['userId', 'desc', ['eve', 'dave', 'carol', 'bob', 'alice']],
      ['usagePercentage', 'desc', ['carol', 'alice', 'bob', 'dave', 'eve']],
      ['usagePercentage', 'asc', ['eve', 'dave', 'bob', 'alice', 'carol']],
    ];
    for (const [sort, order, expected] of orders) {
      expect(await ids({ sort, order }), `${sort} ${order}`).toEqual(expected);
    }
    // the default order is desc
    expect(await ids({ sort: 'requests' })).toEqual(['alice', 'dave', 'carol', 'bob', 'eve']);
    // the unknown cost is answered as null and stays last on every page
    const byCost = await Promise.all(
      [1, 2, 3].map(async (page) =>
        (await list({ sort: 'cost', order: 'asc', pageSize: 2, page })).items.map((u) => [u.userId, u.cost]),
      ),
    );
    expect(byCost).toEqual([
      [
        ['dave', '0'],
        ['bob', '0.02525'],
      ],
      [
        ['carol', '0.0286'],
        ['alice', '0.03225'],
      ],
      [['eve', null]],
    ]);
    // a tie across a page boundary stays stable: requests desc, 2 per page
    const paged = await Promise.all(
      [1, 2, 3].map(async (page) => (await list({ sort: 'requests', pageSize: 2, page })).items.map((u) => u.userId)),
    );
    expect(paged).toEqual([['alice', 'dave'], ['carol', 'bob'], ['eve']]);
  });

  it('filters by status: active = used within the last 7 days of the clock', async () => {
    expect(await list({ status: 'active' })).toMatchObject({ total: 4, items: [CAROL, ALICE, BOB, EVE] });
    expect(await list({ status: 'inactive' })).toMatchObject({ total: 1, items: [DAVE] });
    expect(await ids({ status: 'active', search: 'a' })).toEqual(['carol', 'alice']);
    // exactly 7 days ago is still active; a millisecond earlier is not
    const edge = await list({ sort: 'userId', order: 'asc' }, adminOf(t, 'edge7'));
    expect(edge.items.map((u) => [u.userId, u.status, u.lastActiveAt])).toEqual([
      ['just-in', 'active', '2026-03-24T12:00:00.000Z'],
      ['just-out', 'inactive', '2026-03-24T11:59:59.999Z'],
    ]);
  });

  it('reads last activity alike for the page and for sorting and filtering: folded or pending, in any later month', async () => {
    // "late": each user's latest call, folded or still pending, in the range or after it, in
    // the range's first month or a later one; range [2026-02-15, 2026-03-31T12:00Z)
    const late = adminOf(t, 'late');
    const call = (requestId: string, userId: string, occurredAt: string) =>
      usageRecord({ requestId, userId, occurredAt });
    await ingest(
      t,
      late,
      [
        call('l1', 'after-pending', '2026-03-10T09:00:00Z'),
        call('l2', 'in-range', '2026-03-05T08:00:00Z'),
        call('l3', 'first-month', '2026-02-20T07:00:00Z'),
        call('l4', 'after-folded', '2026-02-16T00:00:00Z'),
        call('l5', 'after-folded', '2026-03-31T12:10:00Z'),
      ],
      { expectAccepted: true },
    );
    await ingest(
      t,
      late,
      [call('l6', 'after-pending', '2026-03-31T12:20:00Z'), call('l7', 'pending', '2026-03-25T06:00:00Z')],
      { expectAccepted: true, fold: false },
    );
    const range = { from: '2026-02-15T00:00:00Z', to: '2026-03-31T12:00:00Z' };
    const expected = [
      ['after-pending', '2026-03-31T12:20:00.000Z', 'active'],
      ['after-folded', '2026-03-31T12:10:00.000Z', 'active'],
      ['pending', '2026-03-25T06:00:00.000Z', 'active'],
      ['in-range', '2026-03-05T08:00:00.000Z', 'inactive'],
      ['first-month', '2026-02-20T07:00:00.000Z', 'inactive'],
    ];
    const seen = async (query: Record<string, string>) =>
      (await list({ ...range, ...query }, late)).items.map((u) => [u.userId, u.lastActiveAt, u.status]);
    expect(await seen({ sort: 'lastActiveAt' })).toEqual(expected);
    expect(await seen({ sort: 'lastActiveAt', order: 'asc' })).toEqual([...expected].reverse());
    expect(await seen({ status: 'active', sort: 'lastActiveAt' })).toEqual(expected.slice(0, 3));
    expect(await seen({ status: 'inactive', sort: 'lastActiveAt' })).toEqual(expected.slice(3));
    // the page alone (sorted by user id) reads each user's the other way: the same instants
    expect(await seen({ sort: 'userId', order: 'asc' })).toEqual(
      [...expected].sort((a, b) => a[0]!.localeCompare(b[0]!)),
    );
  });

  it("orders a user's models by tokens, then calls, then provider and model by code point", async () => {
    const ties = adminOf(t, 'ties');
    let n = 0;
    const call = (provider: string, model: string, inputTokens: number) =>
      usageRecord({
        requestId: `t${++n}`,
        userId: 'tia',
        occurredAt: '2026-03-20T10:00:00Z',
        provider,
        model,
        inputTokens,
        outputTokens: 0,
      });
    await ingest(
      t,
      ties,
      [
        call('b', 'x', 100),
        call('a', 'y', 100),
        call('d', 'big', 500),
        call('a', 'Z', 100),
        call('c', 'p', 60),
        call('B', 'q', 100),
        call('c', 'p', 40),
        call('e', '\u{1F600}', 100),
        call('e', '\u{FFFD}', 100),
      ],
      { expectAccepted: true },
    );
    const { items } = await list({}, ties);
    // names are kept in lower case; U+FFFD comes before U+1F600 (UTF-16 units would put the emoji first)
    expect(items[0]!.models.map((m) => [m.provider, m.model, m.requests, m.totalTokens])).toEqual([
      ['d', 'big', 1, 500],
      ['c', 'p', 2, 100],
      ['a', 'y', 1, 100],
      ['a', 'z', 1, 100],
      ['b', 'q', 1, 100],
      ['b', 'x', 1, 100],
      ['e', '\u{FFFD}', 1, 100],
      ['e', '\u{1F600}', 1, 100],
    ]);
  });

  it('lists at most modelsPerUser models of each user, those with the most tokens, and none at 0', async () => {
    const all = [CAROL, ALICE, BOB, DAVE, EVE];
    expect(await list({ modelsPerUser: 0 })).toMatchObject({
      total: 5,
      items: all.map((u) => ({ ...u, models: [] })),
    });
    expect(await list({ modelsPerUser: 1 })).toMatchObject({
      total: 5,
      items: all.map((u) => ({ ...u, models: u.models.slice(0, 1) })),
    });
    expect((await list({ modelsPerUser: 1000 })).items).toEqual((await list()).items);
    // sorted otherwise, and past the last page (which counts the users without reading models)
    expect(await ids({ modelsPerUser: 0, sort: 'userId', order: 'asc' })).toEqual([
      'alice',
      'bob',
      'carol',
      'dave',
      'eve',
    ]);
    expect(await list({ modelsPerUser: 0, page: 9 })).toMatchObject({ items: [], total: 5 });
  });

  it('narrows totals and models with provider, model and userId filters', async () => {
    const openai = await list({ provider: 'openai' });
    expect(openai.total).toBe(3);
    expect(openai.items).toEqual([
      { ...ALICE, requests: 2, totalTokens: 5000, cost: '0.02625', models: [ALICE.models[0]] },
      { ...BOB, requests: 1, totalTokens: 1100, cost: '0.0035', models: [BOB.models[1]] },
      { ...DAVE, requests: 1, totalTokens: 0, cost: '0', models: [DAVE.models[1]] },
    ]);
    expect(await ids({ model: 'unknown-1' })).toEqual(['dave', 'eve']);
    expect(await list({ userId: 'bob' })).toMatchObject({ total: 1, items: [BOB] });
  });

  it('answers an empty range with no users', async () => {
    expect(await list({ from: '2025-01-01T00:00:00Z', to: '2025-01-08T00:00:00Z' })).toMatchObject({
      items: [],
      total: 0,
      page: 1,
      pageSize: 20,
    });
  });

  it('rejects an unknown sort field or order, a pageSize over 100 and a page below 1', async () => {
    const cases: Array<[Record<string, string | number>, string]> = [
      [{ sort: 'email' }, '/querystring/sort'],
      [{ sort: 'user_id; DROP TABLE usage_records' }, '/querystring/sort'],
      [{ order: 'up' }, '/querystring/order'],
      [{ pageSize: 101 }, '/querystring/pageSize'],
      [{ pageSize: 0 }, '/querystring/pageSize'],
      [{ page: 0 }, '/querystring/page'],
      [{ status: 'dormant' }, '/querystring/status'],
      [{ modelsPerUser: -1 }, '/querystring/modelsPerUser'],
      [{ modelsPerUser: 1.5 }, '/querystring/modelsPerUser'],
      [{ modelsPerUser: 'all' }, '/querystring/modelsPerUser'],
    ];
    for (const [query, path] of cases) {
      const res = await get<{ code: string; details: Array<{ path: string }> }>(
        t,
        '/v1/admin/usage/users',
        admin,
        query,
      );
      expect(res.status, JSON.stringify(query)).toBe(400);
      expect(res.body.details.map((d) => d.path)).toContain(path);
    }
    expect((await list({ pageSize: 100 })).pageSize).toBe(100);
  });
});

type Bucket = ReturnType<typeof zeroBucket>;
type Detail = {
  range: Record<string, string>;
  userId: string;
  lastActiveAt: string;
  status: string;
  totals: Record<string, unknown>;
  daily: Array<Bucket | (Omit<Bucket, 'cost'> & { cost: string | null })>;
  monthly: Bucket[];
  models: Array<Record<string, unknown>>;
  recent: Array<Record<string, unknown>>;
};

const detail = (userId: string, query: Record<string, string> = {}, headers = admin) =>
  getOk<Detail>(t, `/v1/admin/usage/users/${encodeURIComponent(userId)}`, headers, query);

/** Every UTC midnight from `from` (inclusive) to `to` (exclusive), as ISO strings. */
function utcDays(from: string, to: string): string[] {
  const days: string[] = [];
  for (let at = Date.parse(from); at < Date.parse(to); at += 86_400_000) days.push(new Date(at).toISOString());
  return days;
}

describe('GET /v1/admin/usage/users/{userId}', () => {
  /*
   * alice in [2026-02-01, 2026-04-01) UTC: a1 (02-28 23:30, 1000/500, 0.0075), a2 (03-02,
   * 2000/1000 cached 1000, 0.01375, 400 ms), a3 (03-30, 1000/200, 0.006), a4 (03-31 09:00,
   * 1000/1000, 0.0125, 501 ms), f1 (03-31 12:30, 100/100, 0.00125)
   *   totals: 5 requests, input 5100, output 2800, total 7900, cost 0.041, avg (400+501)/2 = 450.5
   *   gpt-4o: a1 a2 a4 f1 = 4 requests, 4100 / 2600 / 6700, 0.0075+0.01375+0.0125+0.00125 = 0.035
   *   claude: a3 = 1 request, 1000 / 200 / 1200, 0.006
   *   February: a1; March: a2 a3 a4 f1 = 4100 / 2300 / 6400, 0.01375+0.006+0.0125+0.00125 = 0.0335
   */
  it('gives totals, zero-filled daily and monthly buckets, models and the latest records', async () => {
    const body = await detail('alice', { from: '2026-02-01T00:00:00Z', to: '2026-04-01T00:00:00Z' });
    expect(body.range).toEqual({
      from: '2026-02-01T00:00:00.000Z',
      to: '2026-04-01T00:00:00.000Z',
      tz: 'UTC',
      granularity: 'day',
    });
    expect(body.userId).toBe('alice');
    expect(body.lastActiveAt).toBe('2026-03-31T12:30:00.000Z');
    expect(body.status).toBe('active');
    expect(body.totals).toEqual({
      requests: 5,
      inputTokens: 5100,
      outputTokens: 2800,
      cachedInputTokens: 1000,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
      totalTokens: 7900,
      errors: 0,
      errorRate: 0,
      avgDurationMs: 450.5,
      cost: '0.041',
      unpricedRequests: 0,
    });
    // 28 days of February + 31 of March = 59 buckets, four of them with usage
    const used: Record<string, Bucket> = {
      '2026-02-28T00:00:00.000Z': {
        bucketStart: '2026-02-28T00:00:00.000Z',
        requests: 1,
        inputTokens: 1000,
        outputTokens: 500,
        totalTokens: 1500,
        cost: '0.0075',
      },
      '2026-03-02T00:00:00.000Z': {
        bucketStart: '2026-03-02T00:00:00.000Z',
        requests: 1,
        inputTokens: 2000,
        outputTokens: 1000,
        totalTokens: 3000,
        cost: '0.01375',
      },
      '2026-03-30T00:00:00.000Z': {
        bucketStart: '2026-03-30T00:00:00.000Z',
        requests: 1,
        inputTokens: 1000,
        outputTokens: 200,
        totalTokens: 1200,
        cost: '0.006',
      },
      '2026-03-31T00:00:00.000Z': {
        bucketStart: '2026-03-31T00:00:00.000Z',
        requests: 2,
        inputTokens: 1100,
        outputTokens: 1100,
        totalTokens: 2200,
        cost: '0.01375',
      },
    };
    expect(body.daily).toEqual(
      utcDays('2026-02-01T00:00:00Z', '2026-04-01T00:00:00Z').map((day) => used[day] ?? zeroBucket(day)),
    );
    expect(body.daily).toHaveLength(59);
    expect(body.monthly).toEqual([
      {
        bucketStart: '2026-02-01T00:00:00.000Z',
        requests: 1,
        inputTokens: 1000,
        outputTokens: 500,
        totalTokens: 1500,
        cost: '0.0075',
      },
      {
        bucketStart: '2026-03-01T00:00:00.000Z',
        requests: 4,
        inputTokens: 4100,
        outputTokens: 2300,
        totalTokens: 6400,
        cost: '0.0335',
      },
    ]);
    expect(body.models).toEqual([
      {
        provider: 'openai',
        model: 'gpt-4o',
        requests: 4,
        inputTokens: 4100,
        outputTokens: 2600,
        totalTokens: 6700,
        cost: '0.035',
      },
      {
        provider: 'anthropic',
        model: 'claude-3-5-sonnet',
        requests: 1,
        inputTokens: 1000,
        outputTokens: 200,
        totalTokens: 1200,
        cost: '0.006',
      },
    ]);
    expect(body.recent.map((r) => r.requestId)).toEqual(['f1', 'a4', 'a3', 'a2', 'a1']);
    expect(body.recent[0]).toEqual({
      requestId: 'f1',
      occurredAt: '2026-03-31T12:30:00.000Z',
      userId: 'alice',
      provider: 'openai',
      model: 'gpt-4o',
      operation: null,
      inputTokens: 100,
      outputTokens: 100,
      totalTokens: 200,
      durationMs: null,
      success: true,
      error: null,
      tokenSource: 'reported',
      cost: '0.00125',
      costStatus: 'computed',
    });
    expect(body.recent[3]).toMatchObject({ requestId: 'a2', operation: 'chat', durationMs: 400, cost: '0.01375' });
  });

  it('buckets days and months at Berlin midnights; granularity is not a parameter here', async () => {
    // Berlin's March: [02-28T23:00Z, 03-31T22:00Z) holds all five of alice's records; a1 is
    // 00:30 on March 1st local. 31 local days, March 29th is 23 hours long.
    const body = await detail('alice', {
      from: '2026-02-28T23:00:00Z',
      to: '2026-03-31T22:00:00Z',
      tz: 'Europe/Berlin',
      granularity: 'hour',
    });
    expect(body.range.granularity).toBe('day');
    expect(body.daily).toHaveLength(31);
    expect(body.daily[0]).toEqual({
      bucketStart: '2026-02-28T23:00:00.000Z',
      requests: 1,
      inputTokens: 1000,
      outputTokens: 500,
      totalTokens: 1500,
      cost: '0.0075',
    });
    // days 28, 29 (23 h), 30 and 31 start at 27T23, 28T23, 29T22, 30T22
    expect(body.daily.slice(27).map((b) => b.bucketStart)).toEqual([
      '2026-03-27T23:00:00.000Z',
      '2026-03-28T23:00:00.000Z',
      '2026-03-29T22:00:00.000Z',
      '2026-03-30T22:00:00.000Z',
    ]);
    // a4 (09:00Z) and f1 (12:30Z) on the 31st; a3 on the 30th
    expect(body.daily.slice(29).map((b) => [b.requests, b.totalTokens])).toEqual([
      [1, 1200],
      [2, 2200],
    ]);
    expect(body.monthly).toEqual([
      {
        bucketStart: '2026-02-28T23:00:00.000Z',
        requests: 5,
        inputTokens: 5100,
        outputTokens: 2800,
        totalTokens: 7900,
        cost: '0.041',
      },
    ]);
  });

  it('narrows the detail with provider and model filters', async () => {
    const body = await detail('alice', {
      from: '2026-02-01T00:00:00Z',
      to: '2026-04-01T00:00:00Z',
      provider: 'anthropic',
    });
    expect(body.totals).toMatchObject({ requests: 1, totalTokens: 1200, cost: '0.006' });
    expect(body.models.map((m) => m.model)).toEqual(['claude-3-5-sonnet']);
    expect(body.recent.map((r) => r.requestId)).toEqual(['a3']);
    expect(body.monthly.map((b) => b.totalTokens)).toEqual([0, 1200]);
  });

  it('shows at most the 50 latest records, newest first', async () => {
    const body = await detail('zed', {}, adminOf(t, 'busy'));
    expect(body.totals).toMatchObject({ requests: 55, totalTokens: 550, cost: '0.001375' });
    expect(body.recent).toHaveLength(50);
    expect(body.recent[0]).toMatchObject({ requestId: 'z55', occurredAt: '2026-03-25T10:54:00.000Z' });
    expect(body.recent.at(-1)).toMatchObject({ requestId: 'z06', occurredAt: '2026-03-25T10:05:00.000Z' });
    // default range: 31 days (03-01 … 03-31), one month
    expect(body.daily).toHaveLength(31);
    expect(body.monthly).toHaveLength(1);
    expect(body.status).toBe('active');
  });

  it('answers a known user with an empty range with zeros, zero-filled buckets and no records', async () => {
    const body = await detail('dave', { from: '2025-01-01T00:00:00Z', to: '2025-01-08T00:00:00Z' });
    expect(body.lastActiveAt).toBe('2026-03-20T13:00:00.000Z');
    expect(body.status).toBe('inactive');
    expect(body.totals).toMatchObject({
      requests: 0,
      totalTokens: 0,
      cost: '0',
      unpricedRequests: 0,
      avgDurationMs: null,
    });
    expect(body.daily).toEqual(utcDays('2025-01-01T00:00:00Z', '2025-01-08T00:00:00Z').map(zeroBucket));
    expect(body.monthly).toEqual([zeroBucket('2025-01-01T00:00:00.000Z')]);
    expect(body.models).toEqual([]);
    expect(body.recent).toEqual([]);
  });

  it('answers 404 for a user without any usage in the workspace', async () => {
    for (const userId of ['nobody', 'Alice', 'zed']) {
      const res = await get<{ code: string }>(t, `/v1/admin/usage/users/${userId}`, admin);
      expect(res.status, userId).toBe(404);
    }
  });
});
