import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import { addModel } from '../support/pricing';
import { seedBuiltInCatalog } from '../../src/infrastructure/catalog/seed-catalog';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * Model ids as providers report them, priced with the built-in entry @pydantic/genai-prices' own
 * match logic maps them to (prices from its bundled data, USD per million in / out):
 *   anthropic claude-sonnet-4-0 3 / 15, claude-opus-4-0 15 / 75, claude-3-7-sonnet-latest 3 / 15,
 *             claude-3-5-haiku-latest 0.8 / 4
 *   aws       regional.anthropic.claude-3-haiku-20240307-v1:0 0.25 / 1.25,
 *             regional.anthropic.claude-3-5-sonnet-20241022-v2:0 3 / 15
 *   openrouter openai/gpt-4o 2.5 / 10 (its match lists openai/gpt-4o-2024-08-06)
 *   google    claude-3-5-sonnet 3 / 15 (matches any id containing claude-3-5-sonnet)
 * Every record is 1M input and 1M output tokens, so its cost is input + output price.
 */
let t: TestApp;
let admin: Record<string, string>;

const costOf = async (requestId: string) => {
  const [row] = (await t.db.query(
    `SELECT cost::text AS cost, cost_status FROM usage_records WHERE workspace_id = 'default' AND request_id = $1`,
    [requestId],
  )) as Array<{ cost: string | null; cost_status: string }>;
  return row ? `${row.cost} ${row.cost_status}` : 'missing';
};

const record = (requestId: string, provider: string, model: string) =>
  usageRecord({
    requestId,
    provider,
    model,
    occurredAt: '2026-12-01T10:00:00Z',
    inputTokens: 1_000_000,
    outputTokens: 1_000_000,
  });

const costsOf = async (ids: string[]) =>
  Object.fromEntries(await Promise.all(ids.map(async (id) => [id, await costOf(id)])));

beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => new Date('2026-12-05T12:00:00Z') } });
  admin = bearer(t.token('root', { role: 'admin' }));
});
afterAll(async () => t.close());

