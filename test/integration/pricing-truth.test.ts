import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import { addModel } from '../support/pricing';
import { bearer, createTestApp, type TestApp } from '../support/test-app';
import { rollupsAndRecomputations } from '../support/usage-checks';

/**
 * Pricing truth with a known dataset (USD per million: tally-1 at 2 in / 8 out from 2020):
 *   tally    2026-11-10 10:00  1,000,000 in  100,000 out  → 2.8
 *   later    2026-11-20 10:00    500,000 in        0 out  → 1.0
 *   provided 2026-11-20 11:00  1,000,000 in        0 out  → 5.00 as the client sent it
 *   mystery  2026-11-15 10:00    200,000 in   50,000 out  → unpriced (mystery-1 is in no catalog)
 */
let t: TestApp;
let admin: Record<string, string>;
const NOV = { from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z' };

const get = (url: string, headers = admin) => t.app.inject({ method: 'GET', url, headers });
const post = (url: string, payload: object, headers = admin) => t.app.inject({ method: 'POST', url, headers, payload });
const reprice = (dryRun: boolean, extra: object = {}) => post('/v1/admin/repricing', { ...NOV, ...extra, dryRun });
const costs = async () =>
  Object.fromEntries(
    (
      (await t.db.query(
        `SELECT request_id, cost::text AS cost, cost_status FROM usage_records WHERE workspace_id = 'default' ORDER BY 1`,
      )) as Array<{ request_id: string; cost: string | null; cost_status: string }>
    ).map((r) => [r.request_id, `${r.cost} ${r.cost_status}`]),
  );

let tallyId: string;

beforeAll(async () => {
  t = await createTestApp();
  admin = bearer(t.token('root', { role: 'admin' }));
  tallyId = await addModel(
    t,
    admin,
    { provider: 'acmeai', model: 'tally-1' },
    { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion: '2', outputPerMillion: '8' },
  );
  const at = (occurredAt: string, fields: object) => usageRecord({ provider: 'acmeai', occurredAt, ...fields });
  await ingest(
    t,
    admin,
    [
      at('2026-11-10T10:00:00Z', {
        requestId: 'tally',
        model: 'tally-1',
        inputTokens: 1_000_000,
        outputTokens: 100_000,
      }),
      at('2026-11-20T10:00:00Z', { requestId: 'later', model: 'tally-1', inputTokens: 500_000, outputTokens: 0 }),
      at('2026-11-20T11:00:00Z', {
        requestId: 'provided',
        model: 'tally-1',
        inputTokens: 1_000_000,
        outputTokens: 0,
        cost: '5.00',
      }),
      at('2026-11-15T10:00:00Z', {
        requestId: 'mystery',
        model: 'mystery-1',
        inputTokens: 200_000,
        outputTokens: 50_000,
      }),
    ],
    { expectAccepted: true },
  );
});
afterAll(async () => t.close());

describe('coverage', () => {
  it('lists the unpriced model and the share priced; stats carries the same figures', async () => {
    const res = await get(`/v1/admin/models/unpriced?from=${NOV.from}&to=${NOV.to}`);
    expect(res.statusCode, res.body).toBe(200);
    const coverage = {
      requests: 4,
      pricedRequests: 3,
      tokens: 2_850_000,
      pricedTokens: 2_600_000,
      requestsPricedPercent: 75,
      tokensPricedPercent: 91.22,
    };
    expect(res.json()).toEqual({
      from: '2026-11-01T00:00:00.000Z',
      to: '2026-12-01T00:00:00.000Z',
      coverage,
      models: [
        {
          provider: 'acmeai',
          model: 'mystery-1',
          requests: 1,
          tokens: 250_000,
          firstSeenHour: '2026-11-15T10:00:00.000Z',
          lastSeenHour: '2026-11-15T10:00:00.000Z',
        },
      ],
    });
    const stats = await get(`/v1/admin/usage/stats?from=${NOV.from}&to=${NOV.to}`);
    expect(stats.json().coverage).toEqual(coverage);
  });

  it('first and last seen are the hours of the unpriced records in the range, also in its partial hours', async () => {
    // another workspace: unknown-a at 10:10, 11:30 and 14:50 (folded), unknown-b at 12:20 (pending)
    const other = bearer(t.token('hana', { role: 'admin', workspaceId: 'hours' }));
    const at = (model: string, hm: string) =>
      usageRecord({ provider: 'acmeai', model, occurredAt: `2026-11-10T${hm}:00Z`, inputTokens: 100, outputTokens: 0 });
    await ingest(t, other, [at('unknown-a', '10:10'), at('unknown-a', '11:30'), at('unknown-a', '14:50')], {
      expectAccepted: true,
    });
    await ingest(t, other, [at('unknown-b', '12:20')], { expectAccepted: true, fold: false });
    const models = async (from: string, to: string) => {
      const res = await get(`/v1/admin/models/unpriced?from=2026-11-10T${from}:00Z&to=2026-11-10T${to}:00Z`, other);
      expect(res.statusCode, res.body).toBe(200);
      return (res.json().models as Array<Record<string, unknown>>).map(
        (m) => `${m.model} ${m.requests} ${m.firstSeenHour} ${m.lastSeenHour}`,
      );
    };
    // whole hours: every record, the latest seen first
    expect(await models('10:00', '15:00')).toEqual([
      'unknown-a 3 2026-11-10T10:00:00.000Z 2026-11-10T14:00:00.000Z',
      'unknown-b 1 2026-11-10T12:00:00.000Z 2026-11-10T12:00:00.000Z',
    ]);
    // [10:15, 14:45) holds unknown-a's 11:30 only: not the hours 10:00 and 14:00 of the records
    // outside it, so unknown-b (12:00) is the more recently seen
    expect(await models('10:15', '14:45')).toEqual([
      'unknown-b 1 2026-11-10T12:00:00.000Z 2026-11-10T12:00:00.000Z',
      'unknown-a 1 2026-11-10T11:00:00.000Z 2026-11-10T11:00:00.000Z',
    ]);
    // a partial hour counts where a record of the range lies in it
    expect(await models('10:05', '14:55')).toEqual([
      'unknown-a 3 2026-11-10T10:00:00.000Z 2026-11-10T14:00:00.000Z',
      'unknown-b 1 2026-11-10T12:00:00.000Z 2026-11-10T12:00:00.000Z',
    ]);
  });

  it('is the admin’s: a member gets 403, another workspace sees nothing of it', async () => {
    const member = bearer(t.token('mia', { role: 'member' }));
    expect((await get(`/v1/admin/models/unpriced`, member)).statusCode).toBe(403);
    expect((await post('/v1/admin/repricing', { ...NOV, dryRun: true }, member)).statusCode).toBe(403);
    const other = bearer(t.token('olga', { role: 'admin', workspaceId: 'other' }));
    const res = await get(`/v1/admin/models/unpriced?from=${NOV.from}&to=${NOV.to}`, other);
    expect(res.json()).toMatchObject({ coverage: { requests: 0, requestsPricedPercent: null }, models: [] });
    const dry = await post('/v1/admin/repricing', { ...NOV, dryRun: true }, other);
    expect(dry.json()).toMatchObject({ records: 0, models: [] });
  });
});

describe('re-pricing', () => {
  let dryRun: { difference: string; models: unknown[] };

  it('adding a price for the unpriced model says how many raw records it would price', async () => {
    const res = await post('/v1/admin/models', {
      provider: 'acmeai',
      model: 'mystery-1',
      kind: 'language',
      price: { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion: '1', outputPerMillion: '2' },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().history).toMatchObject({ wouldPrice: 1, wouldChange: 1, repricing: 'POST /v1/admin/repricing' });
  });

  it('a price corrected backwards in time: the dry run says what changes and changes nothing', async () => {
    const added = await post(`/v1/admin/models/${tallyId}/prices`, {
      price: { effectiveFrom: '2026-11-15T00:00:00Z', inputPerMillion: '4', outputPerMillion: '16' },
    });
    expect(added.statusCode, added.body).toBe(201);
    expect(added.json().history).toMatchObject({ wouldPrice: 0, wouldChange: 1 });
    const before = await costs();
    const res = await reprice(true);
    expect(res.statusCode, res.body).toBe(200);
    dryRun = res.json();
    expect(dryRun).toEqual({
      dryRun: true,
      id: null,
      from: '2026-11-01T00:00:00.000Z',
      to: '2026-12-01T00:00:00.000Z',
      provider: null,
      model: null,
      records: 3,
      repriced: 2,
      costBefore: '3.8',
      costAfter: '5.1',
      difference: '1.3',
      unpricedBefore: 1,
      unpricedAfter: 0,
      models: [
        {
          provider: 'acmeai',
          model: 'mystery-1',
          records: 1,
          tokens: 250_000,
          costBefore: '0',
          costAfter: '0.3',
          difference: '0.3',
          repriced: 1,
          newlyPriced: 1,
          newlyUnpriced: 0,
        },
        {
          provider: 'acmeai',
          model: 'tally-1',
          records: 2,
          tokens: 1_600_000,
          costBefore: '3.8',
          costAfter: '4.8',
          difference: '1',
          repriced: 1,
          newlyPriced: 0,
          newlyUnpriced: 0,
        },
      ],
      skippedHours: [],
    });
    expect(await costs()).toEqual(before);
  });

  it('applies the same difference; provided costs untouched; rollups equal a recomputation', async () => {
    const res = await reprice(false);
    expect(res.statusCode, res.body).toBe(201);
    const applied = res.json();
    expect(applied.id).toMatch(/^[0-9a-f-]{36}$/);
    expect({ ...applied, dryRun: true, id: null }).toEqual(dryRun);
    expect(await costs()).toEqual({
      later: '2 computed',
      mystery: '0.3 computed',
      provided: '5 provided', // as ingest stored it, untouched
      tally: '2.8 computed',
    });
    for (const c of await rollupsAndRecomputations(t.db, { numericCost: true })) {
      expect(c.rollup, c.table).toEqual(c.recomputed);
    }
    const unpriced = await get(`/v1/admin/models/unpriced?from=${NOV.from}&to=${NOV.to}`);
    expect(unpriced.json()).toMatchObject({
      coverage: { pricedRequests: 4, requestsPricedPercent: 100, tokensPricedPercent: 100 },
      models: [],
    });
    const stats = await get(`/v1/admin/usage/stats?from=${NOV.from}&to=${NOV.to}`);
    expect(stats.json().totals).toMatchObject({ cost: '10.1', unpricedRequests: 0 });

    const list = await get('/v1/admin/repricing');
    expect(list.json()).toMatchObject({ total: 1, items: [{ id: applied.id, createdBy: 'root', difference: '1.3' }] });
    const one = await get(`/v1/admin/repricing/${applied.id}`);
    expect(one.json()).toMatchObject({
      id: applied.id,
      createdBy: 'root',
      from: NOV.from.replace('Z', '.000Z'),
      provider: null,
      costBefore: '3.8',
      costAfter: '5.1',
      unpricedBefore: 1,
      unpricedAfter: 0,
      models: applied.models,
    });
    expect((await get('/v1/admin/repricing/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
  });

  it('a second identical re-pricing changes nothing', async () => {
    const rollupsBefore = await rollupsAndRecomputations(t.db);
    const res = await reprice(false);
    expect(res.json()).toMatchObject({ repriced: 0, difference: '0', costBefore: '5.1', costAfter: '5.1' });
    expect(await rollupsAndRecomputations(t.db)).toEqual(rollupsBefore);
  });

  it('refuses a range that ends before it starts, naming the field', async () => {
    const res = await post('/v1/admin/repricing', { from: NOV.to, to: NOV.from, dryRun: true });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('/from');
  });
});

describe('cloud mode', () => {
  it('has no pricing routes and no coverage in stats', async () => {
    const cloud = await createTestApp({ deploymentMode: 'cloud', databaseUrl: t.databaseUrl });
    try {
      const headers = bearer(cloud.token('root', { role: 'admin' }));
      const unpriced = await cloud.app.inject({ method: 'GET', url: '/v1/admin/models/unpriced', headers });
      expect(unpriced.statusCode).toBe(404);
      const repricing = await cloud.app.inject({
        method: 'POST',
        url: '/v1/admin/repricing',
        headers,
        payload: { ...NOV, dryRun: true },
      });
      expect(repricing.statusCode).toBe(404);
      const stats = await cloud.app.inject({ method: 'GET', url: `/v1/admin/usage/stats?from=${NOV.from}`, headers });
      expect(stats.json()).not.toHaveProperty('coverage');
    } finally {
      await cloud.close();
    }
  });
});
