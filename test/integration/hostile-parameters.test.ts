import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * Every route and parameter of the OpenAPI document, fed hostile values: no answer is a 5xx,
 * every refusal is in the one error shape, and NUL names the parameter it was found in.
 */
let t: TestApp;
let admin: Record<string, string>;
let operations: Operation[];

interface Parameter {
  name: string;
  in: 'query' | 'path' | 'header';
  required?: boolean;
  schema?: { type?: string; format?: string; enum?: unknown[] };
}
interface Operation {
  method: string;
  path: string;
  operationId: string;
  parameters: Parameter[];
  hasBody: boolean;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** A valid body for each operation that takes one, so that hostile parameters reach the handler. */
const BODIES: Record<string, unknown> = {
  ingestUsageRecords: {
    records: [{ requestId: 'hostile-1', provider: 'openai', model: 'gpt-4o', inputTokens: 10, outputTokens: 5 }],
  },
  exportTraces: { resourceSpans: [{ scopeSpans: [{ spans: [] }] }] },
  createModel: {
    provider: 'acme',
    model: 'hostile',
    price: { effectiveFrom: '2026-01-01T00:00:00Z', inputPerMillion: '1', outputPerMillion: '2' },
  },
  addModelPrice: { price: { effectiveFrom: '2026-01-01T00:00:00Z', inputPerMillion: '1', outputPerMillion: '2' } },
  createApiKey: { name: 'hostile' },
  createWebhook: { url: 'https://example.com/hooks/hostile', events: ['webhook.test'] },
  testWebhook: { message: 'hostile' },
  createPlan: { name: 'hostile', monthlyTokenLimit: 1000 },
  updatePlan: { monthlyTokenLimit: 2000 },
  assignUserPlan: { planId: '00000000-0000-4000-8000-000000000000' },
  updateWorkspaceSettings: { timeZone: 'UTC' },
  createReservation: { userId: 'alice', requestId: 'hostile-reservation', estimatedTokens: 1 },
  repriceUsage: { from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z', dryRun: true },
};

/** Values a careless client or an attacker sends, as raw (already percent-encoded) query text. */
const HOSTILE_TEXT: Array<fc.Arbitrary<string>> = [
  // NUL somewhere in otherwise ordinary text
  fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 })).map(([a, b]) => `${a}\0${b}`),
  // a lone surrogate, as the bytes a WTF-8 encoder would send, and as JSON escapes
  fc.constantFrom('%ED%A0%80', 'x%ED%B0%80y', '%F0%9F', '%FF%FE', '\\ud800'),
  // 100 KB
  fc.constantFrom('a'.repeat(100_000), '%00'.repeat(1000), '9'.repeat(100_000)),
  // numbers a database column cannot hold
  fc.constantFrom('1e308', '-1', '-9223372036854775809', '9223372036854775808', '1.5', 'NaN', 'Infinity', '0x10', ''),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
  fc.double().map(String),
  // dates and zones at and past the edges
  fc.constantFrom('0000-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '+275760-09-13T00:00:00Z', '2026-02-30T00:00:00Z'),
  fc.constantFrom('Mars/Phobos', '../../etc/passwd', 'UTC+99', 'Etc/GMT+14', "'; DROP TABLE usage_records; --"),
  // prototype keys as values
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
];
const hostileText = fc.oneof(...HOSTILE_TEXT);

/** Keeps `%XX` sequences as they are and encodes the rest, so that raw bytes go out as meant. */
function encode(value: string): string {
  return value
    .split(/(%[0-9A-Fa-f]{2})/)
    .map((part, i) => (i % 2 === 1 ? part : encodeURIComponent(part.replace(/[\uD800-\uDFFF]/g, '\uFFFD'))))
    .join('');
}

function placeholder(parameter: Parameter): string {
  if (parameter.schema?.format === 'uuid') return randomUUID();
  if (parameter.schema?.type === 'integer') return '1';
  return 'alice';
}

function urlOf(operation: Operation, values: Map<string, string>, extraQuery = ''): string {
  const path = operation.path.replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const parameter = operation.parameters.find((p) => p.in === 'path' && p.name === name)!;
    return encode(values.get(name) ?? placeholder(parameter));
  });
  const query = operation.parameters
    .filter((p) => p.in === 'query' && values.has(p.name))
    .map((p) => `${encodeURIComponent(p.name)}=${encode(values.get(p.name)!)}`);
  if (extraQuery) query.push(extraQuery);
  return query.length > 0 ? `${path}?${query.join('&')}` : path;
}

async function send(operation: Operation, url: string, headers: Record<string, string> = {}) {
  const body = BODIES[operation.operationId];
  return t.app.inject({
    method: operation.method.toUpperCase() as 'GET',
    url,
    headers: { ...admin, ...headers },
    ...(body === undefined ? {} : { payload: body as object }),
  });
}

function expectAnswered(res: { statusCode: number; json(): unknown; body: string }, where: string) {
  expect(res.statusCode, `${where} → ${res.statusCode} ${res.body.slice(0, 300)}`).toBeLessThan(500);
  if (res.statusCode >= 400) {
    expect(res.json(), where).toEqual(
      expect.objectContaining({ statusCode: res.statusCode, code: expect.any(String), message: expect.any(String) }),
    );
  }
}

