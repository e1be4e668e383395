import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/** API keys: created once, listed without secrets, scoped to a workspace, revoked at once. */
let t: TestApp;
let acme: Record<string, string>;
let globex: Record<string, string>;

beforeAll(async () => {
  t = await createTestApp();
  acme = bearer(t.token('acme-admin', { role: 'admin', workspaceId: 'acme' }));
  globex = bearer(t.token('globex-admin', { role: 'admin', workspaceId: 'globex' }));
});
afterAll(async () => t.close());

interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  createdBy: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

async function createKey(headers: Record<string, string>, name: string): Promise<{ key: string; apiKey: ApiKeyView }> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/admin/api-keys', headers, payload: { name } });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { key: string; apiKey: ApiKeyView };
}

async function listKeys(headers: Record<string, string>): Promise<{ body: string; items: ApiKeyView[] }> {
  const res = await t.app.inject({ method: 'GET', url: '/v1/admin/api-keys', headers });
  expect(res.statusCode, res.body).toBe(200);
  return { body: res.body, items: (res.json() as { items: ApiKeyView[] }).items };
}

const revoke = (headers: Record<string, string>, id: string) =>
  t.app.inject({ method: 'DELETE', url: `/v1/admin/api-keys/${id}`, headers });

/** POST /v1/usage/records with an API key, whatever the answer. */
const postWithKey = (key: string, records: object[]) =>
  t.app.inject({ method: 'POST', url: '/v1/usage/records', headers: { 'x-api-key': key }, payload: { records } });

