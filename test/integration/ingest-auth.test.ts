import { generateKeyPairSync } from 'node:crypto';
import { createSigner } from 'fast-jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, TEST_JWT_SECRET, type TestApp } from '../support/test-app';

/** 401 and 403 paths of JWT auth, and who may record usage for whom. */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const nowSeconds = () => Math.floor(Date.now() / 1000);
const claims = { sub: 'alice', role: 'admin', workspaceId: 'default' };

const signWith = (key: string, payload: Record<string, unknown>, algorithm: 'HS256' | 'HS512' = 'HS256') =>
  createSigner({ key, algorithm })(payload);

/** POST /v1/usage/records with one record, whatever the answer. */
const post = (headers: Record<string, string>) =>
  t.app.inject({ method: 'POST', url: '/v1/usage/records', headers, payload: { records: [usageRecord()] } });

async function rowCount(): Promise<number> {
  const [row] = (await t.db.query('SELECT count(*)::int AS n FROM usage_records')) as Array<{ n: number }>;
  return row!.n;
}

async function expect401(headers: Record<string, string>, message?: string | RegExp) {
  const before = await rowCount();
  for (const res of [
    await post(headers),
    await t.app.inject({ method: 'GET', url: '/v1/admin/models', headers }),
    await t.app.inject({ method: 'GET', url: '/v1/admin/api-keys', headers }),
  ]) {
    expect(res.statusCode, res.body).toBe(401);
    const body = res.json() as Record<string, unknown>;
    expect(body).toEqual({ statusCode: 401, code: 'unauthorized', message: expect.any(String) });
    if (message) expect(body.message).toMatch(message);
  }
  expect(await rowCount()).toBe(before);
}

describe('401: no or bad credentials', () => {
  it('without any token, with the shared error shape', async () => {
    await expect401({}, 'authentication required: send Authorization: Bearer <JWT>');
  });

  it('with a malformed Authorization header', async () => {
    await expect401({ authorization: 'Bearer not-a-jwt' }, 'invalid token');
    await expect401({ authorization: 'Basic YWxpY2U6c2VjcmV0' });
    await expect401({ authorization: 'Bearer ' });
  });

  it('with a token signed with another secret', async () => {
    const token = signWith('another-secret-that-is-also-long-enough-0123456789', claims);
    await expect401(bearer(token), 'invalid token');
  });

  it('with an expired token', async () => {
    const token = signWith(TEST_JWT_SECRET, { ...claims, iat: nowSeconds() - 120, exp: nowSeconds() - 60 });
    await expect401(bearer(token), 'token expired');
  });

  it('with an alg "none" token (unsigned)', async () => {
    const payload = b64url({ ...claims, iat: nowSeconds(), exp: nowSeconds() + 3600 });
    await expect401(bearer(`${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.`));
    await expect401(bearer(`${b64url({ alg: 'none' })}.${payload}`));
  });

  it('with the right secret but another algorithm than HS256', async () => {
    await expect401(bearer(signWith(TEST_JWT_SECRET, claims, 'HS512')));
  });

  it('with an RS256 token from a key pair we do not know', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const token = createSigner({
      key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      algorithm: 'RS256',
    })(claims);
    await expect401(bearer(token));
  });

  it('with a tampered payload', async () => {
    const [header, , signature] = t.token('bob', { role: 'member' }).split('.');
    await expect401(bearer(`${header}.${b64url({ ...claims, sub: 'bob' })}.${signature}`), 'invalid token');
  });

  it('with a token that has no sub, or an empty one', async () => {
    await expect401(bearer(signWith(TEST_JWT_SECRET, { role: 'admin' })), 'token has no valid "sub" claim');
    await expect401(bearer(signWith(TEST_JWT_SECRET, { ...claims, sub: '' })), /"sub"/);
    await expect401(bearer(signWith(TEST_JWT_SECRET, { ...claims, sub: 42 })), /"sub"/);
    // text no user id may hold: a NUL failed every statement (500), a lone surrogate was stored
    // as U+FFFD and shared that user's records
    await expect401(bearer(signWith(TEST_JWT_SECRET, { ...claims, sub: 'a\u0000b' })), /"sub"/);
    await expect401(bearer(signWith(TEST_JWT_SECRET, { ...claims, sub: 'carol\ud800' })), /"sub"/);
  });

  it('with a role that is neither admin nor member', async () => {
    await expect401(
      bearer(signWith(TEST_JWT_SECRET, { ...claims, role: 'owner' })),
      'token "role" must be admin or member',
    );
    await expect401(bearer(signWith(TEST_JWT_SECRET, { ...claims, role: ['admin'] })), /"role"/);
  });

  it('with a workspaceId claim that is not a valid workspace id', async () => {
    await expect401(bearer(signWith(TEST_JWT_SECRET, { ...claims, workspaceId: '' })), /workspaceId/);
    await expect401(bearer(signWith(TEST_JWT_SECRET, { ...claims, workspaceId: 'a b/c' })), /workspaceId/);
  });

  it('with an X-API-Key that is not a key', async () => {
    await expect401({ 'x-api-key': 'tt_nonsense' });
  });
});

