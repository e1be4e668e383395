import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addModel, addPrice } from '../support/pricing';
import { planFor, reserve } from '../support/quotas';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * Long-context pricing: a call whose input is above a price's threshold is priced whole at
 * its tier (Gemini 2.5 Pro: 1.25 / 10 per million up to 200k input tokens, 2.5 / 15 above).
 * acmeai longy-1 here: 1 in / 2 out, above 1,000 input tokens 3 / 5.
 */
let t: TestApp;
let admin: Record<string, string>;
let longyId: string;
const LONGY = { provider: 'acmeai', model: 'longy-1' };
const TIERED = {
  effectiveFrom: '2020-01-01T00:00:00Z',
  inputPerMillion: '1',
  outputPerMillion: '2',
  longContext: { aboveInputTokens: 1_000, inputPerMillion: '3', outputPerMillion: '5' },
};
const reprice = (range: { from: string; to: string }, dryRun: boolean) =>
  t.app.inject({
    method: 'POST',
    url: '/v1/admin/repricing',
    headers: admin,
    payload: { ...range, provider: 'acmeai', dryRun },
  });

async function costs(): Promise<Record<string, string | null>> {
  const rows = (await t.db.query(
    `SELECT request_id, cost::text FROM usage_records WHERE model = 'longy-1' ORDER BY request_id`,
  )) as Array<{ request_id: string; cost: string | null }>;
  return Object.fromEntries(rows.map((r) => [r.request_id, r.cost]));
}

beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => new Date('2026-12-05T12:00:00Z') } });
  admin = bearer(t.token('root', { role: 'admin' }));
  longyId = await addModel(t, admin, LONGY, TIERED);
});
afterAll(async () => t.close());

describe('long-context prices', () => {
  it('price a call above the threshold whole at the tier, one at it at the base rates', async () => {
    await ingest(
      t,
      admin,
      [
        usageRecord({
          requestId: 'long',
          ...LONGY,
          occurredAt: '2026-12-01T10:05:00Z',
          inputTokens: 2_000,
          outputTokens: 100,
        }),
        usageRecord({
          requestId: 'short',
          ...LONGY,
          occurredAt: '2026-12-01T10:20:00Z',
          inputTokens: 500,
          outputTokens: 100,
        }),
        usageRecord({
          requestId: 'edge',
          ...LONGY,
          occurredAt: '2026-12-01T11:00:00Z',
          inputTokens: 1_000,
          outputTokens: 0,
        }),
      ],
      { expectAccepted: true },
    );
    // 2,000 × 3 + 100 × 5 = 6,500; 500 × 1 + 100 × 2 = 700; 1,000 × 1
    expect(await costs()).toEqual({ edge: '0.001', long: '0.0065', short: '0.0007' });
  });

  it('prices Gemini 2.5 Pro above 200k input tokens at its long-context rates from the built-in catalog', async () => {
    const pro = { provider: 'google', model: 'gemini-2.5-pro', occurredAt: '2026-12-02T09:00:00Z' };
    await ingest(
      t,
      admin,
      [
        usageRecord({ requestId: 'pro-200k', ...pro, inputTokens: 200_000, outputTokens: 1_000 }),
        usageRecord({ requestId: 'pro-250k', ...pro, inputTokens: 250_000, outputTokens: 1_000 }),
      ],
      { expectAccepted: true },
    );
    const rows = (await t.db.query(
      `SELECT request_id, cost::text FROM usage_records WHERE model = 'gemini-2.5-pro' ORDER BY request_id`,
    )) as Array<{ request_id: string; cost: string }>;
    // 200,000 × 1.25 + 1,000 × 10 = 0.26; 250,000 × 2.5 + 1,000 × 15 = 0.64 (0.3225 at the base rates)
    expect(rows).toEqual([
      { request_id: 'pro-200k', cost: '0.26' },
      { request_id: 'pro-250k', cost: '0.64' },
    ]);
  });

  it('are listed with the price, null where a version has none', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/admin/models?search=longy', headers: admin });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().items[0].prices).toEqual([
      {
        effectiveFrom: '2020-01-01T00:00:00.000Z',
        inputPerMillion: '1',
        outputPerMillion: '2',
        cachedInputPerMillion: null,
        cacheWritePerMillion: null,
        cacheWrite1hPerMillion: null,
        reasoningPerMillion: null,
        longContext: {
          aboveInputTokens: 1_000,
          inputPerMillion: '3',
          outputPerMillion: '5',
          cachedInputPerMillion: null,
          cacheWritePerMillion: null,
          cacheWrite1hPerMillion: null,
          reasoningPerMillion: null,
        },
        timeOfDay: [],
      },
    ]);
    const gpt4o = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/models?provider=openai&search=gpt-4o',
      headers: admin,
    });
    expect(gpt4o.json().items.find((m: { model: string }) => m.model === 'gpt-4o').prices[0].longContext).toBeNull();
  });

  it.each([
    [{ aboveInputTokens: 1_000, inputPerMillion: '3' }, '/price/longContext/outputPerMillion'],
    [{ aboveInputTokens: 0, inputPerMillion: '3', outputPerMillion: '5' }, '/price/longContext/aboveInputTokens'],
    [{ aboveInputTokens: 1.5, inputPerMillion: '3', outputPerMillion: '5' }, '/price/longContext/aboveInputTokens'],
    [{ aboveInputTokens: 1_000, inputPerMillion: '-3', outputPerMillion: '5' }, '/price/longContext/inputPerMillion'],
    [
      { aboveInputTokens: 1_000, inputPerMillion: '3', outputPerMillion: '5', perRequest: '1' },
      '/price/longContext/perRequest',
    ],
  ])('refuses a tier %j at %s, and stores nothing', async (longContext, path) => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/models',
      headers: admin,
      payload: { provider: 'acmeai', model: 'bad-tier', price: { ...TIERED, longContext } },
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().details.map((d: { path: string }) => d.path)).toContain(path);
    expect(await t.db.query(`SELECT 1 FROM models WHERE model = 'bad-tier'`)).toEqual([]);
  });

  it('are applied by re-pricing record by record, each at the side of the threshold its input is on', async () => {
    // from November the threshold is 500: the 1,000-token call becomes a long one
    await addPrice(t, admin, longyId, {
      ...TIERED,
      effectiveFrom: '2026-11-01T00:00:00Z',
      longContext: { ...TIERED.longContext, aboveInputTokens: 500 },
    });
    const res = await reprice({ from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z' }, false);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ repriced: 1, costBefore: '0.0082', costAfter: '0.0102', difference: '0.002' });
    expect(await costs()).toEqual({ edge: '0.003', long: '0.0065', short: '0.0007' });
  });
});