describe('API keys', () => {
  it('returns the key once on creation, and the list shows only its prefix', async () => {
    const created = await createKey(acme, 'billing-backend');
    expect(created.apiKey).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: 'billing-backend',
      prefix: expect.any(String),
      createdBy: 'acme-admin',
      createdAt: expect.any(String),
      lastUsedAt: null,
      revokedAt: null,
    });
    expect(created.key).toMatch(/^tt_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(created.apiKey.prefix.endsWith('…')).toBe(true);
    expect(created.key.startsWith(created.apiKey.prefix.slice(0, -1))).toBe(true);
    expect(created.apiKey.prefix.length).toBeLessThan(created.key.length / 2);

    const { body, items } = await listKeys(acme);
    expect(items).toEqual([created.apiKey]);
    const secret = created.key.split('.')[1]!;
    expect(body).not.toContain(secret);
    expect(body).not.toContain(created.key);
    expect(items[0]).not.toHaveProperty('key');
  });

  it('stores only a hash of the secret', async () => {
    const created = await createKey(acme, 'hash-check');
    const secret = created.key.split('.')[1]!;
    const rows = (await t.db.query(`SELECT * FROM api_keys WHERE id = $1`, [created.apiKey.id])) as Array<
      Record<string, unknown>
    >;
    expect(rows).toHaveLength(1);
    const stored = JSON.stringify(rows[0], (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v));
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(Buffer.from(secret).toString('hex'));
    expect(rows[0]!.workspace_id).toBe('acme');
  });

  it('ingests with X-API-Key into the workspace of the key; every record must name its userId', async () => {
    const { key } = await createKey(acme, 'ingest');
    const reply = await ingest(t, { 'x-api-key': key }, [
      usageRecord({ requestId: 'key-rec-0', userId: 'alice' }),
      usageRecord({ requestId: 'key-rec-1' }),
    ]);
    expect(reply).toEqual({
      accepted: 1,
      duplicates: 0,
      rejected: [
        {
          index: 1,
          requestId: 'key-rec-1',
          errors: [{ path: '/userId', message: 'userId is required when ingesting with an API key' }],
        },
      ],
    });
    const rows = (await t.db.query(
      `SELECT workspace_id, user_id FROM usage_records WHERE request_id LIKE 'key-rec-%'`,
    )) as Array<{
      workspace_id: string;
      user_id: string;
    }>;
    expect(rows).toEqual([{ workspace_id: 'acme', user_id: 'alice' }]);
    const { items } = await listKeys(acme);
    expect(items.find((k) => k.name === 'ingest')!.lastUsedAt).not.toBeNull();
  });

  it('stops working at once when revoked (204), and cannot be revoked twice (404)', async () => {
    const { key, apiKey } = await createKey(acme, 'short-lived');
    await ingest(t, { 'x-api-key': key }, [usageRecord({ requestId: 'revoke-0', userId: 'alice' })]);

    const res = await revoke(acme, apiKey.id);
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');

    const after = await postWithKey(key, [usageRecord({ requestId: 'revoke-1', userId: 'alice' })]);
    expect(after.statusCode).toBe(401);
    expect(after.json()).toEqual({ statusCode: 401, code: 'unauthorized', message: 'invalid or revoked API key' });
    const rows = (await t.db.query(
      `SELECT request_id FROM usage_records WHERE request_id LIKE 'revoke-%'`,
    )) as unknown[];
    expect(rows).toHaveLength(1);

    const listed = (await listKeys(acme)).items.find((k) => k.id === apiKey.id)!;
    expect(listed.revokedAt).not.toBeNull();
    expect((await revoke(acme, apiKey.id)).statusCode).toBe(404);
  });

  it('answers 404 for revoking an unknown id, 400 for an id that is no UUID', async () => {
    const res = await revoke(acme, '00000000-0000-4000-8000-000000000000');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ statusCode: 404, code: 'not_found' });
    expect((await revoke(acme, 'not-a-uuid')).statusCode).toBe(400);
  });

  it('does not let an API key call admin routes (401)', async () => {
    const { key, apiKey } = await createKey(acme, 'not-an-admin');
    const headers = { 'x-api-key': key };
    for (const res of [
      await t.app.inject({ method: 'GET', url: '/v1/admin/api-keys', headers }),
      await t.app.inject({ method: 'POST', url: '/v1/admin/api-keys', headers, payload: { name: 'more' } }),
      await revoke(headers, apiKey.id),
      await t.app.inject({ method: 'GET', url: '/v1/admin/models', headers }),
    ]) {
      expect(res.statusCode, res.body).toBe(401);
      expect(res.json()).toMatchObject({ statusCode: 401, code: 'unauthorized' });
    }
    expect((await listKeys(acme)).items.find((k) => k.id === apiKey.id)!.revokedAt).toBeNull();
  });

  it('rejects a key whose secret was altered, or that names another workspace', async () => {
    const { key } = await createKey(acme, 'tamper');
    const [prefix, secret] = key.split('.') as [string, string];
    const altered = `${prefix}.${secret[0] === 'A' ? 'B' : 'A'}${secret.slice(1)}`;
    expect((await postWithKey(altered, [usageRecord({ userId: 'a' })])).statusCode).toBe(401);
    const otherWorkspace = `tt_${Buffer.from('globex').toString('base64url')}.${secret}`;
    expect((await postWithKey(otherWorkspace, [usageRecord({ userId: 'a' })])).statusCode).toBe(401);
  });

  it("keeps each workspace's keys to itself: not listed, not revocable from another workspace", async () => {
    const { key, apiKey } = await createKey(acme, 'acme-only');
    const { items } = await listKeys(globex);
    expect(items.map((k) => k.id)).not.toContain(apiKey.id);
    expect(items).toEqual([]);

    const res = await revoke(globex, apiKey.id);
    expect(res.statusCode).toBe(404);
    // still active in its own workspace
    expect(
      await ingest(t, { 'x-api-key': key }, [usageRecord({ requestId: 'still-works', userId: 'alice' })]),
    ).toMatchObject({
      accepted: 1,
    });
    expect((await listKeys(acme)).items.find((k) => k.id === apiKey.id)!.revokedAt).toBeNull();
  });

  it('rejects a blank or missing key name', async () => {
    for (const payload of [{ name: '' }, {}, { name: 'x'.repeat(101) }]) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/admin/api-keys', headers: acme, payload });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'validation_failed', details: [{ path: '/name' }] });
    }
  });
});
