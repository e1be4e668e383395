import { Validator } from '@seriousme/openapi-schema-validator';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/interface/http/app';
import { Plan } from '../../src/interface/http/routes/plans.schemas';
import { Quota } from '../../src/interface/http/routes/quota.schemas';
import { ProviderUsageResponse } from '../../src/interface/http/routes/usage-tab.schemas';
import { bearer, createTestApp, TEST_JWT_SECRET, type TestApp } from '../support/test-app';

/**
 * DEPLOYMENT_MODE=cloud hides every cost field: the cloud OpenAPI document (and so a client
 * generated from it) has none, in any component or inline schema, request or response, and a
 * cloud response serializer leaves a cost value out whatever a handler returns. The cost
 * fields looked for are those the self-hosted document has, so the check cannot pass by
 * finding nothing.
 */
interface Doc {
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: { schemas: Record<string, unknown> };
}

let selfHosted: TestApp;
let cloud: TestApp;
let selfDoc: Doc;
let cloudDoc: Doc;

async function documentOf(t: TestApp): Promise<Doc> {
  const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  return res.json();
}

beforeAll(async () => {
  selfHosted = await createTestApp();
  cloud = await createTestApp({ deploymentMode: 'cloud', databaseUrl: selfHosted.databaseUrl });
  selfDoc = await documentOf(selfHosted);
  cloudDoc = await documentOf(cloud);
});
afterAll(async () => {
  await cloud.app.close();
  await cloud.db.destroy();
  await selfHosted.close();
});

const pointer = (parent: string, key: string | number) =>
  `${parent}/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`;

/** Every name the document gives a value: object properties, parameters and enum values, each with where. */
function namesIn(node: unknown, at = ''): Array<{ name: string; at: string }> {
  if (Array.isArray(node)) return node.flatMap((item, i) => namesIn(item, pointer(at, i)));
  if (typeof node !== 'object' || node === null) return [];
  const found: Array<{ name: string; at: string }> = [];
  const schema = node as { properties?: unknown; enum?: unknown; in?: unknown; name?: unknown };
  if (typeof schema.properties === 'object' && schema.properties !== null) {
    for (const name of Object.keys(schema.properties))
      found.push({ name, at: pointer(pointer(at, 'properties'), name) });
  }
  if (Array.isArray(schema.enum)) {
    for (const value of schema.enum)
      if (typeof value === 'string') found.push({ name: value, at: pointer(at, 'enum') });
  }
  if (typeof schema.in === 'string' && typeof schema.name === 'string') found.push({ name: schema.name, at });
  for (const [key, value] of Object.entries(node)) found.push(...namesIn(value, pointer(at, key)));
  return found;
}

const LOOKS_LIKE_COST = /cost|pric|permillion/i;

/**
 * What a cloud document may still name: the UI's flag that says there is no cost, and the
 * catalog's price input, which adding a model or a price version takes in either mode (no
 * answer of a cloud service shows it back).
 */
const allowedInCloud = ({ name, at }: { name: string; at: string }) =>
  (name === 'showCost' && at.startsWith('/paths/~1v1~1usage~1config/get/responses/200/')) ||
  at.startsWith('/components/schemas/PriceInput/') ||
  (name === 'price' && /^\/paths\/~1v1~1admin~1models(~1\{id\}~1prices)?\/post\/requestBody\//.test(at));

/** The cost names of the self-hosted document. */
const costNamesOf = (doc: Doc) =>
  new Set(
    namesIn(doc)
      .filter(({ name }) => LOOKS_LIKE_COST.test(name))
      .map((n) => n.name),
  );

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];
const operationsOf = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ where: `${method.toUpperCase()} ${path}`, op })),
  );

/** Component names reached from the paths, following references through components. */
function referencedComponents(doc: Doc): Set<string> {
  const seen = new Set<string>();
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return;
    const ref = (node as { $ref?: unknown }).$ref;
    if (typeof ref === 'string' && ref.startsWith('#/components/schemas/')) {
      const name = ref.slice('#/components/schemas/'.length);
      if (!seen.has(name)) {
        seen.add(name);
        visit(doc.components.schemas[name]);
      }
    }
    for (const value of Object.values(node)) visit(value);
  };
  visit(doc.paths);
  return seen;
}

const PRICING_ONLY_COMPONENTS = [
  'Price',
  'PricingCoverage',
  'UnpricedModel',
  'RepricingRequest',
  'RepricingModelChange',
  'SkippedHours',
  'RepricingResult',
  'RepricingRun',
];