beforeAll(async () => {
  t = await createTestApp({ maxBatchRecords: 10 });
  admin = bearer(t.token('root', { role: 'admin' }));
  const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, { operationId: string; parameters?: Parameter[]; requestBody?: unknown }>>;
  };
  // the proxy answers in the provider's error shape and forwards bodies it never reads as
  // ours: test/integration/proxy.test.ts covers it
  operations = Object.entries(doc.paths)
    .filter(([path]) => !path.startsWith('/proxy/'))
    .flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, op]) => ({
          method,
          path,
          operationId: op.operationId,
          parameters: op.parameters ?? [],
          hasBody: op.requestBody !== undefined,
        })),
    );
});
afterAll(async () => t.close());

describe('hostile parameters, generated from the OpenAPI document', () => {
  it('has a valid body for every operation that takes one', async () => {
    const missing = operations.filter((op) => op.hasBody && !(op.operationId in BODIES)).map((op) => op.operationId);
    expect(missing).toEqual([]);
    // each body is accepted as it is (a later duplicate model answers 409, never 400)
    for (const operation of operations.filter((op) => op.hasBody && !op.path.includes('{'))) {
      const res = await send(operation, urlOf(operation, new Map()));
      expect(res.statusCode, `${operation.operationId} ${res.body}`).toBeLessThan(300);
    }
    // and the document has parameters to attack
    expect(operations.flatMap((op) => op.parameters).length).toBeGreaterThan(20);
  });

  it('never answers 5xx, for any route and any of its parameters', async () => {
    const targets = operations.flatMap((operation) =>
      operation.parameters.map((parameter) => ({ operation, parameter })),
    );
    const failures: string[] = [];
    for (const { operation, parameter } of targets) {
      const failure = await fc.check(
        fc.asyncProperty(hostileText, async (value) => {
          const where = `${operation.method.toUpperCase()} ${operation.path} ${parameter.in}:${parameter.name}=${JSON.stringify(value.slice(0, 40))}`;
          const res = await send(operation, urlOf(operation, new Map([[parameter.name, value]])));
          expectAnswered(res, where);
        }),
        { numRuns: 30 },
      );
      if (failure.failed) failures.push(String((failure.errorInstance as Error).message).split('\n')[0]!);
    }
    // every route and parameter is tried, and all that fail are listed at once
    expect(failures).toEqual([]);
    // 30 runs for each parameter of every route: the time grows with the API
  }, 120_000);

  it('never answers 5xx when several parameters are hostile at once, repeated or prototype keys added', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...operations),
        fc.array(hostileText, { minLength: 1, maxLength: 6 }),
        fc.constantFrom(
          '',
          '__proto__=x',
          '__proto__[page]=1',
          'constructor[prototype][x]=1',
          'page=1&page=2',
          'tz=UTC&tz=Europe%2FBerlin',
          'sort[]=requests',
          '%00=1',
          'toString=1',
        ),
        async (operation, values, extra) => {
          const named = new Map(operation.parameters.map((p, i) => [p.name, values[i % values.length]!]));
          const url = urlOf(operation, named, extra);
          expectAnswered(await send(operation, url), `${operation.method.toUpperCase()} ${url.slice(0, 200)}`);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('names the query parameter, path parameter or header that holds a NUL, with a 400', async () => {
    const withQuery = await t.app.inject({ method: 'GET', url: '/v1/admin/usage/users?search=%00', headers: admin });
    expect(withQuery.statusCode).toBe(400);
    expect(withQuery.json()).toMatchObject({
      code: 'validation_failed',
      details: [{ path: '/querystring/search', message: expect.stringContaining('NUL') }],
    });

    const inPath = await t.app.inject({ method: 'GET', url: '/v1/admin/usage/users/al%00ice', headers: admin });
    expect(inPath.statusCode).toBe(400);
    expect(inPath.json().details).toEqual([expect.objectContaining({ path: '/params/userId' })]);

    const inHeader = await t.app.inject({
      method: 'POST',
      url: '/v1/usage/records',
      headers: { 'x-api-key': 'tt_\0' },
      payload: BODIES.ingestUsageRecords as object,
    });
    expect(inHeader.statusCode).toBe(400);
    expect(inHeader.json().details).toEqual([expect.objectContaining({ path: '/headers/x-api-key' })]);
  });

  it('answers a lone surrogate in a header with a 400 naming it, for any route', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...operations),
        fc.constantFrom('x-api-key', 'x-request-id', 'accept-language'),
        fc.constantFrom('\uD800', 'a\uDFFFb', '\0'),
        async (operation, header, value) => {
          const res = await send(operation, urlOf(operation, new Map()), { [header]: value });
          expect(res.statusCode, `${operation.operationId} ${header}`).toBe(400);
          expect(res.json().details).toEqual([expect.objectContaining({ path: `/headers/${header}` })]);
        },
      ),
      { numRuns: 60 },
    );
  });
});
