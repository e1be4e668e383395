import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATALOG_SOURCE } from '../../src/infrastructure/catalog/genai-prices-catalog';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/** The models admin API: create, add price versions, list; decimal prices kept exact. */
let t: TestApp;
let admin: Record<string, string>;

beforeAll(async () => {
  t = await createTestApp();
  admin = bearer(t.token('root', { role: 'admin' }));
});
afterAll(async () => t.close());

const createModel = (payload: unknown) =>
  t.app.inject({ method: 'POST', url: '/v1/admin/models', headers: admin, payload: payload as object });

const addPrice = (id: string, price: unknown) =>
  t.app.inject({ method: 'POST', url: `/v1/admin/models/${id}/prices`, headers: admin, payload: { price } });

const TALLY = {
  provider: 'acmeai',
  model: 'tally-1',
  kind: 'language',
  price: {
    effectiveFrom: '2020-01-01T00:00:00Z',
    inputPerMillion: '2.00',
    outputPerMillion: '8.00',
    cachedInputPerMillion: '0.50',
    cacheWritePerMillion: '2.50',
  },
};

describe('POST /v1/admin/models', () => {
  let tallyId: string;

  it('keeps a price sent as a JSON number with the digits written, even those a double drops', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/models',
      // a workspace of its own: the lists below count this one's models
      headers: {
        ...bearer(t.token('root', { role: 'admin', workspaceId: 'money-digits' })),
        'content-type': 'application/json',
      },
      payload:
        '{"provider":"acmeai","model":"exact-digits-1","kind":"language","price":' +
        '{"effectiveFrom":"2020-01-01T00:00:00Z","inputPerMillion":12345.123456789012,"outputPerMillion":0.1}}',
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().prices[0]).toMatchObject({ inputPerMillion: '12345.123456789012', outputPerMillion: '0.1' });
  });

  it("creates the issue's example model (201 with its id and prices)", async () => {
    const res = await createModel(TALLY);
    expect(res.statusCode, res.body).toBe(201);
    const body = res.json();
    tallyId = body.id;
    expect(body).toEqual({
      id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
      provider: 'acmeai',
      model: 'tally-1',
      kind: 'language',
      source: 'workspace',
      prices: [
        {
          effectiveFrom: '2020-01-01T00:00:00.000Z',
          inputPerMillion: '2',
          outputPerMillion: '8',
          cachedInputPerMillion: '0.5',
          cacheWritePerMillion: '2.5',
          cacheWrite1hPerMillion: null,
          reasoningPerMillion: null,
          longContext: null,
          timeOfDay: [],
        },
      ],
      // no usage of it yet: re-pricing the raw window would change nothing
      history: {
        from: expect.any(String),
        to: expect.any(String),
        wouldPrice: 0,
        wouldChange: 0,
        repricing: 'POST /v1/admin/repricing',
      },
    });
    const [stored] = (await t.db.query(
      `SELECT input_per_million = 2.00 AS input_ok, output_per_million = 8 AS output_ok,
              cached_input_per_million = 0.5 AS cached_ok, cache_write_per_million = 2.5 AS write_ok,
              reasoning_per_million IS NULL AS no_reasoning
       FROM model_prices WHERE model_id = $1`,
      [tallyId],
    )) as Array<Record<string, boolean>>;
    expect(stored).toEqual({ input_ok: true, output_ok: true, cached_ok: true, write_ok: true, no_reasoning: true });
  });

  it('accepts numbers instead of strings, kept at the decimal they were written as', async () => {
    const res = await createModel({
      provider: 'acmeai',
      model: 'numbers-1',
      price: {
        effectiveFrom: '2020-01-01T00:00:00Z',
        inputPerMillion: 2,
        outputPerMillion: 8.1,
        cachedInputPerMillion: 0.1,
        cacheWritePerMillion: 0.000001,
        reasoningPerMillion: 12.345678901234,
      },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({
      kind: 'language',
      prices: [
        {
          inputPerMillion: '2',
          outputPerMillion: '8.1',
          cachedInputPerMillion: '0.1',
          cacheWritePerMillion: '0.000001',
          reasoningPerMillion: '12.345678901234',
        },
      ],
    });
    const [stored] = (await t.db.query(
      `SELECT p.output_per_million::text AS output, p.cache_write_per_million::text AS write
       FROM model_prices p JOIN models m ON m.workspace_id = p.workspace_id AND m.id = p.model_id
       WHERE m.model = 'numbers-1'`,
    )) as Array<{ output: string; write: string }>;
    expect(stored).toEqual({ output: '8.1', write: '0.000001' });
  });

  it('keeps every digit of a long decimal string price', async () => {
    const res = await createModel({
      provider: 'acmeai',
      model: 'precise-1',
      kind: 'embedding',
      price: { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion: '0.123456789012', outputPerMillion: '0' },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({
      kind: 'embedding',
      prices: [{ inputPerMillion: '0.123456789012', outputPerMillion: '0' }],
    });
  });

  it('answers 409 for a model that already exists in the workspace, whatever its case', async () => {
    for (const payload of [TALLY, { ...TALLY, provider: 'AcmeAI', model: 'TALLY-1' }]) {
      const res = await createModel(payload);
      expect(res.statusCode, res.body).toBe(409);
      expect(res.json()).toMatchObject({ statusCode: 409, code: 'conflict' });
    }
    const [row] = (await t.db.query(`SELECT count(*)::int AS n FROM models WHERE model = 'tally-1'`)) as Array<{
      n: number;
    }>;
    expect(row!.n).toBe(1);
  });

  it.each([
    ['inputPerMillion', 'abc'],
    ['inputPerMillion', '-1'],
    ['inputPerMillion', -1],
    ['outputPerMillion', '1e3'],
    ['outputPerMillion', ''],
    ['cachedInputPerMillion', '1.5.0'],
    ['cacheWritePerMillion', -0.5],
    ['cacheWrite1hPerMillion', '-2'],
    ['reasoningPerMillion', 'ten'],
    ['inputPerMillion', '0.0000000000001'],
    // strings a type-coercing validator would read as binary floats: rounded or reinterpreted
    ['inputPerMillion', '2.00000000000000001'],
    ['outputPerMillion', '0.1000000000000000055511151231257827'],
    ['cachedInputPerMillion', '0x10'],
    ['inputPerMillion', ' 2'],
    ['inputPerMillion', '12345678'],
  ])('answers 400 naming /price/%s for %j', async (field, value) => {
    const res = await createModel({
      provider: 'acmeai',
      model: `bad-${field}`,
      price: { ...TALLY.price, [field]: value },
    });
    expect(res.statusCode, res.body).toBe(400);
    const body = res.json() as { code: string; details: Array<{ path: string }> };
    expect(body.code).toBe('validation_failed');
    expect(body.details.map((d) => d.path)).toContain(`/price/${field}`);
    const rows = (await t.db.query(`SELECT 1 FROM models WHERE model = $1`, [`bad-${field}`])) as unknown[];
    expect(rows).toEqual([]);
  });

  it('answers 400 for a missing price, a bad effectiveFrom, a bad kind or an unknown field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ provider: 'acmeai', model: 'no-price' }, '/price'],
      [{ ...TALLY, model: 'bad-date', price: { ...TALLY.price, effectiveFrom: 'yesterday' } }, '/price/effectiveFrom'],
      // well-formed (RFC 3339 allows a leap second) but no instant a Date can hold: was a 500
      [
        { ...TALLY, model: 'leap-second', price: { ...TALLY.price, effectiveFrom: '2026-06-30T23:59:60Z' } },
        '/price/effectiveFrom',
      ],
      [{ ...TALLY, model: 'bad-kind', kind: 'image' }, '/kind'],
      [{ ...TALLY, model: 'extra', color: 'blue' }, '/color'],
      [{ ...TALLY, model: 'extra-price', price: { ...TALLY.price, perRequest: '1' } }, '/price/perRequest'],
      [{ ...TALLY, model: '' }, '/model'],
    ];
    for (const [payload, path] of cases) {
      const res = await createModel(payload);
      expect(res.statusCode, res.body).toBe(400);
      expect((res.json() as { details: Array<{ path: string }> }).details.map((d) => d.path)).toContain(path);
    }
  });

  describe('POST /v1/admin/models/{id}/prices', () => {
    it('adds a version (201) and lists versions oldest first', async () => {
      const res = await addPrice(tallyId, {
        effectiveFrom: '2026-06-01T00:00:00Z',
        inputPerMillion: '1.50',
        outputPerMillion: 6,
        reasoningPerMillion: '9',
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json()).toMatchObject({
        id: tallyId,
        prices: [
          { effectiveFrom: '2020-01-01T00:00:00.000Z', inputPerMillion: '2' },
          {
            effectiveFrom: '2026-06-01T00:00:00.000Z',
            inputPerMillion: '1.5',
            outputPerMillion: '6',
            cachedInputPerMillion: null,
            cacheWritePerMillion: null,
            reasoningPerMillion: '9',
          },
        ],
      });
    });

    it('answers 409 for a second version with the same effectiveFrom, in any notation', async () => {
      for (const effectiveFrom of ['2026-06-01T00:00:00Z', '2026-06-01T02:00:00+02:00', '2026-06-01T00:00:00.000Z']) {
        const res = await addPrice(tallyId, { effectiveFrom, inputPerMillion: '3', outputPerMillion: '3' });
        expect(res.statusCode, res.body).toBe(409);
        expect(res.json()).toMatchObject({ code: 'conflict' });
      }
      const [row] = (await t.db.query(`SELECT count(*)::int AS n FROM model_prices WHERE model_id = $1`, [
        tallyId,
      ])) as Array<{ n: number }>;
      expect(row!.n).toBe(2);
    });

    it('answers 404 for an unknown model id, 400 for one that is no UUID', async () => {
      const res = await addPrice('00000000-0000-4000-8000-000000000000', TALLY.price);
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ statusCode: 404, code: 'not_found' });
      const bad = await addPrice('tally-1', TALLY.price);
      expect(bad.statusCode).toBe(400);
      expect(bad.json().details.map((d: { path: string }) => d.path)).toContain('/params/id');
    });

    it('answers 400 naming the field for a bad price, and adds nothing', async () => {
      for (const outputPerMillion of ['x', '-1', '1e3', '8.0000000000000000001']) {
        const res = await addPrice(tallyId, {
          ...TALLY.price,
          effectiveFrom: '2027-01-01T00:00:00Z',
          outputPerMillion,
        });
        expect(res.statusCode, outputPerMillion).toBe(400);
        expect(res.json().details.map((d: { path: string }) => d.path)).toContain('/price/outputPerMillion');
      }
      const [row] = (await t.db.query(`SELECT count(*)::int AS n FROM model_prices WHERE model_id = $1`, [
        tallyId,
      ])) as Array<{ n: number }>;
      expect(row!.n).toBe(2);
    });
  });
});

