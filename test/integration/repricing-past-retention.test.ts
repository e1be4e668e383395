import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLLUPS, GRAINS } from '../../src/infrastructure/persistence/rollup-registry';
import { ingest, usageRecord } from '../support/records';
import { addModel, addPrice } from '../support/pricing';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * Re-pricing October 2026 after its raw partition was dropped, from the hourly rollup.
 * acmeai tally-1 at ingest: 2 in / 0.5 cached / 8 out per million; the correction from
 * 2026-10-01: 3 / 1 / 10; another version from 2026-10-08 10:30: 4 / 1 / 12.
 *   10-05 10h  r1 1,000,000 in, 100,000 out                          2.8 → 4.0
 *              r2   500,000 in (200,000 cached), 50,000 out (10,000 reasoning)
 *                                                                     1.1 → 1.6
 *   10-06 10h  r3 cost 5.00 as the client sent it; r4 100,000 in      the hour mixes them: left
 *   10-07 10h  m1 mystery-1 200,000 in, 50,000 out, unpriced → 1 / 2  0 → 0.3
 *   10-08 10h  r5 at 10:45, 100,000 in                                a version starts at 10:30: left
 */
let t: TestApp;
let admin: Record<string, string>;
const OCT = { from: '2026-10-01T00:00:00Z', to: '2026-11-01T00:00:00Z' };
const post = (url: string, payload: object) => t.app.inject({ method: 'POST', url, headers: admin, payload });
const reprice = (dryRun: boolean, range: object = OCT) => post('/v1/admin/repricing', { ...range, dryRun });
const stats = async () =>
  (
    await t.app.inject({ method: 'GET', url: `/v1/admin/usage/stats?from=${OCT.from}&to=${OCT.to}`, headers: admin })
  ).json().totals as { cost: string; unpricedRequests: number; requests: number };

/** Each rollup's October sums of what re-pricing changes: every rollup must agree with the others. */
async function octoberSums(): Promise<Array<{ table: string; cost: string; unpriced: string }>> {
  const sums = [];
  for (const rollup of ROLLUPS.filter((r) => !r.rawWindowOnly)) {
    const time = GRAINS[rollup.grain].column;
    const [row] = (await t.db.query(
      `SELECT trim_scale(sum(cost))::text AS cost, sum(unpriced_requests)::text AS unpriced FROM ${rollup.table}
       WHERE ${time} >= $1 AND ${time} < $2`,
      [OCT.from, OCT.to],
    )) as Array<{ cost: string; unpriced: string }>;
    sums.push({ table: rollup.table, ...row! });
  }
  return sums;
}

beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => new Date('2026-12-05T12:00:00Z') } });
  admin = bearer(t.token('root', { role: 'admin' }));
  const tallyId = await addModel(
    t,
    admin,
    { provider: 'acmeai', model: 'tally-1' },
    {
      effectiveFrom: '2020-01-01T00:00:00Z',
      inputPerMillion: '2',
      cachedInputPerMillion: '0.5',
      outputPerMillion: '8',
    },
  );
  const at = (requestId: string, occurredAt: string, fields: object) =>
    usageRecord({ requestId, provider: 'acmeai', model: 'tally-1', occurredAt, ...fields });
  await ingest(
    t,
    admin,
    [
      at('r1', '2026-10-05T10:10:00Z', { inputTokens: 1_000_000, outputTokens: 100_000 }),
      at('r2', '2026-10-05T10:50:00Z', {
        inputTokens: 500_000,
        cachedInputTokens: 200_000,
        outputTokens: 50_000,
        reasoningTokens: 10_000,
      }),
      at('r3', '2026-10-06T10:05:00Z', { inputTokens: 1_000_000, outputTokens: 0, cost: '5.00' }),
      at('r4', '2026-10-06T10:20:00Z', { inputTokens: 100_000, outputTokens: 0 }),
      at('m1', '2026-10-07T10:00:00Z', { model: 'mystery-1', inputTokens: 200_000, outputTokens: 50_000 }),
      at('r5', '2026-10-08T10:45:00Z', { inputTokens: 100_000, outputTokens: 0 }),
    ],
    { expectAccepted: true },
  );
  // retention dropped October's raw records; its rollups stay
  await t.db.query('DROP TABLE usage_records_p202610');
  for (const price of [
    { effectiveFrom: '2026-10-01T00:00:00Z', inputPerMillion: '3', cachedInputPerMillion: '1', outputPerMillion: '10' },
    { effectiveFrom: '2026-10-08T10:30:00Z', inputPerMillion: '4', cachedInputPerMillion: '1', outputPerMillion: '12' },
  ]) {
    await addPrice(t, admin, tallyId, price);
  }
  await addModel(
    t,
    admin,
    { provider: 'acmeai', model: 'mystery-1' },
    { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion: '1', outputPerMillion: '2' },
  );
});
afterAll(async () => t.close());

