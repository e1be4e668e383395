import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addModel, addPrice } from '../support/pricing';
import { planFor, reserve } from '../support/quotas';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * Time-of-day prices: a call made inside a daily window (UTC) is priced at the window's rates.
 * The built-in deepseek-chat costs 0.135 / 0.55 per million off-peak and 0.27 / 1.1 from 00:30
 * to 16:30 UTC; acmeai peaky-1 here costs 1 / 1, and 2 / 2 from 22:00 to 02:00 UTC.
 */
let t: TestApp;
let admin: Record<string, string>;
const PEAKY = { provider: 'acmeai', model: 'peaky-1' };
const NIGHTLY = {
  effectiveFrom: '2020-01-01T00:00:00Z',
  inputPerMillion: '1',
  outputPerMillion: '1',
  timeOfDay: [{ start: '22:00', end: '02:00', inputPerMillion: '2', outputPerMillion: '2' }],
};
const MILLION = { inputTokens: 1_000_000, outputTokens: 0 };

async function costsOf(model: string): Promise<Record<string, string | null>> {
  const rows = (await t.db.query(
    `SELECT request_id, cost::text FROM usage_records WHERE model = $1 ORDER BY request_id`,
    [model],
  )) as Array<{ request_id: string; cost: string | null }>;
  return Object.fromEntries(rows.map((r) => [r.request_id, r.cost]));
}

const reprice = (from: string, to: string, model: string) =>
  t.app.inject({
    method: 'POST',
    url: '/v1/admin/repricing',
    headers: admin,
    payload: { from, to, provider: 'acmeai', model, dryRun: false },
  });

beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => new Date('2026-12-05T12:00:00Z') } });
  admin = bearer(t.token('root', { role: 'admin' }));
});
afterAll(async () => t.close());

describe('time-of-day prices', () => {
  it('price DeepSeek calls at its peak rates from 00:30 to 16:30 UTC, from the built-in catalog', async () => {
    const call = (requestId: string, time: string) =>
      usageRecord({
        requestId,
        provider: 'deepseek',
        model: 'deepseek-chat',
        occurredAt: `2026-12-01T${time}Z`,
        inputTokens: 1_000_000,
        outputTokens: 1_000_000,
      });
    await ingest(t, admin, [call('a-0029', '00:29:59.999'), call('b-0030', '00:30:00'), call('c-1630', '16:30:00')], {
      expectAccepted: true,
    });
    expect(await costsOf('deepseek-chat')).toEqual({ 'a-0029': '0.685', 'b-0030': '1.37', 'c-1630': '0.685' });
  });

  it('are taken with a workspace price, listed with it, and refused at the field when malformed', async () => {
    await addModel(t, admin, PEAKY, NIGHTLY);
    const listed = await t.app.inject({ method: 'GET', url: '/v1/admin/models?search=peaky', headers: admin });
    expect(listed.json().items[0].prices[0].timeOfDay).toEqual([
      {
        start: '22:00:00',
        end: '02:00:00',
        inputPerMillion: '2',
        outputPerMillion: '2',
        cachedInputPerMillion: null,
        cacheWritePerMillion: null,
        cacheWrite1hPerMillion: null,
        reasoningPerMillion: null,
      },
    ]);
    const gpt4o = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/models?provider=openai&search=gpt-4o',
      headers: admin,
    });
    expect(gpt4o.json().items.find((m: { model: string }) => m.model === 'gpt-4o').prices[0].timeOfDay).toEqual([]);

    for (const [window, path] of [
      [{ start: '22:00', end: '22:00:00', inputPerMillion: '2', outputPerMillion: '2' }, '/price/timeOfDay/0/end'],
      [{ start: '24:00', end: '02:00', inputPerMillion: '2', outputPerMillion: '2' }, '/price/timeOfDay/0/start'],
      [{ start: '22:00', end: '2:00', inputPerMillion: '2', outputPerMillion: '2' }, '/price/timeOfDay/0/end'],
      [{ start: '22:00', end: '02:00', inputPerMillion: '2' }, '/price/timeOfDay/0/outputPerMillion'],
      [
        { start: '22:00', end: '02:00', inputPerMillion: '2', outputPerMillion: 'x' },
        '/price/timeOfDay/0/outputPerMillion',
      ],
    ] as const) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/admin/models',
        headers: admin,
        payload: { provider: 'acmeai', model: 'bad-window', price: { ...NIGHTLY, timeOfDay: [window] } },
      });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().details.map((d: { path: string }) => d.path)).toContain(path);
    }
    expect(await t.db.query(`SELECT 1 FROM models WHERE model = 'bad-window'`)).toEqual([]);
  });

  it('price each call by the time it was made, a window running past midnight included', async () => {
    const at = (requestId: string, occurredAt: string) => usageRecord({ requestId, ...PEAKY, occurredAt, ...MILLION });
    await ingest(
      t,
      admin,
      [
        at('n-2159', '2026-12-01T21:59:59Z'),
        at('n-2200', '2026-12-01T22:00:00Z'),
        at('n-0159', '2026-12-02T01:59:59Z'),
        at('n-0200', '2026-12-02T02:00:00Z'),
      ],
      { expectAccepted: true },
    );
    expect(await costsOf('peaky-1')).toEqual({ 'n-0159': '2', 'n-0200': '1', 'n-2159': '1', 'n-2200': '2' });
  });

  it('are applied by re-pricing record by record at the time each was made', async () => {
    const [model] = (await t.db.query(
      `SELECT id FROM models WHERE model = 'peaky-1' AND workspace_id <> ''`,
    )) as Array<{
      id: string;
    }>;
    // from November the night window is 23:00 to 02:00: the 22:00 call is a day call again
    await addPrice(t, admin, model!.id, {
      ...NIGHTLY,
      effectiveFrom: '2026-11-01T00:00:00Z',
      timeOfDay: [{ ...NIGHTLY.timeOfDay[0]!, start: '23:00' }],
    });
    const res = await reprice('2026-12-01T00:00:00Z', '2026-12-03T00:00:00Z', 'peaky-1');
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ repriced: 1, costBefore: '6', costAfter: '5' });
    expect(await costsOf('peaky-1')).toEqual({ 'n-0159': '2', 'n-0200': '1', 'n-2159': '1', 'n-2200': '1' });
  });
});

