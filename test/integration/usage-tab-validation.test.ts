import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../support/test-app';
import { ADMIN_ENDPOINTS, adminOf, createDatasetApp, get, memberOf, type Headers } from '../support/usage-dataset';

/**
 * Query validation and access on every Usage tab endpoint. The shared dataset
 * (test/support/usage-dataset.ts) is seeded so that /users/alice exists and a 400 is not a 404.
 * Bad ranges answer 400 with the offending field in details[].path; admin endpoints answer 403
 * to a member and 401 without (valid) credentials.
 */
let t: TestApp;
let admin: Headers;
let member: Headers;

beforeAll(async () => {
  t = await createDatasetApp();
  admin = adminOf(t);
  member = memberOf(t, 'alice');
});
afterAll(async () => t.close());

type ErrorBody = {
  statusCode: number;
  code: string;
  message: string;
  details?: Array<{ path: string; message: string }>;
};

/** Every endpoint taking the common range query, with the caller allowed to use it. */
const RANGE_ENDPOINTS = () => [
  ...ADMIN_ENDPOINTS.map((e) => ({ ...e, headers: admin })),
  { path: '/v1/me/usage', query: {}, headers: member },
];

const BAD_RANGES: Array<{ name: string; query: Record<string, string>; path: string }> = [
  {
    name: 'from equal to to',
    query: { from: '2026-03-10T00:00:00Z', to: '2026-03-10T00:00:00Z' },
    path: '/querystring/from',
  },
  {
    name: 'from after to',
    query: { from: '2026-03-11T00:00:00Z', to: '2026-03-10T00:00:00Z' },
    path: '/querystring/from',
  },
  { name: 'an unparseable from', query: { from: 'yesterday' }, path: '/querystring/from' },
  { name: 'an unparseable to', query: { to: '2026-13-45T99:00:00Z' }, path: '/querystring/to' },
  { name: 'a date without time', query: { from: '2026-03-01' }, path: '/querystring/from' },
  // 2024-01-01 → 2026-01-03 is 733 days
  {
    name: 'a span over 2 years',
    query: { from: '2024-01-01T00:00:00Z', to: '2026-01-03T00:00:00Z' },
    path: '/querystring/from',
  },
  { name: 'an unknown time zone', query: { tz: 'Mars/Olympus' }, path: '/querystring/tz' },
  { name: 'a UTC offset instead of a zone', query: { tz: '+01:00' }, path: '/querystring/tz' },
];

describe('range validation', () => {
  for (const bad of BAD_RANGES) {
    it(`answers 400 naming the field for ${bad.name}, on every endpoint`, async () => {
      for (const endpoint of RANGE_ENDPOINTS()) {
        const res = await get<ErrorBody>(t, endpoint.path, endpoint.headers, { ...endpoint.query, ...bad.query });
        expect(res.status, `${endpoint.path} ${JSON.stringify(res.body)}`).toBe(400);
        expect(res.body.statusCode).toBe(400);
        expect(
          res.body.details?.map((d) => d.path),
          endpoint.path,
        ).toContain(bad.path);
      }
    });
  }

  it('accepts exactly 2 years (731 days, with a leap day)', async () => {
    for (const endpoint of RANGE_ENDPOINTS()) {
      const res = await get(t, endpoint.path, endpoint.headers, {
        ...endpoint.query,
        from: '2024-01-01T00:00:00Z',
        to: '2026-01-01T00:00:00Z',
        granularity: 'month',
      });
      expect(res.status, endpoint.path).toBe(200);
    }
  });

  it('rejects hourly buckets over a 2-year span and an unknown granularity', async () => {
    for (const endpoint of RANGE_ENDPOINTS().filter((e) => !e.path.startsWith('/v1/admin/usage/users/'))) {
      for (const query of [
        { from: '2024-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z', granularity: 'hour' },
        { granularity: 'decade' },
      ]) {
        const res = await get<ErrorBody>(t, endpoint.path, endpoint.headers, { ...endpoint.query, ...query });
        expect(res.status, `${endpoint.path} ${JSON.stringify(query)}`).toBe(400);
        expect(res.body.details?.map((d) => d.path)).toContain('/querystring/granularity');
      }
    }
  });

  it('answers 400 before 404 for an unknown user with a bad range', async () => {
    const res = await get<ErrorBody>(t, '/v1/admin/usage/users/nobody', admin, { tz: 'Nowhere/Land' });
    expect(res.status).toBe(400);
    expect(res.body.details?.map((d) => d.path)).toContain('/querystring/tz');
  });
});

describe('access', () => {
  it('answers 403 to a member on every admin endpoint', async () => {
    for (const { path, query } of [...ADMIN_ENDPOINTS, { path: '/v1/admin/models' }]) {
      const res = await get<ErrorBody>(t, path, member, query);
      expect(res.status, path).toBe(403);
      expect(res.body.statusCode).toBe(403);
    }
  });

  it('answers 401 without a token, with a bad token, or with a token of another signer', async () => {
    const endpoints = [...ADMIN_ENDPOINTS, { path: '/v1/me/usage' }, { path: '/v1/usage/config' }];
    const forged = admin.authorization!.slice(0, -4) + 'AAAA';
    for (const { path, query } of endpoints) {
      for (const headers of [undefined, { authorization: 'Bearer nonsense' }, { authorization: forged }]) {
        const res = await get<ErrorBody>(t, path, headers, query);
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
      }
    }
  });

  it('does not take an API key on Usage tab endpoints', async () => {
    for (const { path, query } of [...ADMIN_ENDPOINTS, { path: '/v1/me/usage' }]) {
      const res = await get(t, path, { 'x-api-key': 'tt_not_a_real_key' }, query);
      expect(res.status, path).toBe(401);
    }
  });
});
