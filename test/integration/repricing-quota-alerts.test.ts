import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settleQuotaDeltas } from '../../src/infrastructure/persistence/pg-repricing';
import { addModel, addPrice } from '../support/pricing';
import { planFor, quotaOf, setWorkspaceZone } from '../support/quotas';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * A re-pricing that raises a user's quota cost sends the budget alerts ingest would have sent:
 * every threshold then reached and not yet alerted in the period. Clock 2026-12-05 12:00 UTC,
 * the workspace in Europe/Berlin (this period from 2026-11-30T23:00Z). acmeai alert-1 at 2 per
 * million input tokens, corrected from 2026-11-01 to 4:
 *   ana  plan: cost limit 10, alerts at 80 and 100 %     3,000,000 in   6 (60 %) → 12 (120 %)
 *   ben  plan without a cost limit, his own limit of 5    1,500,000 in   3 (60 %) →  6 (120 %)
 */
let t: TestApp;
let admin: Record<string, string>;
let modelId: string;
let endpointId: string;
const PERIOD = '2026-11-30T23:00:00.000Z';
const RANGE = { from: '2026-11-01T00:00:00Z', to: '2026-12-05T12:00:00Z' };

const reprice = async (model?: string) => {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/admin/repricing',
    headers: admin,
    payload: { ...RANGE, ...(model && { model }), dryRun: false },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
};
const spend = (userId: string, requestId: string, inputTokens: number, model = 'alert-1') =>
  ingest(
    t,
    admin,
    [
      usageRecord({
        requestId,
        userId,
        provider: 'acmeai',
        model,
        occurredAt: '2026-12-02T10:00:00Z',
        inputTokens,
        outputTokens: 0,
      }),
    ],
    { expectAccepted: true },
  );

interface Alert {
  user: string;
  threshold: number;
  period: string;
  cost: { limit: string; used: string } | null;
}
/** The budget alerts written, by user and threshold. */
const alerts = async () =>
  (await t.db.query(
    `SELECT payload->'data'->>'userId' AS user, (payload->'data'->>'threshold')::int AS threshold,
       payload->'data'->>'periodStart' AS period, payload->'data'->'cost' AS cost
     FROM webhook_events WHERE type = 'quota.threshold_crossed' ORDER BY 1, 2`,
  )) as Alert[];