describe('time-of-day prices past raw retention', () => {
  it('re-price an hour from its sums when it lies in one part of the day, and name one a window cuts', async () => {
    const id = await addModel(
      t,
      admin,
      { ...PEAKY, model: 'peaky-2' },
      {
        effectiveFrom: '2020-01-01T00:00:00Z',
        inputPerMillion: '1',
        outputPerMillion: '1',
      },
    );
    const at = (requestId: string, occurredAt: string) =>
      usageRecord({ requestId, ...PEAKY, model: 'peaky-2', occurredAt, ...MILLION });
    await ingest(
      t,
      admin,
      [
        at('o-0010', '2026-10-05T00:10:00Z'),
        at('o-0040', '2026-10-05T00:40:00Z'),
        at('o-0200', '2026-10-05T02:00:00Z'),
      ],
      { expectAccepted: true },
    );
    await t.db.query('DROP TABLE usage_records_p202610');
    // peak from 00:30: the 00:00 hour holds calls on both sides, the 02:00 hour lies in the peak
    await addPrice(t, admin, id, {
      effectiveFrom: '2026-10-01T00:00:00Z',
      inputPerMillion: '1',
      outputPerMillion: '1',
      timeOfDay: [{ start: '00:30', end: '16:30', inputPerMillion: '3', outputPerMillion: '3' }],
    });
    const res = await reprice('2026-10-01T00:00:00Z', '2026-11-01T00:00:00Z', 'peaky-2');
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({
      records: 1,
      repriced: 1,
      costBefore: '1',
      costAfter: '3',
      skippedHours: [
        {
          from: '2026-10-05T00:00:00.000Z',
          to: '2026-10-05T01:00:00.000Z',
          reason: expect.stringContaining('a daily price window opens or closes in it'),
        },
      ],
    });
  });
});

describe('time-of-day prices and reservations', () => {
  it('estimate a reservation without a cost at the dearest rate of any window the call may fall in', async () => {
    await planFor(t, admin, ['dee'], { monthlyCostLimit: '1.00' });
    const ask = (requestId: string, estimatedTokens: number) =>
      reserve(t, admin, { userId: 'dee', requestId, estimatedTokens, provider: 'deepseek', model: 'deepseek-chat' });
    // 1,000,000 tokens at the peak output rate 1.1 is more than 1 (0.55 off-peak would fit)
    expect((await ask('peak', 1_000_000)).statusCode).toBe(429);
    // 900,000 × 1.1 = 0.99
    const fits = await ask('fits', 900_000);
    expect(fits.statusCode, fits.body).toBe(201);
  });
});