const SKIPPED = [
  {
    from: '2026-10-06T10:00:00.000Z',
    to: '2026-10-06T11:00:00.000Z',
    reason: expect.stringContaining('a cost the client provided'),
  },
  {
    from: '2026-10-08T10:00:00.000Z',
    to: '2026-10-08T11:00:00.000Z',
    reason: expect.stringContaining('a price version starts within this hour'),
  },
];

describe('re-pricing a month whose raw records are gone', () => {
  let dryRun: Record<string, unknown>;

  it('prices whole hours again from their token sums, and names the hours it cannot, with why', async () => {
    const before = await stats();
    expect(before).toMatchObject({ cost: '9.3', unpricedRequests: 1, requests: 6 });
    const res = await reprice(true);
    expect(res.statusCode, res.body).toBe(200);
    dryRun = res.json();
    expect(dryRun).toMatchObject({
      records: 3,
      repriced: 3,
      costBefore: '3.9',
      costAfter: '5.9',
      difference: '2',
      unpricedBefore: 1,
      unpricedAfter: 0,
      models: [
        {
          model: 'mystery-1',
          records: 1,
          tokens: 250_000,
          costBefore: '0',
          costAfter: '0.3',
          newlyPriced: 1,
          newlyUnpriced: 0,
        },
        { model: 'tally-1', records: 2, tokens: 1_650_000, costBefore: '3.9', costAfter: '5.6', difference: '1.7' },
      ],
      skippedHours: SKIPPED,
    });
    expect(await stats()).toEqual(before);
  });

  it('applies exactly what the dry run said, to every rollup alike', async () => {
    const res = await reprice(false);
    expect(res.statusCode, res.body).toBe(201);
    expect({ ...res.json(), dryRun: true, id: null }).toEqual(dryRun);
    expect(await stats()).toMatchObject({ cost: '11.3', unpricedRequests: 0, requests: 6 });
    const sums = await octoberSums();
    for (const sum of sums)
      expect({ ...sum, table: undefined }, sum.table).toEqual({ table: undefined, cost: '11.3', unpriced: '0' });
    const [hour] = (await t.db.query(`SELECT trim_scale(sum(cost))::text AS cost FROM usage_hourly
      WHERE bucket_start = '2026-10-05T10:00:00Z'`)) as Array<{ cost: string }>;
    expect(hour!.cost).toBe('5.6');
  });

  it('a second identical re-pricing changes nothing', async () => {
    const sums = await octoberSums();
    const res = await reprice(false);
    expect(res.json()).toMatchObject({ repriced: 0, difference: '0', costBefore: '5.9', costAfter: '5.9' });
    expect(await octoberSums()).toEqual(sums);
  });

  it('leaves an hour the range holds only part of, and says so', async () => {
    const res = await reprice(true, { from: '2026-10-05T10:30:00Z', to: '2026-10-07T10:30:00Z' });
    expect(res.json()).toMatchObject({
      records: 0,
      skippedHours: [
        {
          from: '2026-10-05T10:00:00.000Z',
          to: '2026-10-05T11:00:00.000Z',
          reason: expect.stringContaining('part of'),
        },
        SKIPPED[0],
        {
          from: '2026-10-07T10:00:00.000Z',
          to: '2026-10-07T11:00:00.000Z',
          reason: expect.stringContaining('part of'),
        },
      ],
    });
  });
});
