import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecords } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';
import { createModel } from '../support/usage-dataset';

/** The exact-sum requirement: micro-dollar costs add up exactly, in the raw records and in the rollups. */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

describe('exact sums of micro-dollar costs', () => {
  it('sums 2,000 records ingested over HTTP at a computed $0.000001 each to exactly 0.002000', async () => {
    const admin = bearer(t.token('root', { role: 'admin' }));
    await createModel(t, admin, {
      provider: 'acmeai',
      model: 'micro-1',
      price: { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion: '1', outputPerMillion: '0' },
    });

    const start = Date.parse('2026-03-01T00:00:00Z');
    for (let batch = 0; batch < 2; batch += 1) {
      const records = usageRecords(1000, (i) => {
        const n = batch * 1000 + i;
        return {
          requestId: `micro-${n}`,
          // one a minute: about 33 hourly buckets
          occurredAt: new Date(start + n * 60_000).toISOString(),
          userId: `user-${n % 7}`,
          provider: 'acmeai',
          model: 'micro-1',
          inputTokens: 1,
          outputTokens: 0,
        };
      });
      await ingest(t, admin, records, { expectAccepted: true });
    }

    const [raw] = (await t.db.query(
      `SELECT count(*)::int AS n, sum(cost)::text AS total, min(cost)::text AS min, max(cost)::text AS max,
              count(*) FILTER (WHERE cost_status <> 'computed')::int AS not_computed
       FROM usage_records WHERE workspace_id = 'default' AND model = 'micro-1'`,
    )) as Array<{ n: number; total: string; min: string; max: string; not_computed: number }>;
    expect(raw).toEqual({ n: 2000, total: '0.002000', min: '0.000001', max: '0.000001', not_computed: 0 });

    const [rollup] = (await t.db.query(
      `SELECT sum(cost)::text AS total, sum(cost) = 0.002 AS exact, sum(requests)::int AS requests,
              count(*)::int AS groups, sum(unpriced_requests)::int AS unpriced
       FROM usage_hourly WHERE workspace_id = 'default' AND model = 'micro-1'`,
    )) as Array<{ total: string; exact: boolean; requests: number; groups: number; unpriced: number }>;
    expect(rollup).toMatchObject({ total: '0.002000', exact: true, requests: 2000, unpriced: 0 });
    expect(rollup!.groups).toBeGreaterThan(30);
  });
});
