import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/test-app';

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