describe('defaults of the claims', () => {
  it('treats a token without role and workspaceId as a member of "default"', async () => {
    const token = signWith(TEST_JWT_SECRET, { sub: 'carol' });
    await ingest(t, bearer(token), [usageRecord({ requestId: 'claims-default' })], { expectAccepted: true });
    const rows = (await t.db.query(
      `SELECT workspace_id, user_id FROM usage_records WHERE request_id = 'claims-default'`,
    )) as Array<{ workspace_id: string; user_id: string }>;
    expect(rows).toEqual([{ workspace_id: 'default', user_id: 'carol' }]);
    const admin = await t.app.inject({ method: 'GET', url: '/v1/admin/models', headers: bearer(token) });
    expect(admin.statusCode).toBe(403);
  });
});

describe('403: a member on admin routes', () => {
  const member = () => bearer(t.token('bob', { role: 'member' }));

  it.each([
    ['GET', '/v1/admin/api-keys', undefined],
    ['POST', '/v1/admin/api-keys', { name: 'sneaky' }],
    ['DELETE', '/v1/admin/api-keys/00000000-0000-4000-8000-000000000000', undefined],
    ['GET', '/v1/admin/models', undefined],
    [
      'POST',
      '/v1/admin/models',
      {
        provider: 'acmeai',
        model: 'sneaky',
        price: { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion: '0', outputPerMillion: '0' },
      },
    ],
  ] as const)('%s %s → 403', async (method, url, payload) => {
    const res = await t.app.inject({ method, url, headers: member(), ...(payload ? { payload } : {}) });
    expect(res.statusCode, res.body).toBe(403);
    expect(res.json()).toEqual({ statusCode: 403, code: 'forbidden', message: 'this endpoint needs the admin role' });
  });

  it('writes nothing through a refused admin call', async () => {
    const [row] = (await t.db.query(
      `SELECT (SELECT count(*) FROM api_keys)::int AS keys, (SELECT count(*) FROM models WHERE workspace_id <> '')::int AS models`,
    )) as Array<{ keys: number; models: number }>;
    expect(row).toEqual({ keys: 0, models: 0 });
  });
});

describe('whose usage a caller may record', () => {
  it("stores a member's records as theirs when userId is left out", async () => {
    await ingest(t, bearer(t.token('bob')), [usageRecord({ requestId: 'member-own-1' })], { expectAccepted: true });
    const rows = (await t.db.query(`SELECT user_id FROM usage_records WHERE request_id = 'member-own-1'`)) as Array<{
      user_id: string;
    }>;
    expect(rows).toEqual([{ user_id: 'bob' }]);
  });

  it("rejects a member's record for another user at /userId and keeps their own", async () => {
    const reply = await ingest(t, bearer(t.token('bob')), [
      usageRecord({ requestId: 'member-mix-0', userId: 'bob' }),
      usageRecord({ requestId: 'member-mix-1', userId: 'alice' }),
      usageRecord({ requestId: 'member-mix-2' }),
    ]);
    expect(reply).toEqual({
      accepted: 2,
      duplicates: 0,
      rejected: [
        {
          index: 1,
          requestId: 'member-mix-1',
          errors: [{ path: '/userId', message: 'members may only record their own usage' }],
        },
      ],
    });
    const rows = (await t.db.query(
      `SELECT request_id, user_id FROM usage_records WHERE request_id LIKE 'member-mix-%' ORDER BY 1`,
    )) as Array<{ request_id: string; user_id: string }>;
    expect(rows).toEqual([
      { request_id: 'member-mix-0', user_id: 'bob' },
      { request_id: 'member-mix-2', user_id: 'bob' },
    ]);
  });

  it('lets an admin record usage for any user, and defaults to the admin', async () => {
    const records = [
      usageRecord({ requestId: 'admin-for-0', userId: 'alice' }),
      usageRecord({ requestId: 'admin-for-1', userId: 'zed' }),
      usageRecord({ requestId: 'admin-for-2' }),
    ];
    await ingest(t, bearer(t.token('root', { role: 'admin' })), records, { expectAccepted: true });
    const rows = (await t.db.query(
      `SELECT request_id, user_id FROM usage_records WHERE request_id LIKE 'admin-for-%' ORDER BY 1`,
    )) as Array<{ request_id: string; user_id: string }>;
    expect(rows.map((r) => r.user_id)).toEqual(['alice', 'zed', 'root']);
  });
});