describe('reported model ids the catalog lists under another name', () => {
  it('prices the ids the Anthropic API reports for Sonnet 4, Opus 4, 3.7 Sonnet and 3.5 Haiku', async () => {
    await ingest(
      t,
      admin,
      [
        record('an-sonnet4', 'anthropic', 'claude-sonnet-4-20250514'),
        record('an-opus4', 'anthropic', 'claude-opus-4-20250514'),
        record('an-sonnet37', 'anthropic', 'claude-3-7-sonnet-20250219'),
        record('an-haiku35', 'Anthropic', 'Claude-3-5-Haiku-20241022'),
      ],
      { expectAccepted: true },
    );
    expect(await costsOf(['an-sonnet4', 'an-opus4', 'an-sonnet37', 'an-haiku35'])).toEqual({
      'an-sonnet4': '18 computed',
      'an-opus4': '90 computed',
      'an-sonnet37': '18 computed',
      'an-haiku35': '4.8 computed',
    });
  });

  it('prices Bedrock Claude ids sent with provider bedrock or aws', async () => {
    await ingest(
      t,
      admin,
      [
        record('br-haiku-us', 'bedrock', 'us.anthropic.claude-3-haiku-20240307-v1:0'),
        record('br-haiku', 'aws', 'anthropic.claude-3-haiku-20240307-v1:0'),
        record('br-sonnet-eu', 'bedrock', 'eu.anthropic.claude-3-5-sonnet-20241022-v2:0'),
      ],
      { expectAccepted: true },
    );
    expect(await costsOf(['br-haiku-us', 'br-haiku', 'br-sonnet-eu'])).toEqual({
      'br-haiku-us': '1.5 computed',
      'br-haiku': '1.5 computed',
      'br-sonnet-eu': '18 computed',
    });
  });

  it('prices an OpenRouter dated snapshot and a Vertex Claude id', async () => {
    await ingest(
      t,
      admin,
      [
        record('or-gpt4o', 'openrouter', 'openai/gpt-4o-2024-08-06'),
        record('vx-sonnet35', 'vertex', 'claude-3-5-sonnet-v2@20241022'),
      ],
      { expectAccepted: true },
    );
    expect(await costsOf(['or-gpt4o', 'vx-sonnet35'])).toEqual({
      'or-gpt4o': '12.5 computed',
      'vx-sonnet35': '18 computed',
    });
  });

  it('leaves a known model id unpriced under a provider the catalog source does not know', async () => {
    await ingest(t, admin, [record('acme-sonnet4', 'acmeai', 'claude-sonnet-4-20250514')], { expectAccepted: true });
    expect(await costOf('acme-sonnet4')).toBe('null unpriced');
  });

  it("a workspace's own model named like the reported id wins over the source's match", async () => {
    await addModel(
      t,
      admin,
      { provider: 'anthropic', model: 'claude-opus-4-20250514' },
      { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion: '1', outputPerMillion: '2' },
    );
    await ingest(t, admin, [record('ws-opus4', 'anthropic', 'claude-opus-4-20250514')], { expectAccepted: true });
    expect(await costOf('ws-opus4')).toBe('3 computed');
  });

  it('a workspace price on the matched built-in entry prices the reported id from its effectiveFrom, and says so', async () => {
    await ingest(
      t,
      admin,
      [
        { ...record('ws-haiku-before', 'anthropic', 'claude-3-5-haiku-20241022'), occurredAt: '2026-11-10T00:00:00Z' },
        record('ws-haiku-after', 'anthropic', 'claude-3-5-haiku-20241022'),
      ],
      { expectAccepted: true },
    );
    const list = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/models?provider=anthropic&search=claude-3-5-haiku-latest',
      headers: admin,
    });
    const builtIn = list.json().items.find((m: { model: string }) => m.model === 'claude-3-5-haiku-latest');
    expect(builtIn).toBeTruthy();
    const added = await t.app.inject({
      method: 'POST',
      url: `/v1/admin/models/${builtIn.id}/prices`,
      headers: admin,
      payload: { price: { effectiveFrom: '2026-11-15T00:00:00Z', inputPerMillion: '1', outputPerMillion: '1' } },
    });
    expect(added.statusCode, added.body).toBe(201);
    // an-haiku35 and ws-haiku-after (4.8 each) would become 2; ws-haiku-before is older than the price
    expect(added.json().history).toMatchObject({ wouldPrice: 0, wouldChange: 2 });
    await ingest(
      t,
      admin,
      [
        {
          ...record('ws-haiku-before-2', 'anthropic', 'claude-3-5-haiku-20241022'),
          occurredAt: '2026-11-10T00:00:00Z',
        },
        record('ws-haiku-after-2', 'anthropic', 'claude-3-5-haiku-20241022'),
      ],
      { expectAccepted: true },
    );
    expect(await costsOf(['ws-haiku-before-2', 'ws-haiku-after-2'])).toEqual({
      'ws-haiku-before-2': '4.8 computed',
      'ws-haiku-after-2': '2 computed',
    });
  });

  it('a new built-in catalog version counts the requests a changed entry prices through the match', async () => {
    // as if the database held an older catalog version whose claude-sonnet-4-0 price differed
    await t.db.query(
      `UPDATE model_prices p SET input_per_million = input_per_million + 1 FROM models m
       WHERE p.workspace_id = '' AND m.workspace_id = '' AND p.model_id = m.id
         AND m.provider = 'anthropic' AND m.model = 'claude-sonnet-4-0'`,
    );
    await t.db.query(`UPDATE catalog_sources SET version = '0.0.0-old' WHERE workspace_id = ''`);
    const seeded = await seedBuiltInCatalog(t.db);
    // an-sonnet4 (anthropic claude-sonnet-4-20250514); acme-sonnet4 is another provider's
    expect(seeded.priceChanges).toEqual([{ provider: 'anthropic', model: 'claude-sonnet-4-0', rawWindowRequests: 1 }]);
  });
});