describe('the cloud OpenAPI document', () => {
  it('is looked through for the cost fields the self-hosted document has (not a vacuous check)', () => {
    const names = costNamesOf(selfDoc);
    expect([...names]).toEqual(
      expect.arrayContaining([
        'cost',
        'costStatus',
        'unpricedRequests',
        'monthlyCostLimit',
        'estimatedCost',
        'prices',
        'inputPerMillion',
        'costBefore',
        'pricedRequests',
      ]),
    );
    // the walker sees components, inline responses, request bodies, query parameters and enum values
    const where = namesIn(selfDoc).filter(({ name }) => names.has(name));
    expect(where).toEqual(
      expect.arrayContaining([
        { name: 'cost', at: '/components/schemas/UsageTotals/properties/cost' },
        {
          name: 'cost',
          at: '/paths/~1v1~1admin~1usage~1providers/get/responses/200/content/application~1json/schema/properties/providers/items/properties/cost',
        },
        {
          name: 'monthlyCostLimit',
          at: '/paths/~1v1~1admin~1plans/post/requestBody/content/application~1json/schema/properties/monthlyCostLimit',
        },
        {
          name: 'estimatedCost',
          at: '/paths/~1v1~1quota~1reservations/post/requestBody/content/application~1json/schema/properties/estimatedCost',
        },
        { name: 'cost', at: '/paths/~1v1~1admin~1usage~1users/get/parameters/8/schema/enum' },
      ]),
    );
  });

  it('names none of them, in any component or inline schema, request or response', () => {
    const selfNames = costNamesOf(selfDoc);
    const left = namesIn(cloudDoc).filter(
      (found) => (selfNames.has(found.name) || LOOKS_LIKE_COST.test(found.name)) && !allowedInCloud(found),
    );
    expect(left).toEqual([]);
  });

  it('has the self-hosted components but the pricing ones, each used by an operation', () => {
    const selfComponents = Object.keys(selfDoc.components.schemas);
    expect(selfComponents).toEqual(expect.arrayContaining(PRICING_ONLY_COMPONENTS));
    expect(Object.keys(cloudDoc.components.schemas)).toEqual(
      selfComponents.filter((name) => !PRICING_ONLY_COMPONENTS.includes(name)),
    );
    const referenced = referencedComponents(cloudDoc);
    expect(Object.keys(cloudDoc.components.schemas).filter((name) => !referenced.has(name))).toEqual([]);
  });

  it('keeps every other operation as it is, with its operationId, tags and summary', () => {
    const pricing = ['/v1/admin/models/unpriced', '/v1/admin/repricing', '/v1/admin/repricing/{id}'];
    const expected = operationsOf(selfDoc).filter(({ where }) => !pricing.some((p) => where.endsWith(` ${p}`)));
    const pick = ({ where, op }: { where: string; op: Record<string, unknown> }) => ({
      where,
      operationId: op.operationId,
      tags: op.tags,
      summary: op.summary,
      description: op.description,
      security: op.security,
      statuses: Object.keys(op.responses as object),
    });
    expect(operationsOf(cloudDoc).map(pick)).toEqual(expected.map(pick));
    expect(expected.length).toBeGreaterThan(30);
  });

  it('is a valid OpenAPI 3 document', async () => {
    const result = await new Validator().validate(
      structuredClone(cloudDoc) as unknown as Parameters<Validator['validate']>[0],
    );
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });
});