describe('GET /v1/admin/models', () => {
  it('lists built-in openai gpt-4o entries with their prices and source', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/models?search=gpt-4o&provider=openai',
      headers: admin,
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as {
      items: Array<{ provider: string; model: string; source: string; prices: unknown[] }>;
      page: number;
      pageSize: number;
      total: number;
    };
    expect(body).toMatchObject({ page: 1, pageSize: 100 });
    expect(body.total).toBe(body.items.length);
    expect(body.items.length).toBeGreaterThan(3);
    for (const item of body.items) {
      expect(item.provider).toBe('openai');
      expect(item.model).toContain('gpt-4o');
      expect(item.prices.length).toBeGreaterThan(0);
    }
    expect(body.items.find((m) => m.model === 'gpt-4o')).toEqual({
      id: expect.any(String),
      provider: 'openai',
      model: 'gpt-4o',
      kind: 'language',
      source: `${CATALOG_SOURCE.name}@${CATALOG_SOURCE.version}`,
      prices: [
        {
          effectiveFrom: '1970-01-01T00:00:00.000Z',
          inputPerMillion: '2.5',
          outputPerMillion: '10',
          cachedInputPerMillion: '1.25',
          cacheWritePerMillion: null,
          cacheWrite1hPerMillion: null,
          reasoningPerMillion: null,
          longContext: null,
          timeOfDay: [],
        },
      ],
    });
    // sorted by model
    const names = body.items.map((m) => m.model);
    expect(names).toEqual([...names].sort());
  });

  it('searches case-insensitively, filters by kind, and pages', async () => {
    const upper = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/models?search=GPT-4O&provider=OpenAI',
      headers: admin,
    });
    const lower = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/models?search=gpt-4o&provider=openai',
      headers: admin,
    });
    expect(upper.json().total).toBe(lower.json().total);

    const embeddings = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/models?provider=openai&kind=embedding',
      headers: admin,
    });
    const items = embeddings.json().items as Array<{ model: string; kind: string }>;
    expect(items.map((m) => m.model)).toContain('text-embedding-3-small');
    expect(items.every((m) => m.kind === 'embedding')).toBe(true);

    const page1 = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/models?provider=openai&pageSize=2',
      headers: admin,
    });
    const page2 = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/models?provider=openai&pageSize=2&page=2',
      headers: admin,
    });
    expect(page1.json()).toMatchObject({ page: 1, pageSize: 2 });
    expect(page1.json().items).toHaveLength(2);
    expect(page2.json().items).toHaveLength(2);
    expect(page1.json().total).toBeGreaterThan(4);
    expect(page2.json().items[0].model > page1.json().items[1].model).toBe(true);
  });

  it('treats % and _ in a search as plain characters', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/admin/models?search=%25', headers: admin });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ items: [], total: 0 });
  });

  it("lists the workspace's own models", async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/admin/models?provider=acmeai', headers: admin });
    expect((res.json().items as Array<{ model: string }>).map((m) => m.model)).toEqual([
      'numbers-1',
      'precise-1',
      'tally-1',
    ]);
  });

  it('answers 400 for bad paging', async () => {
    for (const query of ['page=0', 'pageSize=501', 'pageSize=abc', 'kind=image']) {
      const res = await t.app.inject({ method: 'GET', url: `/v1/admin/models?${query}`, headers: admin });
      expect(res.statusCode, query).toBe(400);
    }
  });
});

describe('cloud mode', () => {
  it('has no prices key at all in the catalog, nor in a created model', async () => {
    const cloud = await createTestApp({ deploymentMode: 'cloud', databaseUrl: t.databaseUrl });
    try {
      const headers = bearer(cloud.token('root', { role: 'admin' }));
      const res = await cloud.app.inject({
        method: 'GET',
        url: '/v1/admin/models?search=gpt-4o&provider=openai',
        headers,
      });
      expect(res.statusCode).toBe(200);
      const items = res.json().items as Array<Record<string, unknown>>;
      expect(items.length).toBeGreaterThan(3);
      for (const item of items) {
        expect(Object.keys(item).sort()).toEqual(['id', 'kind', 'model', 'provider', 'source']);
      }
      expect(res.body).not.toContain('PerMillion');

      const created = await cloud.app.inject({
        method: 'POST',
        url: '/v1/admin/models',
        headers,
        payload: { ...TALLY, model: 'cloud-1' },
      });
      expect(created.statusCode, created.body).toBe(201);
      expect(created.json()).not.toHaveProperty('prices');
    } finally {
      await cloud.app.close();
      await cloud.db.destroy();
    }
  });
});
