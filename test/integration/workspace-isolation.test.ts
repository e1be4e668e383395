import { foldPending } from '../../src/infrastructure/persistence/pg-rollup-folder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';
import { createModel } from '../support/usage-dataset';

/** No request reads or writes another workspace: records, dedup, models, prices. */
let t: TestApp;
let acme: Record<string, string>;
let globex: Record<string, string>;

beforeAll(async () => {
  t = await createTestApp();
  acme = bearer(t.token('acme-admin', { role: 'admin', workspaceId: 'acme' }));
  globex = bearer(t.token('globex-admin', { role: 'admin', workspaceId: 'globex' }));
});
afterAll(async () => t.close());

async function costOf(workspaceId: string, requestId: string) {
  const rows = (await t.db.query(
    `SELECT cost::text AS cost, cost_status FROM usage_records WHERE workspace_id = $1 AND request_id = $2`,
    [workspaceId, requestId],
  )) as Array<{ cost: string | null; cost_status: string }>;
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

async function listModels(headers: Record<string, string>, query = '') {
  const res = await t.app.inject({ method: 'GET', url: `/v1/admin/models${query}`, headers });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as {
    items: Array<{
      id: string;
      provider: string;
      model: string;
      source: string;
      prices: Array<Record<string, unknown>>;
    }>;
    total: number;
  };
}

const price = (input: string, output: string, effectiveFrom = '2020-01-01T00:00:00Z') => ({
  effectiveFrom,
  inputPerMillion: input,
  outputPerMillion: output,
});

describe('workspace isolation', () => {
  it('does not treat the same requestId in another workspace as a duplicate', async () => {
    const shared = (userId: string, inputTokens: number) =>
      usageRecord({ requestId: 'shared-id', userId, model: 'gpt-4o', inputTokens });
    expect(await ingest(t, acme, [shared('a1', 1)])).toMatchObject({ accepted: 1 });
    expect(await ingest(t, globex, [shared('g1', 2)])).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    // and a re-send stays a duplicate in each
    expect(await ingest(t, acme, [shared('a1', 1000)])).toMatchObject({ accepted: 0, duplicates: 1 });
    expect(await ingest(t, globex, [shared('g1', 1000)])).toMatchObject({ accepted: 0, duplicates: 1 });

    const rows = (await t.db.query(
      `SELECT workspace_id, user_id, input_tokens::int FROM usage_records WHERE request_id = 'shared-id' ORDER BY 1`,
    )) as Array<Record<string, unknown>>;
    expect(rows).toEqual([
      { workspace_id: 'acme', user_id: 'a1', input_tokens: 1 },
      { workspace_id: 'globex', user_id: 'g1', input_tokens: 2 },
    ]);
    await foldPending(t.db); // what the service's background fold does
    const rollup = (await t.db.query(
      `SELECT workspace_id, sum(requests)::int AS requests FROM usage_hourly WHERE model = 'gpt-4o' GROUP BY 1 ORDER BY 1`,
    )) as Array<Record<string, unknown>>;
    expect(rollup).toEqual([
      { workspace_id: 'acme', requests: 1 },
      { workspace_id: 'globex', requests: 1 },
    ]);
  });

  it("does not price another workspace's records with a workspace's own model, nor list it there", async () => {
    const acmeModelId = await createModel(t, acme, {
      provider: 'acmeai',
      model: 'tally-1',
      kind: 'language',
      price: price('2.00', '8.00'),
    });

    const call = { provider: 'acmeai', model: 'tally-1', inputTokens: 1000, outputTokens: 1000 };
    await ingest(t, acme, [usageRecord({ requestId: 'tally-a', ...call })], { expectAccepted: true });
    await ingest(t, globex, [usageRecord({ requestId: 'tally-g', ...call })], { expectAccepted: true });
    expect(await costOf('acme', 'tally-a')).toEqual({ cost: '0.01', cost_status: 'computed' });
    expect(await costOf('globex', 'tally-g')).toEqual({ cost: null, cost_status: 'unpriced' });

    expect((await listModels(acme, '?provider=acmeai')).items.map((m) => m.model)).toEqual(['tally-1']);
    expect(await listModels(globex, '?provider=acmeai')).toMatchObject({ items: [], total: 0 });
    expect((await listModels(globex, '?search=tally')).items).toEqual([]);

    // nor can the other workspace add prices to it
    const foreign = await t.app.inject({
      method: 'POST',
      url: `/v1/admin/models/${acmeModelId}/prices`,
      headers: globex,
      payload: { price: price('0', '0', '2026-01-01T00:00:00Z') },
    });
    expect(foreign.statusCode).toBe(404);
    const acmePrices = (await listModels(acme, '?provider=acmeai')).items[0]!.prices;
    expect(acmePrices).toHaveLength(1);
  });

  it("lets one workspace override a built-in model's price without changing another's", async () => {
    // globex creates its own gpt-4o entry at 100 / 100
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/models',
      headers: globex,
      payload: { provider: 'openai', model: 'gpt-4o', price: price('100', '100') },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ provider: 'openai', model: 'gpt-4o', source: 'workspace' });

    const call = { provider: 'openai', model: 'gpt-4o-2024-08-06', inputTokens: 1000, outputTokens: 1000 };
    await ingest(t, acme, [usageRecord({ requestId: 'override-a', ...call })], { expectAccepted: true });
    await ingest(t, globex, [usageRecord({ requestId: 'override-g', ...call })], { expectAccepted: true });
    // built-in: 1000 × 2.5 + 1000 × 10; override: 1000 × 100 + 1000 × 100
    expect(await costOf('acme', 'override-a')).toEqual({ cost: '0.0125', cost_status: 'computed' });
    expect(await costOf('globex', 'override-g')).toEqual({ cost: '0.2', cost_status: 'computed' });

    const seen = async (headers: Record<string, string>) =>
      (await listModels(headers, '?provider=openai&search=gpt-4o')).items.filter((m) => m.model === 'gpt-4o');
    const [acmeView] = await seen(acme);
    const [globexView] = await seen(globex);
    expect(acmeView).toMatchObject({ source: expect.stringMatching(/^@pydantic\/genai-prices@/) });
    expect(acmeView!.prices).toEqual([expect.objectContaining({ inputPerMillion: '2.5', outputPerMillion: '10' })]);
    expect(globexView).toMatchObject({ source: 'workspace' });
    expect(globexView!.prices).toEqual([expect.objectContaining({ inputPerMillion: '100', outputPerMillion: '100' })]);
    expect(await seen(globex)).toHaveLength(1);
  });

  it("adds a price to a built-in model as the workspace's own override only", async () => {
    const builtIn = (await listModels(acme, '?provider=openai&search=gpt-4o-mini')).items.find(
      (m) => m.model === 'gpt-4o-mini',
    )!;
    expect(builtIn.prices).toEqual([
      expect.objectContaining({ inputPerMillion: '0.15', outputPerMillion: '0.6', cachedInputPerMillion: '0.075' }),
    ]);
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/admin/models/${builtIn.id}/prices`,
      headers: globex,
      payload: { price: price('1', '2', '2026-05-01T00:00:00Z') },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ model: 'gpt-4o-mini', source: 'workspace' });
    expect(res.json().id).not.toBe(builtIn.id);

    const call = {
      provider: 'openai',
      model: 'gpt-4o-mini',
      occurredAt: '2026-06-01T10:00:00Z',
      inputTokens: 1000,
      outputTokens: 1000,
    };
    await ingest(t, acme, [usageRecord({ requestId: 'mini-a', ...call })], { expectAccepted: true });
    await ingest(t, globex, [usageRecord({ requestId: 'mini-g', ...call })], { expectAccepted: true });
    const old = usageRecord({ requestId: 'mini-g-old', ...call, occurredAt: '2026-04-30T23:59:59Z' });
    await ingest(t, globex, [old], { expectAccepted: true });
    // 1000 × 0.15 + 1000 × 0.6 = 750 per million; globex from 2026-05-01: 1000 × 1 + 1000 × 2
    expect(await costOf('acme', 'mini-a')).toEqual({ cost: '0.00075', cost_status: 'computed' });
    expect(await costOf('globex', 'mini-g')).toEqual({ cost: '0.003', cost_status: 'computed' });
    // before globex's own version starts, the built-in price still applies
    expect(await costOf('globex', 'mini-g-old')).toEqual({ cost: '0.00075', cost_status: 'computed' });

    // the built-in rows themselves are untouched
    const [builtInPrices] = (await t.db.query(
      `SELECT count(*)::int AS n FROM model_prices WHERE workspace_id = '' AND model_id = $1`,
      [builtIn.id],
    )) as Array<{ n: number }>;
    expect(builtInPrices!.n).toBe(1);
  });

  it('keeps API-key ingest in the key owner workspace', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/api-keys',
      headers: globex,
      payload: { name: 'k' },
    });
    const { key } = created.json() as { key: string };
    const reply = await ingest(t, { 'x-api-key': key }, [
      usageRecord({ requestId: 'shared-id', userId: 'g2' }),
      usageRecord({ requestId: 'key-only', userId: 'g2' }),
    ]);
    // shared-id already exists in globex (a duplicate there), key-only is new
    expect(reply).toEqual({ accepted: 1, duplicates: 1, rejected: [] });
    const rows = (await t.db.query(
      `SELECT workspace_id FROM usage_records WHERE request_id = 'key-only'`,
    )) as unknown[];
    expect(rows).toEqual([{ workspace_id: 'globex' }]);
  });
});
