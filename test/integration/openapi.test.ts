import { createConfig, lintFromString, type NormalizedProblem } from '@redocly/openapi-core';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/** The OpenAPI document is valid, every operation is named, tagged and summarised; docs are served locally. */
let t: TestApp;
let doc: {
  openapi: string;
  paths: Record<string, Record<string, Record<string, unknown>>>;
  tags?: Array<{ name: string }>;
  components?: { schemas?: Record<string, unknown> };
};

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

function operations(): Array<{ method: string; path: string; op: Record<string, unknown> }> {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ method, path, op })),
  );
}

beforeAll(async () => {
  t = await createTestApp();
  const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  doc = res.json();
});
afterAll(async () => t.close());

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3 document', async () => {
    expect(doc.openapi).toMatch(/^3\./);
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as Parameters<Validator['validate']>[0]);
    // one line per problem, e.g. ".../anyOf/0 must NOT have additional properties (examples)"
    const errors = typeof result.errors === 'string' ? [{ message: result.errors }] : (result.errors ?? []);
    const problems = errors.map((e: { instancePath?: string; message?: string; params?: Record<string, unknown> }) => {
      const extra = e.params?.additionalProperty ?? e.params?.missingProperty;
      return `${e.instancePath ?? ''} ${e.message ?? ''}${extra ? ` (${String(extra)})` : ''}`;
    });
    expect(problems).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('documents the routes of this service', () => {
    const names = operations().map(({ method, path }) => `${method.toUpperCase()} ${path}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'POST /v1/usage/records',
        'GET /v1/admin/models',
        'POST /v1/admin/models',
        'POST /v1/admin/models/{id}/prices',
        'GET /v1/admin/api-keys',
        'POST /v1/admin/api-keys',
        'DELETE /v1/admin/api-keys/{id}',
        'GET /health',
        'GET /health/ready',
      ]),
    );
    // the document itself and the docs UI are not API operations
    expect(names.some((n) => n.includes('/openapi.json') || n.includes('/docs'))).toBe(false);
  });

  it('gives every operation a unique operationId, tags and a summary', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThanOrEqual(9);
    const declaredTags = new Set((doc.tags ?? []).map((tag) => tag.name));
    for (const { method, path, op } of ops) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(op.operationId, where).toEqual(expect.stringMatching(/^[a-z][A-Za-z0-9]+$/));
      expect(op.tags, where).toEqual(expect.arrayContaining([expect.any(String)]));
      for (const tag of op.tags as string[]) expect(declaredTags.has(tag), `${where} tag ${tag}`).toBe(true);
      expect(typeof op.summary, where).toBe('string');
      expect((op.summary as string).length, where).toBeGreaterThan(5);
    }
    const ids = ops.map(({ op }) => op.operationId as string);
    const repeated = ids.filter((id, i) => ids.indexOf(id) !== i);
    expect(repeated).toEqual([]);
  });

  it('documents request bodies, responses and the shared error schema', () => {
    for (const { method, path, op } of operations()) {
      const where = `${method.toUpperCase()} ${path}`;
      const responses = op.responses as Record<string, { content?: Record<string, { schema?: unknown }> }>;
      expect(
        Object.keys(responses).some((status) => /^2\d\d$/.test(status)),
        where,
      ).toBe(true);
      if (path.startsWith('/v1/')) {
        expect(responses['401'], `${where} 401`).toBeDefined();
        const schema = JSON.stringify(responses['401']!.content?.['application/json']?.schema);
        expect(schema, `${where} 401 schema`).toContain('Error');
      }
      if (method === 'post') expect(op.requestBody, `${where} body`).toBeDefined();
    }
    expect(doc.components?.schemas).toHaveProperty('Error');
  });
});

/** Every place under `node` (a JSON pointer each) where `found` holds. */
function findAll(node: unknown, found: (value: Record<string, unknown>) => boolean, pointer = ''): string[] {
  if (typeof node !== 'object' || node === null) return [];
  const here = !Array.isArray(node) && found(node as Record<string, unknown>) ? [pointer] : [];
  return here.concat(
    Object.entries(node).flatMap(([key, value]) =>
      findAll(value, found, `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`),
    ),
  );
}

const isSingleValue = (schema: unknown) => {
  const s = schema as { const?: unknown; enum?: unknown[] };
  return 'const' in s || (Array.isArray(s.enum) && s.enum.length === 1);
};

describe('a contract generated clients can trust', () => {
  it("passes Redocly's recommended rules without an error", async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({
      source: JSON.stringify(doc, null, 2),
      absoluteRef: 'openapi.json',
      config,
    });
    const describeProblem = (p: NormalizedProblem) =>
      `${p.severity} ${p.ruleId}: ${p.message} at ${p.location.map((l) => l.pointer ?? '').join(', ')}`;
    expect(problems.filter((p) => p.severity === 'error').map(describeProblem)).toEqual([]);
    // the only warnings: the health checks answer no 4xx, as there is nothing a caller can get wrong
    expect(problems.filter((p) => p.severity !== 'error').map(describeProblem)).toEqual([
      'warn operation-4xx-response: Operation must have at least one `4XX` response. at #/paths/~1health/get/responses',
      'warn operation-4xx-response: Operation must have at least one `4XX` response. at #/paths/~1health~1ready/get/responses',
    ]);
  });

  it('marks every query parameter with a default, or otherwise not needed, as optional', () => {
    const query = operations().flatMap(({ method, path, op }) =>
      ((op.parameters ?? []) as Array<{ in: string; name: string; required?: boolean; schema?: { default?: unknown } }>)
        .filter((p) => p.in === 'query')
        .map((p) => ({ ...p, where: `${method.toUpperCase()} ${path} ?${p.name}` })),
    );
    const withDefault = query.filter((p) => p.schema?.default !== undefined).map((p) => p.where);
    expect(withDefault).toEqual(
      expect.arrayContaining([
        'GET /v1/admin/models ?page',
        'GET /v1/admin/models ?pageSize',
        'GET /v1/admin/usage/models ?limit',
        'GET /v1/admin/usage/users ?sort',
        'GET /v1/admin/usage/users ?order',
        'GET /v1/admin/usage/users ?page',
        'GET /v1/admin/usage/users ?pageSize',
        'GET /v1/admin/usage/activity ?limit',
      ]),
    );
    // no query parameter of this API is needed: each has a default or filters only when given
    expect(query.filter((p) => p.required !== false).map((p) => p.where)).toEqual([]);
    // a body field with a default is optional too
    const createModel = (doc.paths['/v1/admin/models']!.post!.requestBody as Record<string, unknown>).content as Record<
      string,
      { schema: { required: string[]; properties: Record<string, { default?: unknown }> } }
    >;
    const body = createModel['application/json']!.schema;
    expect(body.properties.kind!.default).toBe('language');
    expect(body.required).not.toContain('kind');
  });

  it('writes an enum as one `enum` and a null as `nullable: true`', () => {
    const enumsAsUnions = findAll(
      doc,
      (node) =>
        (Array.isArray(node.anyOf) && node.anyOf.every(isSingleValue)) ||
        (Array.isArray(node.oneOf) && node.oneOf.every(isSingleValue)),
    );
    expect(enumsAsUnions).toEqual([]);
    expect(findAll(doc, (node) => 'const' in node)).toEqual([]);
    const nullTypes = findAll(
      doc,
      (node) => node.type === 'null' || (Array.isArray(node.enum) && node.enum.includes(null)),
    );
    expect(nullTypes).toEqual([]);
    const schemas = doc.components!.schemas as Record<string, { properties: Record<string, Record<string, unknown>> }>;
    expect(schemas.UsageTotals!.properties.cost).toMatchObject({ type: 'string', nullable: true });
    expect(schemas.UsageTotals!.properties.avgDurationMs).toMatchObject({ type: 'number', nullable: true });
    expect(schemas.UsageRecordView!.properties.costStatus).toEqual({
      type: 'string',
      enum: ['computed', 'provided', 'unpriced'],
      description: expect.any(String),
    });
    const granularity = (
      doc.paths['/v1/admin/usage/providers']!.get!.parameters as Array<Record<string, unknown>>
    ).find((p) => p.name === 'granularity');
    expect(granularity?.schema).toEqual({ type: 'string', enum: ['hour', 'day', 'week', 'month'] });
  });

  it('fills in the defaults a client may leave out before the handlers run', async () => {
    const admin = bearer(t.token('root', { role: 'admin' }));
    const get = async (url: string) => {
      const res = await t.app.inject({ method: 'GET', url, headers: admin });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(200);
      return res.json();
    };
    expect(await get('/v1/admin/usage/users')).toMatchObject({ page: 1, pageSize: 20 });
    expect(await get('/v1/admin/models')).toMatchObject({ page: 1, pageSize: 100 });
    expect(await get('/v1/admin/usage/models')).toMatchObject({ models: expect.any(Array), others: null });
    expect(await get('/v1/admin/usage/activity')).toMatchObject({ items: [] });
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/models',
      headers: admin,
      payload: {
        provider: 'acmeai',
        model: 'defaults-1',
        price: { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion: '1', outputPerMillion: '2' },
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({
      kind: 'language',
      prices: [{ inputPerMillion: '1', outputPerMillion: '2', cachedInputPerMillion: null }],
    });
  });
});

describe('interactive docs', () => {
  it('serves the docs page locally', async () => {
    let res = await t.app.inject({ method: 'GET', url: '/docs' });
    for (let hops = 0; hops < 3 && res.statusCode >= 300 && res.statusCode < 400; hops += 1) {
      const location = res.headers.location as string;
      expect(location).toBeTruthy();
      // a local redirect, never to another host
      expect(location).not.toMatch(/^https?:\/\//);
      res = await t.app.inject({ method: 'GET', url: new URL(location, 'http://localhost/docs/').pathname });
    }
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toMatch(/swagger/i);
    // its scripts come from this server, not from a CDN
    const scripts = [...res.body.matchAll(/<script[^>]+src="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const src of scripts) expect(src).not.toMatch(/^(https?:)?\/\//);
  });

  it('serves the docs assets', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    expect(res.statusCode).toBe(200);
    expect(res.body.length).toBeGreaterThan(10_000);
  });
});
