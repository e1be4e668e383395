import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * Who may call comes before what was sent: an anonymous caller learns nothing of a route's
 * schema, and a member nothing of an admin route's. Bodies are taken as typed, never coerced.
 */
let t: TestApp;
let member: Record<string, string>;
let admin: Record<string, string>;
let operations: Array<{ method: string; path: string; operationId: string; secured: boolean; hasBody: boolean }>;

const GARBAGE_BODY = { records: 'not a list', name: 42, price: { inputPerMillion: [] }, unexpected: true };

beforeAll(async () => {
  t = await createTestApp();
  member = bearer(t.token('bob'));
  admin = bearer(t.token('root', { role: 'admin' }));
  const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, { operationId: string; security?: unknown[]; requestBody?: unknown }>>;
  };
  operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      operationId: op.operationId,
      secured: (op.security ?? []).length > 0,
      hasBody: op.requestBody !== undefined,
    })),
  );
});
afterAll(async () => t.close());

/** A request with a bad body, bad query values and bad path values. */
function garbage(operation: (typeof operations)[number], headers: Record<string, string>) {
  return t.app.inject({
    method: operation.method as 'GET',
    url: `${operation.path.replace(/\{[^}]+\}/g, 'not-a-uuid')}?from=yesterday&page=-3&granularity=fortnight`,
    headers,
    ...(operation.method === 'GET' || operation.method === 'DELETE' ? {} : { payload: GARBAGE_BODY }),
  });
}

describe('authentication and role before validation', () => {
  it('answers 401 to an anonymous caller of every secured operation, whatever it sent', async () => {
    const secured = operations.filter((op) => op.secured);
    expect(secured.length).toBeGreaterThan(10);
    for (const operation of secured) {
      const res = await garbage(operation, {});
      expect(res.statusCode, `${operation.operationId}: ${res.body}`).toBe(401);
      // the proxy answers in the provider's own error shape, so that the provider's SDK reads it
      if (operation.path.startsWith('/proxy/')) expect(res.json()).toMatchObject({ error: expect.anything() });
      else expect(res.json()).toMatchObject({ code: 'unauthorized' });
      expect(res.body).not.toMatch(/querystring|must be|details/);
    }
  });

  it('answers 401 to a caller with an invalid token, before looking at the body', async () => {
    for (const operation of operations.filter((op) => op.secured && op.hasBody)) {
      const res = await garbage(operation, { authorization: 'Bearer not.a.token' });
      expect(res.statusCode, operation.operationId).toBe(401);
    }
  });

  it('answers 403 to a member calling an admin operation, whatever they sent', async () => {
    const adminOnly = operations.filter((op) => op.path.startsWith('/v1/admin/'));
    expect(adminOnly.length).toBeGreaterThan(8);
    for (const operation of adminOnly) {
      const res = await garbage(operation, member);
      expect(res.statusCode, `${operation.operationId}: ${res.body}`).toBe(403);
      expect(res.json()).toMatchObject({ code: 'forbidden' });
    }
  });

  it('still validates for an admin: the same garbage is a 400 naming fields', async () => {
    const res = await garbage(
      operations.find((op) => op.operationId === 'createApiKey')!,
      admin,
    );
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'validation_failed' });
  });
});

describe('types are coerced in query strings only', () => {
  it('reads page=2 from a query string as the number 2', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/admin/models?page=2&pageSize=1', headers: admin });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ page: 2, pageSize: 1 });
  });

  it('refuses a number where a body wants a string, instead of turning it into one', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/api-keys',
      headers: admin,
      payload: { name: 42 },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().details).toEqual([expect.objectContaining({ path: '/name' })]);
    const keys = await t.app.inject({ method: 'GET', url: '/v1/admin/api-keys', headers: admin });
    expect(keys.json().items).toEqual([]);
  });

  it('refuses price strings that only a float could read, without a check of their own', async () => {
    for (const inputPerMillion of ['1e3', '0x10', ' 2', '2.00000000000000001', 'Infinity']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/admin/models',
        headers: admin,
        payload: {
          provider: 'acme',
          model: `coerce-${inputPerMillion}`,
          price: { effectiveFrom: '2026-01-01T00:00:00Z', inputPerMillion, outputPerMillion: '1' },
        },
      });
      expect(res.statusCode, inputPerMillion).toBe(400);
      expect(res.json().details).toEqual(
        expect.arrayContaining([expect.objectContaining({ path: '/price/inputPerMillion' })]),
      );
    }
    const listed = await t.app.inject({ method: 'GET', url: '/v1/admin/models?provider=acme', headers: admin });
    expect(listed.json().items).toEqual([]);
  });

  it('refuses a boolean or a numeric string for a token count in a price-free body field', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/models',
      headers: admin,
      payload: {
        provider: 'acme',
        model: 'x',
        kind: 1,
        price: { effectiveFrom: '2026-01-01T00:00:00Z', inputPerMillion: true, outputPerMillion: '1' },
      },
    });
    expect(res.statusCode).toBe(400);
  });
});
