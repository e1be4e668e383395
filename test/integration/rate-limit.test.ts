import type { FastifyRequest, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRateLimit } from '../../src/infrastructure/config';
import { rateLimitKey } from '../../src/interface/http/rate-limit';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

const MAX = 3;
let sequence = 0;

const oneRecord = () => ({
  records: [
    {
      requestId: `rl-${++sequence}`,
      userId: 'alice',
      provider: 'openai',
      model: 'gpt-4o-2024-08-06',
      inputTokens: 10,
      outputTokens: 5,
    },
  ],
});

async function createKey(t: TestApp, name: string, workspaceId = 'default'): Promise<string> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/admin/api-keys',
    headers: bearer(t.token(`admin-of-${name}`, { role: 'admin', workspaceId })),
    payload: { name },
  });
  expect(res.statusCode, res.body).toBe(201);
  return (res.json() as { key: string }).key;
}

const ingest = (t: TestApp, key: string, payload: unknown = oneRecord()) =>
  t.app.inject({ method: 'POST', url: '/v1/usage/records', headers: { 'x-api-key': key }, payload: payload as object });

const config = (t: TestApp, token: string) =>
  t.app.inject({ method: 'GET', url: '/v1/usage/config', headers: bearer(token) });

function expectLimited(res: LightMyRequestResponse, windowSeconds: number): void {
  expect(res.statusCode, res.body).toBe(429);
  expect(res.json()).toEqual({ statusCode: 429, code: 'rate_limited', message: expect.stringContaining('retry in') });
  const retryAfter = Number(res.headers['retry-after']);
  expect(Number.isInteger(retryAfter)).toBe(true);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(windowSeconds);
  expect(res.headers['x-ratelimit-limit']).toBe(String(MAX));
  expect(res.headers['x-ratelimit-remaining']).toBe('0');
  expect(res.headers['x-ratelimit-reset']).toBe(String(retryAfter));
}

describe('rate limit per API key and per user', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ rateLimit: { enabled: true, max: MAX, windowMs: 60_000 } });
  });
  afterAll(async () => t?.close());

  it('answers the (N+1)th request of one API key with 429; other keys and users are unaffected', async () => {
    const first = await createKey(t, 'first');
    const second = await createKey(t, 'second');
    for (let i = 1; i <= MAX; i++) {
      const res = await ingest(t, first);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBe(String(MAX));
      expect(res.headers['x-ratelimit-remaining']).toBe(String(MAX - i));
    }
    const limited = await ingest(t, first);
    expectLimited(limited, 60);
    // counted before the body is read: a limited client's batch is never parsed or validated
    expectLimited(await ingest(t, first, { records: 'not a batch' }), 60);

    expect((await ingest(t, second)).statusCode).toBe(200);
    const alice = t.token('alice');
    for (let i = 0; i < MAX; i++) expect((await config(t, alice)).statusCode).toBe(200);
    expectLimited(await config(t, alice), 60);
    // the same user id in another workspace is another caller
    expect((await config(t, t.token('alice', { workspaceId: 'acme' }))).statusCode).toBe(200);
    // and so is a user whose workspace and id joined with ':' read like another's
    for (let i = 0; i < MAX; i++) {
      expect((await config(t, t.token('eu:bob', { workspaceId: 'acme' }))).statusCode).toBe(200);
    }
    expect((await config(t, t.token('bob', { workspaceId: 'acme:eu' }))).statusCode).toBe(200);
    expect((await config(t, t.token('bob'))).statusCode).toBe(200);
    expect((await ingest(t, first)).statusCode).toBe(429);
  });

  it('never limits the health checks, the OpenAPI document or the docs', async () => {
    for (let i = 0; i < MAX * 4; i++) {
      for (const url of ['/health', '/health/ready', '/openapi.json', '/docs', '/docs/']) {
        const res = await t.app.inject({ method: 'GET', url });
        expect(res.statusCode, url).not.toBe(429);
        expect(res.statusCode, url).toBeLessThan(400);
        expect(res.headers['x-ratelimit-limit'], url).toBeUndefined();
      }
    }
  });

  it('does not count a request that authentication refused', async () => {
    for (let i = 0; i < MAX * 2; i++) {
      expect((await ingest(t, 'tt_not-a-key')).statusCode).toBe(401);
    }
  });

  it('documents 429 on every limited operation, and on no health check', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>>;
    };
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        const where = `${method.toUpperCase()} ${path}`;
        if (path.startsWith('/health')) expect(op.responses['429'], where).toBeUndefined();
        else expect(op.responses['429']?.description, where).toContain('Retry-After');
      }
    }
  });
});

describe('rate limit window', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ rateLimit: { enabled: true, max: MAX, windowMs: 2_000 } });
  });
  afterAll(async () => t?.close());

  it('lets the caller in again once the window has passed', async () => {
    const carol = t.token('carol');
    for (let i = 0; i < MAX; i++) expect((await config(t, carol)).statusCode).toBe(200);
    const limited = await config(t, carol);
    expectLimited(limited, 2);
    await new Promise((resolve) => setTimeout(resolve, Number(limited.headers['retry-after']) * 1000 + 100));
    const again = await config(t, carol);
    expect(again.statusCode, again.body).toBe(200);
    expect(again.headers['x-ratelimit-remaining']).toBe(String(MAX - 1));
  });
});

describe('default rate limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ rateLimit: loadRateLimit({}) });
  });
  afterAll(async () => t?.close());

  it('lets one API key send a burst of 5,000 requests', async () => {
    const key = await createKey(t, 'bench');
    const statuses = new Map<number, number>();
    const BURST = 5_000;
    for (let sent = 0; sent < BURST; sent += 100) {
      // an empty batch is refused after the limit is counted, without a database write
      const answers = await Promise.all(Array.from({ length: 100 }, () => ingest(t, key, { records: [] })));
      for (const res of answers) statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    }
    expect(Object.fromEntries(statuses)).toEqual({ 400: BURST });
    const last = await ingest(t, key, { records: [] });
    expect(Number(last.headers['x-ratelimit-remaining'])).toBe(loadRateLimit({}).max - BURST - 1);
  }, 60_000);

  it('switches off with RATE_LIMIT_ENABLED=0', async () => {
    const off = await createTestApp({
      rateLimit: loadRateLimit({ RATE_LIMIT_ENABLED: '0' }),
      databaseUrl: t.databaseUrl,
    });
    try {
      const res = await off.app.inject({ method: 'GET', url: '/v1/usage/config', headers: bearer(off.token('dave')) });
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-ratelimit-limit']).toBeUndefined();
    } finally {
      await off.close(); // the database is the other app's: left to it
    }
  });
});

describe('rateLimitKey', () => {
  const request = (principal: unknown, ip = '203.0.113.7') => ({ principal, ip }) as unknown as FastifyRequest;

  it('keys API keys by key id, users by workspace and user id, anonymous callers by address', () => {
    expect(rateLimitKey(request({ kind: 'api-key', keyId: 'k1', workspaceId: 'default' }))).toBe('key:k1');
    expect(rateLimitKey(request({ kind: 'user', userId: 'alice', role: 'member', workspaceId: 'acme' }))).toBe(
      'user:["acme","alice"]',
    );
    expect(rateLimitKey(request(undefined))).toBe('ip:203.0.113.7');
    // one IPv6 client is its /64, as the plugin's own default key does
    expect(rateLimitKey(request(undefined, '2001:db8::1'))).toBe(rateLimitKey(request(undefined, '2001:db8::2')));
  });
});
