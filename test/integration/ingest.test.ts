import { foldPending } from '../../src/infrastructure/persistence/pg-rollup-folder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';
import { createModel } from '../support/usage-dataset';

/**
 * Ingest through HTTP, then read what was stored with SQL: the exact cost of every record
 * (computed, provided, unpriced), price versions by occurredAt, and rollups equal to raw rows.
 */
let t: TestApp;
let admin: Record<string, string>;
const WS = 'default';

/** When a record happened, unless a test says otherwise */
const AT = '2026-06-01T10:00:00Z';

interface StoredRow {
  request_id: string;
  user_id: string;
  provider: string;
  model: string;
  cost: string | null;
  cost_status: string;
  input_tokens: string;
  output_tokens: string;
  cached_input_tokens: string;
  cache_write_tokens: string;
  reasoning_tokens: string;
  total_tokens: string;
}

async function stored(requestId: string): Promise<StoredRow> {
  const rows = (await t.db.query(
    `SELECT request_id, user_id, provider, model, cost::text AS cost, cost_status, input_tokens, output_tokens,
            cached_input_tokens, cache_write_tokens, reasoning_tokens, total_tokens
     FROM usage_records WHERE workspace_id = $1 AND request_id = $2`,
    [WS, requestId],
  )) as StoredRow[];
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

/** Ingests one record and returns its stored cost and cost status. */
async function costOf(fields: Record<string, unknown>): Promise<{ cost: string | null; status: string }> {
  const r = usageRecord({ occurredAt: AT, ...fields });
  await ingest(t, admin, [r], { expectAccepted: true });
  const row = await stored(r.requestId);
  return { cost: row.cost, status: row.cost_status };
}

beforeAll(async () => {
  t = await createTestApp();
  admin = bearer(t.token('root', { role: 'admin', workspaceId: WS }));
  // the example body, verbatim
  await createModel(t, admin, {
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
  });
});
afterAll(async () => t.close());

describe('cost computed at ingest for a workspace model (acmeai/tally-1: 2.00 / 8.00 / 0.50 cached / 2.50 write)', () => {
  it('prices cached input at the cached price and cache writes at the cache-write price', async () => {
    const r = usageRecord({
      occurredAt: AT,
      provider: 'acmeai',
      model: 'tally-1',
      inputTokens: 1_000_000,
      cachedInputTokens: 200_000,
      cacheWriteTokens: 100_000,
      outputTokens: 500_000,
    });
    expect(await ingest(t, admin, [r])).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    // 700,000 × 2.00 + 200,000 × 0.50 + 100,000 × 2.50 + 500,000 × 8.00 = 5,750,000 per million
    expect(await stored(r.requestId)).toMatchObject({
      cost: '5.75',
      cost_status: 'computed',
      input_tokens: '1000000',
      cached_input_tokens: '200000',
      cache_write_tokens: '100000',
      output_tokens: '500000',
      reasoning_tokens: '0',
      total_tokens: '1500000',
      user_id: 'root',
    });
  });

  it('prices small calls exactly', async () => {
    // 1000 × 2 + 500 × 8 = 6000 per million
    expect(await costOf({ provider: 'acmeai', model: 'tally-1', inputTokens: 1000, outputTokens: 500 })).toEqual({
      cost: '0.006',
      status: 'computed',
    });
    // 7 × 2 + 3 × 8 = 38 per million
    expect(await costOf({ provider: 'acmeai', model: 'tally-1', inputTokens: 7, outputTokens: 3 })).toEqual({
      cost: '0.000038',
      status: 'computed',
    });
  });

  it('finds the model whatever the case of provider and model', async () => {
    expect(await costOf({ provider: 'AcmeAI', model: 'Tally-1', inputTokens: 1000, outputTokens: 500 })).toEqual({
      cost: '0.006',
      status: 'computed',
    });
  });

  it('prices reasoning tokens at the output price when the model has no reasoning price', async () => {
    // 2000 × 2 + 1000 × 8 = 12,000: the 400 reasoning tokens are part of the 1000 output tokens
    expect(
      await costOf({
        provider: 'acmeai',
        model: 'tally-1',
        inputTokens: 2000,
        outputTokens: 1000,
        reasoningTokens: 400,
      }),
    ).toEqual({ cost: '0.012', status: 'computed' });
  });

  it('prices reasoning tokens at the reasoning price when one is set', async () => {
    await createModel(t, admin, {
      provider: 'acmeai',
      model: 'think-1',
      price: {
        effectiveFrom: '2020-01-01T00:00:00Z',
        inputPerMillion: '1.10',
        outputPerMillion: '4.40',
        reasoningPerMillion: '12',
      },
    });
    // 2000 × 1.10 + 600 × 4.40 + 400 × 12 = 2200 + 2640 + 4800 = 9640 per million
    expect(
      await costOf({
        provider: 'acmeai',
        model: 'think-1',
        inputTokens: 2000,
        outputTokens: 1000,
        reasoningTokens: 400,
      }),
    ).toEqual({ cost: '0.00964', status: 'computed' });
  });
});

describe('price versions', () => {
  let modelId: string;
  beforeAll(async () => {
    modelId = await createModel(t, admin, {
      provider: 'acmeai',
      model: 'versioned-1',
      price: { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion: '2', outputPerMillion: '8' },
    });
    const res = await t.app.inject({
      method: 'POST',
      url: `/v1/admin/models/${modelId}/prices`,
      headers: admin,
      payload: { price: { effectiveFrom: '2026-06-01T00:00:00Z', inputPerMillion: '1', outputPerMillion: '4' } },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().prices.map((p: { effectiveFrom: string }) => p.effectiveFrom)).toEqual([
      '2020-01-01T00:00:00.000Z',
      '2026-06-01T00:00:00.000Z',
    ]);
  });

  const call = (occurredAt: string) => ({
    provider: 'acmeai',
    model: 'versioned-1',
    occurredAt,
    inputTokens: 1000,
    outputTokens: 1000,
  });

  it('prices a record before the new version at the old price (1000 × 2 + 1000 × 8)', async () => {
    expect(await costOf(call('2026-05-31T23:59:59.999Z'))).toEqual({ cost: '0.01', status: 'computed' });
    expect(await costOf(call('2024-03-01T00:00:00Z'))).toEqual({ cost: '0.01', status: 'computed' });
  });

  it('prices a record exactly at the new effectiveFrom, and after it, at the new price (1000 × 1 + 1000 × 4)', async () => {
    expect(await costOf(call('2026-06-01T00:00:00.000Z'))).toEqual({ cost: '0.005', status: 'computed' });
    expect(await costOf(call('2026-06-01T02:00:00+02:00'))).toEqual({ cost: '0.005', status: 'computed' });
    expect(await costOf(call('2026-10-15T12:00:00Z'))).toEqual({ cost: '0.005', status: 'computed' });
  });

  it('leaves a record before the first version unpriced, not free', async () => {
    await createModel(t, admin, {
      provider: 'acmeai',
      model: 'future-1',
      price: { effectiveFrom: '2026-09-01T00:00:00Z', inputPerMillion: '2', outputPerMillion: '8' },
    });
    expect(
      await costOf({
        provider: 'acmeai',
        model: 'future-1',
        occurredAt: '2026-08-31T23:59:59Z',
        inputTokens: 10,
        outputTokens: 1,
      }),
    ).toEqual({ cost: null, status: 'unpriced' });
    expect(
      await costOf({
        provider: 'acmeai',
        model: 'future-1',
        occurredAt: '2026-09-01T00:00:00Z',
        inputTokens: 10,
        outputTokens: 1,
      }),
    ).toEqual({ cost: '0.000028', status: 'computed' });
  });
});

describe('built-in catalog (seeded from @pydantic/genai-prices)', () => {
  it('prices a dated gpt-4o snapshot, in any case, at gpt-4o prices (2.5 input, 10 output, 1.25 cached)', async () => {
    // 1234 × 2.5 + 567 × 10 = 3085 + 5670 = 8755 per million
    const r = usageRecord({
      occurredAt: AT,
      provider: 'openai',
      model: 'GPT-4o-2024-08-06',
      inputTokens: 1234,
      outputTokens: 567,
    });
    await ingest(t, admin, [r], { expectAccepted: true });
    expect(await stored(r.requestId)).toMatchObject({
      provider: 'openai',
      model: 'gpt-4o-2024-08-06',
      cost: '0.008755',
      cost_status: 'computed',
    });
    // 6000 × 2.5 + 4000 × 1.25 + 1000 × 10 = 15000 + 5000 + 10000 = 30000 per million
    expect(
      await costOf({
        provider: 'OpenAI',
        model: 'gpt-4o-2024-08-06',
        inputTokens: 10_000,
        cachedInputTokens: 4_000,
        outputTokens: 1_000,
      }),
    ).toEqual({ cost: '0.03', status: 'computed' });
    expect(await costOf({ provider: 'openai', model: 'gpt-4o', inputTokens: 1234, outputTokens: 567 })).toEqual({
      cost: '0.008755',
      status: 'computed',
    });
  });

  it('prefers an exact catalog entry over the family (gpt-4o-2024-05-13 costs 5 / 15)', async () => {
    expect(
      await costOf({ provider: 'openai', model: 'gpt-4o-2024-05-13', inputTokens: 1000, outputTokens: 1000 }),
    ).toEqual({ cost: '0.02', status: 'computed' });
  });

  it('prices an Anthropic dated model with cache reads and writes (3 / 15 / 0.3 read / 3.75 write)', async () => {
    // 5000 × 3 + 2000 × 0.3 + 3000 × 3.75 + 1000 × 15 = 15000 + 600 + 11250 + 15000 = 41850 per million
    expect(
      await costOf({
        provider: 'anthropic',
        model: 'claude-3-5-sonnet-20241022',
        inputTokens: 10_000,
        cachedInputTokens: 2_000,
        cacheWriteTokens: 3_000,
        outputTokens: 1_000,
      }),
    ).toEqual({ cost: '0.04185', status: 'computed' });
  });

  it('prices a cross-region Bedrock id at the Bedrock catalog entry (amazon.nova-lite-v1:0: 0.06 / 0.24 / 0.015 cached)', async () => {
    // 8000 × 0.06 + 2000 × 0.015 + 1000 × 0.24 = 480 + 30 + 240 = 750 per million
    const call = { inputTokens: 10_000, cachedInputTokens: 2_000, outputTokens: 1_000 };
    for (const [provider, model] of [
      ['bedrock', 'us.amazon.nova-lite-v1:0'],
      ['aws', 'eu.amazon.nova-lite-v1:0'],
      ['aws', 'amazon.nova-lite-v1:0'],
    ]) {
      expect(await costOf({ provider, model, ...call }), `${provider} ${model}`).toEqual({
        cost: '0.00075',
        status: 'computed',
      });
    }
  });

  it('prices an embedding call by its input tokens (text-embedding-3-small: 0.02 per million)', async () => {
    expect(
      await costOf({
        provider: 'openai',
        model: 'text-embedding-3-small',
        operation: 'embedding',
        inputTokens: 12_345,
        outputTokens: 0,
      }),
    ).toEqual({ cost: '0.0002469', status: 'computed' });
  });
});

describe('unpriced and provided costs', () => {
  it('stores an unknown model as unpriced with a null cost, never $0', async () => {
    const r = usageRecord({
      occurredAt: AT,
      provider: 'acmeai',
      model: 'no-such-model',
      inputTokens: 1000,
      outputTokens: 1000,
    });
    await ingest(t, admin, [r], { expectAccepted: true });
    const row = await stored(r.requestId);
    expect(row.cost).toBeNull();
    expect(row.cost_status).toBe('unpriced');
    expect(await costOf({ provider: 'nobody-knows', model: 'gpt-4o', inputTokens: 1000, outputTokens: 1000 })).toEqual({
      cost: null,
      status: 'unpriced',
    });
  });

  it('keeps a cost sent as a string exactly, as provided, even for a priced model', async () => {
    expect(
      await costOf({ provider: 'acmeai', model: 'tally-1', inputTokens: 1000, outputTokens: 500, cost: '0.004215' }),
    ).toEqual({ cost: '0.004215', status: 'provided' });
    expect(
      await costOf({
        provider: 'acmeai',
        model: 'unknown-x',
        inputTokens: 1,
        outputTokens: 1,
        cost: '123456789.123456789012345678',
      }),
    ).toEqual({ cost: '123456789.123456789012345678', status: 'provided' });
  });

  it('keeps a cost sent as a JSON number at the decimal it was written as', async () => {
    expect(
      await costOf({ provider: 'acmeai', model: 'tally-1', inputTokens: 1000, outputTokens: 500, cost: 0.004215 }),
    ).toEqual({ cost: '0.004215', status: 'provided' });
    expect(await costOf({ provider: 'acmeai', model: 'tally-1', inputTokens: 1, outputTokens: 1, cost: 1e-7 })).toEqual(
      {
        cost: '0.0000001',
        status: 'provided',
      },
    );
    expect(await costOf({ provider: 'acmeai', model: 'tally-1', inputTokens: 1, outputTokens: 1, cost: 0.1 })).toEqual({
      cost: '0.1',
      status: 'provided',
    });
  });

  it('keeps a provided cost of zero as provided (a free call), and equal in value to what was sent', async () => {
    expect(await costOf({ provider: 'acmeai', model: 'tally-1', inputTokens: 1, outputTokens: 1, cost: 0 })).toEqual({
      cost: '0',
      status: 'provided',
    });
    const r = usageRecord({
      occurredAt: AT,
      provider: 'acmeai',
      model: 'tally-1',
      inputTokens: 1,
      outputTokens: 1,
      cost: '1.500000',
    });
    await ingest(t, admin, [r], { expectAccepted: true });
    const [row] = (await t.db.query(
      `SELECT cost = 1.5 AS equal, cost_status FROM usage_records WHERE workspace_id = $1 AND request_id = $2`,
      [WS, r.requestId],
    )) as Array<{ equal: boolean; cost_status: string }>;
    expect(row).toEqual({ equal: true, cost_status: 'provided' });
  });
});

describe('hourly rollup', () => {
  it('equals the raw records, group by group, after everything above', async () => {
    const group = `date_trunc('hour', occurred_at, 'UTC')`;
    const fromRaw = (await t.db.query(
      `SELECT ${group} AS bucket_start, user_id, provider, model, count(*)::text AS requests,
              sum(input_tokens)::text AS input_tokens, sum(output_tokens)::text AS output_tokens,
              sum(cached_input_tokens)::text AS cached_input_tokens, sum(cache_write_tokens)::text AS cache_write_tokens,
              sum(reasoning_tokens)::text AS reasoning_tokens, sum(total_tokens)::text AS total_tokens,
              trim_scale(coalesce(sum(cost), 0))::text AS cost, count(*) FILTER (WHERE cost IS NULL)::text AS unpriced_requests
       FROM usage_records WHERE workspace_id = $1 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
      [WS],
    )) as Array<Record<string, unknown>>;
    await foldPending(t.db); // what the service's background fold does
    const fromRollup = (await t.db.query(
      `SELECT bucket_start, user_id, provider, model, requests::text, input_tokens::text, output_tokens::text,
              cached_input_tokens::text, cache_write_tokens::text, reasoning_tokens::text, total_tokens::text,
              trim_scale(cost)::text AS cost, unpriced_requests::text
       FROM usage_hourly WHERE workspace_id = $1 ORDER BY 1, 2, 3, 4`,
      [WS],
    )) as Array<Record<string, unknown>>;
    expect(fromRaw.length).toBeGreaterThan(10);
    // costs compared as exact decimals without trailing zeros (0.0100 and 0.01 are the same amount)
    expect(fromRollup).toEqual(fromRaw);

    await foldPending(t.db); // what the service's background fold does
    const [totals] = (await t.db.query(
      `SELECT (SELECT sum(cost) FROM usage_records WHERE workspace_id = $1) = (SELECT sum(cost) FROM usage_hourly WHERE workspace_id = $1) AS same_cost,
              (SELECT count(*) FROM usage_records WHERE workspace_id = $1) = (SELECT sum(requests) FROM usage_hourly WHERE workspace_id = $1) AS same_count,
              (SELECT count(*) FROM usage_records WHERE workspace_id = $1 AND cost IS NULL) AS unpriced_raw,
              (SELECT sum(unpriced_requests) FROM usage_hourly WHERE workspace_id = $1) AS unpriced_rollup`,
      [WS],
    )) as Array<{ same_cost: boolean; same_count: boolean; unpriced_raw: string; unpriced_rollup: string }>;
    expect(totals).toMatchObject({ same_cost: true, same_count: true });
    expect(Number(totals!.unpriced_raw)).toBeGreaterThanOrEqual(3);
    expect(totals!.unpriced_rollup).toBe(totals!.unpriced_raw);
  });

  it('counts each dedup ledger entry once, with the record it claimed', async () => {
    const [row] = (await t.db.query(
      `SELECT (SELECT count(*) FROM usage_records WHERE workspace_id = $1)::int AS records,
              (SELECT count(*) FROM usage_request_ids WHERE workspace_id = $1)::int AS ids`,
      [WS],
    )) as Array<{ records: number; ids: number }>;
    expect(row!.ids).toBe(row!.records);
  });
});
