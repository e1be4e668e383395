import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anthropicMessage, bedrockConverseOneHourCache } from '../fixtures/provider-responses';
import { addModel, addPrice } from '../support/pricing';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * Writes to Anthropic's one-hour prompt cache cost more than five-minute ones (claude-sonnet-4-5
 * in the built-in catalog: input 3, cache read 0.3, five-minute write 3.75, one-hour write 6,
 * output 15 USD per million). The fixture's usage: 312 uncached input, 12,400 read, 1,800
 * written, all to the one-hour cache, 940 output (610 thinking, priced as output):
 *   312 × 3 + 12,400 × 0.3 + 1,800 × 6 + 940 × 15 = 29,556 per million → 0.029556 USD
 * (at the five-minute rate it was 0.025506).
 */
let t: TestApp;
let admin: Record<string, string>;
const SONNET = { provider: 'anthropic', model: 'claude-sonnet-4-5' };

beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => new Date('2026-12-05T12:00:00Z') } });
  admin = bearer(t.token('root', { role: 'admin' }));
});
afterAll(async () => t.close());

async function storedRecord(requestId: string) {
  const [row] = (await t.db.query(
    `SELECT cache_write_tokens::int AS write, cache_write_1h_tokens::int AS write_1h, cost::text, cost_status
     FROM usage_records WHERE request_id = $1`,
    [requestId],
  )) as Array<{ write: number; write_1h: number; cost: string; cost_status: string }>;
  return row;
}

describe('one-hour cache writes', () => {
  it('are priced at the one-hour rate, given as Anthropic usage or in our fields', async () => {
    await ingest(
      t,
      admin,
      [
        { requestId: 'usage-1h', ...SONNET, usage: anthropicMessage.usage },
        usageRecord({
          requestId: 'ours-1h',
          ...SONNET,
          inputTokens: 14_512,
          cachedInputTokens: 12_400,
          cacheWriteTokens: 1_800,
          cacheWrite1hTokens: 1_800,
          outputTokens: 940,
          reasoningTokens: 610,
        }),
        // the same writes, 1,000 of them for five minutes: 312 × 3 + 12,400 × 0.3 + 1,000 × 3.75 + 800 × 6
        // + 940 × 15 = 27,306 per million
        {
          requestId: 'usage-split',
          ...SONNET,
          usage: {
            ...anthropicMessage.usage,
            cache_creation: { ephemeral_5m_input_tokens: 1_000, ephemeral_1h_input_tokens: 800 },
          },
        },
        // no TTL breakdown: five-minute writes, as Anthropic bills them by default
        {
          requestId: 'usage-5m',
          ...SONNET,
          usage: { ...anthropicMessage.usage, cache_creation: undefined },
        },
      ],
      { expectAccepted: true },
    );
    expect(await storedRecord('usage-1h')).toEqual({
      write: 1_800,
      write_1h: 1_800,
      cost: '0.029556',
      cost_status: 'computed',
    });
    expect(await storedRecord('ours-1h')).toEqual(await storedRecord('usage-1h'));
    expect(await storedRecord('usage-split')).toEqual({
      write: 1_800,
      write_1h: 800,
      cost: '0.027306',
      cost_status: 'computed',
    });
    expect(await storedRecord('usage-5m')).toEqual({
      write: 1_800,
      write_1h: 0,
      cost: '0.025506',
      cost_status: 'computed',
    });
  });

  it('are read from Bedrock usage’s cacheDetails as well', async () => {
    await ingest(
      t,
      admin,
      [
        {
          requestId: 'bedrock-1h',
          ...SONNET,
          usageFormat: 'bedrock.converse',
          usage: bedrockConverseOneHourCache.usage,
        },
      ],
      { expectAccepted: true },
    );
    // 410 × 3 + 3,200 × 0.3 + 212 × 3.75 + 300 × 6 + 220 × 15 = 8,085 per million
    expect(await storedRecord('bedrock-1h')).toEqual({
      write: 512,
      write_1h: 300,
      cost: '0.008085',
      cost_status: 'computed',
    });
  });

  it('must be a part of the cache writes, else the record is refused at the field', async () => {
    const reply = await ingest(t, admin, [
      usageRecord({
        requestId: 'too-many-1h',
        inputTokens: 100,
        cacheWriteTokens: 10,
        cacheWrite1hTokens: 11,
        outputTokens: 1,
      }),
      usageRecord({ requestId: 'negative-1h', cacheWrite1hTokens: -1 }),
    ]);
    expect(reply.accepted).toBe(0);
    expect(reply.rejected.map((r) => [r.requestId, r.errors.map((e) => e.path)])).toEqual([
      ['too-many-1h', ['/cacheWrite1hTokens']],
      ['negative-1h', ['/cacheWrite1hTokens']],
    ]);
    expect(await storedRecord('too-many-1h')).toBeUndefined();
  });

  it('have a rate of their own in a workspace price, listed with it, which re-pricing applies', async () => {
    const id = await addModel(
      t,
      admin,
      { provider: 'acmeai', model: 'cachy-1' },
      { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion: '1', outputPerMillion: '2' },
    );
    await ingest(
      t,
      admin,
      [
        usageRecord({
          requestId: 'cachy',
          provider: 'acmeai',
          model: 'cachy-1',
          occurredAt: '2026-12-01T10:00:00Z',
          inputTokens: 1_000_000,
          cacheWriteTokens: 600_000,
          cacheWrite1hTokens: 200_000,
          outputTokens: 0,
        }),
      ],
      { expectAccepted: true },
    );
    // no cache-write rates: every input token at 1
    expect((await storedRecord('cachy'))!.cost).toBe('1');
    const price = {
      effectiveFrom: '2026-11-01T00:00:00Z',
      inputPerMillion: '1',
      outputPerMillion: '2',
      cacheWritePerMillion: '1.25',
      cacheWrite1hPerMillion: '2',
    };
    await addPrice(t, admin, id, price);
    const listed = await t.app.inject({ method: 'GET', url: '/v1/admin/models?search=cachy', headers: admin });
    expect(listed.json().items[0].prices.at(-1)).toMatchObject({
      cacheWritePerMillion: '1.25',
      cacheWrite1hPerMillion: '2',
    });

    // 400,000 × 1 + 400,000 × 1.25 + 200,000 × 2 = 1.3 USD
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/repricing',
      headers: admin,
      payload: { from: '2026-12-01T00:00:00Z', to: '2026-12-02T00:00:00Z', provider: 'acmeai', dryRun: false },
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ repriced: 1, costBefore: '1', costAfter: '1.3' });
    expect((await storedRecord('cachy'))!.cost).toBe('1.3');
  });

  it('are exported with the record', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/usage/export?format=ndjson&from=2026-12-05T00:00:00Z&to=2026-12-06T00:00:00Z',
      headers: admin,
    });
    expect(res.statusCode, res.body).toBe(200);
    const rows = res.body
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rows.find((r) => r.requestId === 'usage-split')).toMatchObject({
      cacheWriteTokens: 1_800,
      cacheWrite1hTokens: 800,
      cost: '0.027306',
    });
  });
});