const deliveries = async () =>
  (
    (await t.db.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1`, [
      endpointId,
    ])) as Array<{
      n: number;
    }>
  )[0]!.n;

beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => new Date('2026-12-05T12:00:00Z') } });
  admin = bearer(t.token('root', { role: 'admin' }));
  await setWorkspaceZone(t, admin, 'Europe/Berlin');
  // an endpoint subscribed to budget alerts (no worker runs here: its deliveries stay pending)
  const [endpoint] = (await t.db.query(
    `INSERT INTO webhook_endpoints (workspace_id, id, url, events, secret)
     VALUES ('default', gen_random_uuid(), 'https://example.com/hook', ARRAY['quota.threshold_crossed'], 'unused')
     RETURNING id`,
  )) as Array<{ id: string }>;
  endpointId = endpoint!.id;
  modelId = await addModel(
    t,
    admin,
    { provider: 'acmeai', model: 'alert-1' },
    { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion: '2', outputPerMillion: '8' },
  );
  await planFor(t, admin, ['ana'], { monthlyCostLimit: '10', alertThresholds: [80, 100] });
  const benPlan = await planFor(t, admin, [], { alertThresholds: [80, 100] });
  const own = await t.app.inject({
    method: 'PUT',
    url: '/v1/admin/users/ben/plan',
    headers: admin,
    payload: { planId: benPlan, monthlyCostLimit: '5' },
  });
  expect(own.statusCode, own.body).toBe(200);
  await spend('ana', 'ana-1', 3_000_000);
  await spend('ben', 'ben-1', 1_500_000);
});
afterAll(async () => t.close());

describe('budget alerts of a re-pricing', () => {
  it('sends one alert per threshold a raised quota cost passes, as ingest would', async () => {
    expect(await alerts()).toEqual([]);
    await addPrice(t, admin, modelId, {
      effectiveFrom: '2026-11-01T00:00:00Z',
      inputPerMillion: '4',
      outputPerMillion: '8',
    });
    expect(await reprice()).toMatchObject({ difference: '9' });

    expect((await quotaOf(t, admin, 'ana')).cost).toMatchObject({ used: '12' });
    expect(await alerts()).toEqual([
      { user: 'ana', threshold: 80, period: PERIOD, cost: { limit: '10', used: '12' } },
      { user: 'ana', threshold: 100, period: PERIOD, cost: { limit: '10', used: '12' } },
      { user: 'ben', threshold: 80, period: PERIOD, cost: { limit: '5', used: '6' } },
      { user: 'ben', threshold: 100, period: PERIOD, cost: { limit: '5', used: '6' } },
    ]);
    expect(await deliveries()).toBe(4);
    const [event] = (await t.db.query(
      `SELECT payload FROM webhook_events WHERE payload->'data'->>'userId' = 'ana' AND (payload->'data'->>'threshold')::int = 80`,
    )) as Array<{ payload: Record<string, unknown> }>;
    expect(event!.payload).toMatchObject({
      type: 'quota.threshold_crossed',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      data: {
        workspaceId: 'default',
        userId: 'ana',
        plan: { name: expect.stringMatching(/^plan-/) },
        threshold: 80,
        periodStart: PERIOD,
        resetsAt: '2026-12-31T23:00:00.000Z',
        tokens: { used: 3_000_000 },
        cost: { limit: '10', used: '12' },
      },
    });
  });

  it('sends nothing more when settled again or re-priced with no change', async () => {
    await settleQuotaDeltas(t.db, true);
    expect(await reprice()).toMatchObject({ difference: '0' });
    expect(await alerts()).toHaveLength(4);
    expect(await deliveries()).toBe(4);
  });

  it('sends nothing when a re-pricing lowers the cost, nor when it rises again in the same period', async () => {
    await addPrice(t, admin, modelId, {
      effectiveFrom: '2026-11-15T00:00:00Z',
      inputPerMillion: '1',
      outputPerMillion: '8',
    });
    expect(await reprice()).toMatchObject({ difference: '-13.5' });
    expect((await quotaOf(t, admin, 'ana')).cost).toMatchObject({ used: '3' });
    expect(await alerts()).toHaveLength(4);
    // back past both thresholds: each is sent once a period
    await addPrice(t, admin, modelId, {
      effectiveFrom: '2026-11-20T00:00:00Z',
      inputPerMillion: '4',
      outputPerMillion: '8',
    });
    expect(await reprice()).toMatchObject({ difference: '13.5' });
    expect((await quotaOf(t, admin, 'ana')).cost).toMatchObject({ used: '12' });
    expect(await alerts()).toHaveLength(4);
    expect(await deliveries()).toBe(4);
  });

  it('sends a crossing left behind by a crash once, however many instances settle it at once, without cost when hidden', async () => {
    // cyd at 4 of 10: a change of 5 left unsettled takes her past 80 %, not 100 %
    await planFor(t, admin, ['cyd'], { monthlyCostLimit: '10', alertThresholds: [80, 100] });
    await spend('cyd', 'cyd-1', 1_000_000);
    await t.db.query(`INSERT INTO repricing_quota_deltas (workspace_id, run_id, user_id, period_start, cost)
      VALUES ('default', '00000000-0000-4000-8000-000000000002', 'cyd', '${PERIOD}', 5)`);
    await Promise.all([settleQuotaDeltas(t.db, false), settleQuotaDeltas(t.db, false), settleQuotaDeltas(t.db, false)]);
    expect((await quotaOf(t, admin, 'cyd')).cost).toMatchObject({ used: '9' });
    expect((await alerts()).filter((a) => a.user === 'cyd')).toEqual([
      { user: 'cyd', threshold: 80, period: PERIOD, cost: null },
    ]);
    expect(await deliveries()).toBe(5);
  });
});

/**
 * The same rule as ingest: a raised cost alerts every threshold it is at or past that was not
 * alerted in the period, whoever reached it first. Each user spends on a model of their own,
 * re-priced alone (input per million, the records of 2026-12-02):
 *   dana  cost limit 0             1,000,000 of late-1, unpriced  0 → 2 (priced at 2)
 *   eli   cost limit 100, then 5   3,000,000 of late-2 at 2       6 (120 % of 5, not alerted) → 9
 *   gus   cost limit 100, then 5   3,000,000 of late-3 at 2       6 (120 %) → 4.5 (90 %) → 6
 *   fay   cost limit 10            4,500,000 of late-4 at 2       9 (80 %, by ingest) → 4.5 → 13.5
 */
describe('thresholds reached and not yet alerted', () => {
  const of = async (user: string) =>
    (await alerts()).filter((a) => a.user === user).map((a) => [a.threshold, a.cost?.used]);
  const model = (name: string, inputPerMillion: string) =>
    addModel(
      t,
      admin,
      { provider: 'acmeai', model: name },
      { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion, outputPerMillion: '8' },
    );
  const price = (id: string, effectiveFrom: string, inputPerMillion: string) =>
    addPrice(t, admin, id, { effectiveFrom, inputPerMillion, outputPerMillion: '8' });

  it('alerts a cost limit of 0 when a re-pricing prices usage that was unpriced', async () => {
    await planFor(t, admin, ['dana'], { monthlyTokenLimit: null, monthlyCostLimit: '0', alertThresholds: [80, 100] });
    await spend('dana', 'dana-1', 1_000_000, 'late-1');
    expect((await quotaOf(t, admin, 'dana')).cost).toMatchObject({ used: '0', usagePercentage: 0 });
    expect(await of('dana')).toEqual([]);

    await model('late-1', '2');
    expect(await reprice('late-1')).toMatchObject({ difference: '2' });
    expect((await quotaOf(t, admin, 'dana')).status).toBe('exceeded');
    expect((await alerts()).filter((a) => a.user === 'dana')).toEqual([
      { user: 'dana', threshold: 80, period: PERIOD, cost: { limit: '0', used: '2' } },
      { user: 'dana', threshold: 100, period: PERIOD, cost: { limit: '0', used: '2' } },
    ]);
  });

  it('alerts thresholds a smaller limit put the cost past, with the re-pricing that raises it', async () => {
    await planFor(t, admin, ['eli'], { monthlyTokenLimit: null, monthlyCostLimit: '100', alertThresholds: [80, 100] });
    const late2 = await model('late-2', '2');
    await spend('eli', 'eli-1', 3_000_000, 'late-2');
    await planFor(t, admin, ['eli'], { monthlyTokenLimit: null, monthlyCostLimit: '5', alertThresholds: [80, 100] });
    expect((await quotaOf(t, admin, 'eli')).cost).toMatchObject({ used: '6', usagePercentage: 120 });
    expect(await of('eli')).toEqual([]);

    await price(late2, '2026-11-01T00:00:00Z', '3');
    expect(await reprice('late-2')).toMatchObject({ difference: '3' });
    expect(await of('eli')).toEqual([
      [80, '9'],
      [100, '9'],
    ]);
  });

  it('sends nothing for a fall, even past a threshold not yet alerted, and each threshold once when it rises', async () => {
    await planFor(t, admin, ['gus'], { monthlyTokenLimit: null, monthlyCostLimit: '100', alertThresholds: [80, 100] });
    const late3 = await model('late-3', '2');
    await spend('gus', 'gus-1', 3_000_000, 'late-3');
    await planFor(t, admin, ['gus'], { monthlyTokenLimit: null, monthlyCostLimit: '5', alertThresholds: [80, 100] });

    await price(late3, '2026-11-01T00:00:00Z', '1.5');
    expect(await reprice('late-3')).toMatchObject({ difference: '-1.5' });
    expect((await quotaOf(t, admin, 'gus')).cost).toMatchObject({ used: '4.5', usagePercentage: 90 });
    expect(await of('gus')).toEqual([]);

    await price(late3, '2026-11-20T00:00:00Z', '2');
    expect(await reprice('late-3')).toMatchObject({ difference: '1.5' });
    expect(await of('gus')).toEqual([
      [80, '6'],
      [100, '6'],
    ]);
    expect(await reprice('late-3')).toMatchObject({ difference: '0' });
    expect(await of('gus')).toHaveLength(2);
  });

  it('never alerts a threshold ingest reached again, when a re-pricing takes the cost down and up past it', async () => {
    await planFor(t, admin, ['fay'], { monthlyTokenLimit: null, monthlyCostLimit: '10', alertThresholds: [80, 100] });
    const late4 = await model('late-4', '2');
    await spend('fay', 'fay-1', 4_500_000, 'late-4');
    expect(await of('fay')).toEqual([[80, '9']]);

    await price(late4, '2026-11-01T00:00:00Z', '1');
    expect(await reprice('late-4')).toMatchObject({ difference: '-4.5' });
    expect(await of('fay')).toEqual([[80, '9']]);

    await price(late4, '2026-11-20T00:00:00Z', '3');
    expect(await reprice('late-4')).toMatchObject({ difference: '9' });
    expect((await quotaOf(t, admin, 'fay')).cost).toMatchObject({ used: '13.5' });
    expect(await of('fay')).toEqual([
      [80, '9'],
      [100, '13.5'],
    ]);
  });
});