describe('long-context prices past raw retention', () => {
  it('re-price an hour from its sums only where every call is known to be on one side of the threshold', async () => {
    const at = (requestId: string, occurredAt: string, inputTokens: number) =>
      usageRecord({ requestId, ...LONGY, model: 'longy-2', occurredAt, inputTokens, outputTokens: 0 });
    const longy2 = await addModel(
      t,
      admin,
      { ...LONGY, model: 'longy-2' },
      {
        effectiveFrom: '2020-01-01T00:00:00Z',
        inputPerMillion: '1',
        outputPerMillion: '2',
      },
    );
    await ingest(
      t,
      admin,
      [
        at('one-long', '2026-10-05T10:10:00Z', 5_000),
        // together above the threshold, each below it: which were long cannot be told from the sums
        at('two-a', '2026-10-06T10:10:00Z', 600),
        at('two-b', '2026-10-06T10:40:00Z', 600),
        at('two-small-a', '2026-10-07T10:10:00Z', 300),
        at('two-small-b', '2026-10-07T10:40:00Z', 400),
      ],
      { expectAccepted: true },
    );
    await t.db.query('DROP TABLE usage_records_p202610');
    await addPrice(t, admin, longy2, {
      effectiveFrom: '2026-10-01T00:00:00Z',
      inputPerMillion: '2',
      outputPerMillion: '2',
      longContext: { aboveInputTokens: 1_000, inputPerMillion: '4', outputPerMillion: '4' },
    });
    const res = await reprice({ from: '2026-10-01T00:00:00Z', to: '2026-11-01T00:00:00Z' }, false);
    expect(res.statusCode, res.body).toBe(201);
    // one call of 5,000: 0.005 → 5,000 × 4 = 0.02; 700 tokens in two small calls: 0.0007 → 0.0014
    expect(res.json()).toMatchObject({
      records: 3,
      repriced: 3,
      costBefore: '0.0057',
      costAfter: '0.0214',
      skippedHours: [
        {
          from: '2026-10-06T10:00:00.000Z',
          to: '2026-10-06T11:00:00.000Z',
          reason: expect.stringContaining('which of them were long is unknown'),
        },
      ],
    });
    const hours = (await t.db.query(
      `SELECT to_char(bucket_start AT TIME ZONE 'UTC', 'MM-DD') AS day, trim_scale(sum(cost))::text AS cost
       FROM usage_hourly WHERE model = 'longy-2' GROUP BY 1 ORDER BY 1`,
    )) as Array<{ day: string; cost: string }>;
    expect(hours).toEqual([
      { day: '10-05', cost: '0.02' },
      { day: '10-06', cost: '0.0012' },
      { day: '10-07', cost: '0.0014' },
    ]);
  });
});

describe('long-context prices and reservations', () => {
  it('estimate a reservation without a cost at the tier’s dearest rate only when it may be a long call', async () => {
    await planFor(t, admin, ['reader'], { monthlyCostLimit: '3.00' });
    const ask = (requestId: string, estimatedTokens: number) =>
      reserve(t, admin, { userId: 'reader', requestId, estimatedTokens, provider: 'google', model: 'gemini-2.5-pro' });
    // gemini-2.5-pro's dearest rate: 10 per million output up to 200k input tokens, 15 above
    // 250,000 tokens may be a long call: 250,000 × 15 = 3.75 > 3
    expect((await ask('long', 250_000)).statusCode).toBe(429);
    // 200,000 tokens cannot be: 200,000 × 10 = 2
    const short = await ask('short', 200_000);
    expect(short.statusCode, short.body).toBe(201);
  });
});
