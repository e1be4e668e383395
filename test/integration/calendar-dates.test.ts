import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * A date-time naming a day its month does not have (30 February, 31 April) is a client's
 * slip: JavaScript reads it as a day of the next month, and it used to be stored as that.
 * Every field of the API refuses it at its path, and nothing is stored.
 */
let t: TestApp;
let admin: Record<string, string>;

beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => new Date('2026-12-05T12:00:00Z') } });
  admin = bearer(t.token('root', { role: 'admin' }));
});
afterAll(async () => t.close());

describe('a day the month does not have', () => {
  it('is refused as a record’s occurredAt, the rest of the batch stored', async () => {
    const reply = await ingest(t, admin, [
      usageRecord({ requestId: 'april-31', occurredAt: '2026-04-31T10:00:00Z' }),
      usageRecord({ requestId: 'april-30', occurredAt: '2026-04-30T10:00:00Z' }),
    ]);
    expect(reply.accepted).toBe(1);
    expect(reply.rejected.map((r) => [r.requestId, r.errors.map((e) => e.path)])).toEqual([
      ['april-31', ['/occurredAt']],
    ]);
    const stored = (await t.db.query(`SELECT request_id FROM usage_records ORDER BY 1`)) as Array<{
      request_id: string;
    }>;
    expect(stored.map((r) => r.request_id)).toEqual(['april-30']);
  });

  it('is refused as a price’s effectiveFrom and as a range’s end', async () => {
    const model = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/models',
      headers: admin,
      payload: {
        provider: 'acmeai',
        model: 'feb-30',
        price: { effectiveFrom: '2026-02-30T00:00:00Z', inputPerMillion: '1', outputPerMillion: '1' },
      },
    });
    expect(model.statusCode, model.body).toBe(400);
    expect(model.json().details.map((d: { path: string }) => d.path)).toContain('/price/effectiveFrom');
    expect(await t.db.query(`SELECT 1 FROM models WHERE model = 'feb-30'`)).toEqual([]);

    const stats = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/usage/stats?from=2026-02-01T00:00:00Z&to=2026-02-29T00:00:00Z',
      headers: admin,
    });
    expect(stats.statusCode, stats.body).toBe(400);
    expect(stats.json().details.map((d: { path: string }) => d.path)).toContain('/querystring/to');
  });
});
