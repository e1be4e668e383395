import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainEndpoint } from '../../bench/plans';
import { ingest, usageRecords } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/** The bench's plans of an endpoint: every statement the endpoint sends, run again under EXPLAIN. */

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

describe('the bench’s plans of an endpoint', () => {
  it('records each statement of an answer read in one snapshot and explains it', async () => {
    const admin = bearer(t.token('root', { role: 'admin' }));
    await ingest(
      t,
      admin,
      usageRecords(6, (i) => ({ userId: `u${i % 2}`, occurredAt: new Date(Date.now() - i * 3_600_000).toISOString() })),
      { expectAccepted: true },
    );
    const now = Date.now();
    const path = `/v1/admin/usage/providers?from=${new Date(now - 7 * 86_400_000).toISOString()}&to=${new Date(now + 86_400_000).toISOString()}&tz=Asia%2FKolkata&granularity=day`;
    const plans = await explainEndpoint(t.databaseUrl, 'default', 3650, path);
    // the providers' totals and their chart
    expect(plans.statements).toHaveLength(2);
    for (const { plan } of plans.statements) expect(plan).toMatch(/Execution Time: [\d.]+ ms/);
  });
});
