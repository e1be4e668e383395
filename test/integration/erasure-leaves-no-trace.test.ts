import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addModel } from '../support/pricing';
import { planFor, reserve } from '../support/quotas';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';
import { rollupsAndRecomputations } from '../support/usage-checks';

/**
 * An erased user leaves no trace in any table — usage, rollups, pending rows, quota counts,
 * holds, alerts and the budget-alert events sent about them — while the others' data stays.
 * Only the plan assignment stays: it is not usage.
 */
const GONE = 'erase-me-7f3';
let t: TestApp;
let admin: Record<string, string>;

/** Every table (partitioned ones as one) with rows whose text holds `needle`, and how many. */
async function tablesNaming(needle: string): Promise<Record<string, number>> {
  const tables = (await t.db.query(
    `SELECT c.relname AS name FROM pg_class c WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
       AND c.relnamespace = 'public'::regnamespace ORDER BY 1`,
  )) as Array<{ name: string }>;
  const found: Record<string, number> = {};
  for (const { name } of tables) {
    const [row] = (await t.db.query(`SELECT count(*)::int AS n FROM ${name} x WHERE x::text LIKE $1`, [
      `%${needle}%`,
    ])) as Array<{ n: number }>;
    if (row!.n > 0) found[name] = row!.n;
  }
  return found;
}

beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => new Date('2026-12-05T12:00:00Z') } });
  admin = bearer(t.token('root', { role: 'admin' }));
  await addModel(
    t,
    admin,
    { provider: 'acmeai', model: 'tally-1' },
    { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion: '2', outputPerMillion: '8' },
  );
  // a cost limit of $1 with alerts at 50 and 100 %: each record of 400k tokens costs $0.80
  await planFor(t, admin, [GONE, 'stay'], { monthlyCostLimit: '1', alertThresholds: [50, 100] });
  const at = (requestId: string, userId: string, occurredAt: string) =>
    usageRecord({
      requestId,
      userId,
      provider: 'acmeai',
      model: 'tally-1',
      occurredAt,
      inputTokens: 400_000,
      outputTokens: 0,
    });
  await ingest(
    t,
    admin,
    [
      at('g1', GONE, '2026-12-02T10:00:00Z'),
      at('g2', GONE, '2026-11-02T10:00:00Z'),
      at('s1', 'stay', '2026-12-02T10:00:00Z'),
    ],
    { expectAccepted: true },
  );
  // still pending, and a reservation held
  await ingest(t, admin, [at('g3', GONE, '2026-12-05T11:00:00Z')], { expectAccepted: true, fold: false });
  const held = await reserve(t, admin, { userId: GONE, requestId: 'g-next', estimatedTokens: 10 });
  expect(held.statusCode, held.body).toBe(201);
});
afterAll(async () => t.close());

describe('erasure', () => {
  it('leaves no table naming the user, and the others’ usage and rollups as they were', async () => {
    const before = await tablesNaming(GONE);
    expect(before).toMatchObject({ usage_records: 3, quota_usage: 2, quota_reservations: 1, webhook_events: 3 });

    const res = await t.app.inject({ method: 'DELETE', url: `/v1/admin/users/${GONE}/usage`, headers: admin });
    expect(res.statusCode, res.body).toBe(200);
    expect(await tablesNaming(GONE)).toEqual({ user_plans: 1 });

    expect(await t.db.query(`SELECT trim_scale(cost)::text AS cost FROM quota_usage WHERE user_id = 'stay'`)).toEqual([
      { cost: '0.8' },
    ]);
    expect((await tablesNaming('stay')).webhook_events).toBe(1);
    for (const c of await rollupsAndRecomputations(t.db, { numericCost: true })) {
      expect(c.rollup, c.table).toEqual(c.recomputed);
    }
  });
});