describe('cost fields a cloud request sends anyway', () => {
  const admin = () => bearer(cloud.token('root', { role: 'admin' }));

  it('are refused by name where the service refuses them', async () => {
    const plan = await cloud.app.inject({
      method: 'POST',
      url: '/v1/admin/plans',
      headers: admin(),
      payload: { name: 'cloud-priced', monthlyCostLimit: '10' },
    });
    expect(plan.statusCode).toBe(400);
    expect(plan.json().details).toEqual([
      { path: '/monthlyCostLimit', message: 'not accepted when DEPLOYMENT_MODE=cloud' },
    ]);
    const reservation = await cloud.app.inject({
      method: 'POST',
      url: '/v1/quota/reservations',
      headers: admin(),
      payload: { userId: 'root', requestId: 'cloud-estimate', estimatedTokens: 10, estimatedCost: '0.50' },
    });
    expect(reservation.statusCode).toBe(400);
    expect(reservation.json().details).toEqual([
      { path: '/estimatedCost', message: 'not accepted when DEPLOYMENT_MODE=cloud' },
    ]);
    const sorted = await cloud.app.inject({ method: 'GET', url: '/v1/admin/usage/users?sort=cost', headers: admin() });
    expect(sorted.statusCode).toBe(400);
    expect(sorted.json().details.map((d: { path: string }) => d.path)).toEqual(['/querystring/sort']);
  });

  it('is still taken on a usage record (kept, never shown), as clients that send it did before', async () => {
    const res = await cloud.app.inject({
      method: 'POST',
      url: '/v1/usage/records',
      headers: admin(),
      payload: {
        records: [
          {
            requestId: 'cloud-cost-1',
            provider: 'openai',
            model: 'gpt-4o',
            inputTokens: 1,
            outputTokens: 1,
            cost: '0.01',
          },
        ],
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ accepted: 1, rejected: [] });
  });
});

describe('a cloud response serializer', () => {
  /** An app of the given mode with one more route, whose handler returns cost in every place the schemas have it. */
  async function appWithPricedRoute(t: TestApp, deploymentMode: 'cloud' | 'self-hosted'): Promise<FastifyInstance> {
    const app = await buildApp({
      container: t.container,
      jwt: { secret: TEST_JWT_SECRET },
      deploymentMode,
      maxBatchRecords: 1000,
      logLevel: 'silent',
    });
    app.get(
      '/test/priced',
      {
        schema: {
          response: {
            200: Type.Object({ plan: Type.Ref(Plan), quota: Type.Ref(Quota), providers: ProviderUsageResponse }),
          },
        },
      },
      async () => ({
        plan: {
          id: '00000000-0000-4000-8000-000000000001',
          name: 'pro',
          monthlyTokenLimit: null,
          monthlyCostLimit: '250.00',
          limitType: 'hard',
          alertThresholds: [80],
          requestsPerMinute: null,
          isDefault: false,
        },
        quota: {
          plan: { id: '00000000-0000-4000-8000-000000000001', name: 'pro' },
          limitType: 'hard',
          periodStart: '2026-12-01T00:00:00.000Z',
          resetsAt: '2027-01-01T00:00:00.000Z',
          status: 'ok',
          tokens: { limit: null, used: 1, reserved: 0, remaining: null, usagePercentage: null },
          cost: { limit: '250', used: '1.5', reserved: '0', remaining: '248.5', usagePercentage: 0.6 },
        },
        providers: {
          range: { from: '2026-12-01T00:00:00.000Z', to: '2026-12-02T00:00:00.000Z', tz: 'UTC', granularity: 'day' },
          providers: [{ provider: 'openai', requests: 1, totalTokens: 2, cost: '1.5', percentage: 100 }],
          series: [
            { bucketStart: '2026-12-01T00:00:00.000Z', provider: 'openai', requests: 1, totalTokens: 2, cost: '1.5' },
          ],
          unpricedRequests: 0,
        },
      }),
    );
    return app;
  }

  it('leaves out a cost value a handler returns, in shared and inline schemas alike; self-hosted keeps it', async () => {
    const answers: Record<string, Record<string, Record<string, unknown>>> = {};
    for (const [t, mode] of [
      [cloud, 'cloud'],
      [selfHosted, 'self-hosted'],
    ] as const) {
      const app = await appWithPricedRoute(t, mode);
      try {
        const res = await app.inject({ method: 'GET', url: '/test/priced' });
        expect(res.statusCode, res.body).toBe(200);
        answers[mode] = res.json();
      } finally {
        await app.close();
      }
    }
    const { cloud: cloudAnswer, 'self-hosted': selfAnswer } = answers;
    expect(selfAnswer!.plan).toHaveProperty('monthlyCostLimit', '250.00');
    expect(selfAnswer!.quota).toHaveProperty('cost');
    expect(selfAnswer!.providers).toHaveProperty('unpricedRequests', 0);

    expect(cloudAnswer!.plan).not.toHaveProperty('monthlyCostLimit');
    expect(cloudAnswer!.plan).toHaveProperty('name', 'pro');
    expect(cloudAnswer!.quota).not.toHaveProperty('cost');
    expect(cloudAnswer!.quota).toHaveProperty('tokens');
    expect(cloudAnswer!.providers).toEqual({
      range: { from: '2026-12-01T00:00:00.000Z', to: '2026-12-02T00:00:00.000Z', tz: 'UTC', granularity: 'day' },
      providers: [{ provider: 'openai', requests: 1, totalTokens: 2, percentage: 100 }],
      series: [{ bucketStart: '2026-12-01T00:00:00.000Z', provider: 'openai', requests: 1, totalTokens: 2 }],
    });
  });
});
