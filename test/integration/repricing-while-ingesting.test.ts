import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecords } from '../support/records';
import { addModel, addPrice } from '../support/pricing';
import { bearer, createTestApp, type TestApp } from '../support/test-app';
import { rollupsAndRecomputations } from '../support/usage-checks';

/**
 * Re-pricing a range while ingest keeps adding records to it: ingest is never refused or
 * held up for long, every record counts once, and afterwards every record has the cost of
 * the price in force at its time, whichever side of the re-pricing it arrived on.
 */
let t: TestApp;
let admin: Record<string, string>;
const RANGE = { from: '2026-11-01T00:00:00Z', to: '2026-12-01T00:00:00Z' };
const post = (url: string, payload: object) => t.app.inject({ method: 'POST', url, headers: admin, payload });

const batch = (n: number) =>
  usageRecords(200, (i) => ({
    requestId: `b${n}-${i}`,
    userId: `u${i % 7}`,
    provider: 'acmeai',
    model: 'tally-1',
    operation: i % 2 === 0 ? 'chat' : 'embeddings',
    occurredAt: new Date(Date.parse(RANGE.from) + ((n * 200 + i) % 700) * 3_600_000 + i * 1000).toISOString(),
    inputTokens: 1000 + i,
    outputTokens: n,
  }));

beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => new Date('2026-12-05T12:00:00Z') } });
  admin = bearer(t.token('root', { role: 'admin' }));
  const tallyId = await addModel(
    t,
    admin,
    { provider: 'acmeai', model: 'tally-1' },
    { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion: '2', outputPerMillion: '8' },
  );
  for (let n = 0; n < 10; n += 1) await ingest(t, admin, batch(n), { expectAccepted: true });
  await addPrice(t, admin, tallyId, {
    effectiveFrom: '2026-11-10T00:00:00Z',
    inputPerMillion: '3',
    outputPerMillion: '10',
  });
});
afterAll(async () => t.close());

describe('re-pricing while ingest goes on', () => {
  it('keeps every record once, priced at its time, and every rollup equal to a recomputation', async () => {
    const ingesting = (async () => {
      for (let n = 10; n < 30; n += 1) {
        await ingest(t, admin, batch(n), { expectAccepted: true, fold: n % 3 === 0 });
      }
    })();
    const repricings = (async () => {
      const runs = [];
      for (let i = 0; i < 3; i += 1) {
        const res = await post('/v1/admin/repricing', { ...RANGE, dryRun: false });
        expect(res.statusCode, res.body).toBe(201);
        runs.push(res.json() as { repriced: number });
      }
      return runs;
    })();
    const [, runs] = await Promise.all([ingesting, repricings]);
    expect(runs[0]!.repriced).toBeGreaterThan(500);

    const [counted] = (await t.db.query(
      `SELECT count(*)::int AS records, count(DISTINCT request_id)::int AS ids FROM usage_records`,
    )) as Array<{ records: number; ids: number }>;
    expect(counted).toEqual({ records: 30 * 200, ids: 30 * 200 });
    // whatever arrived when: nothing is left to re-price
    const again = await post('/v1/admin/repricing', { ...RANGE, dryRun: true });
    expect(again.json()).toMatchObject({ records: 30 * 200, repriced: 0, difference: '0', unpricedAfter: 0 });
    for (const { table, rollup, recomputed } of await rollupsAndRecomputations(t.db, { numericCost: true })) {
      expect(rollup, table).toEqual(recomputed);
    }
  });
});
