import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Decimal } from '../../src/domain/decimal';
import { settleQuotaDeltas } from '../../src/infrastructure/persistence/pg-repricing';
import { ingest, usageRecord } from '../support/records';
import { locksTakenBeforeHeldRow } from '../support/row-locks';
import { addModel, addPrice } from '../support/pricing';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * A user's quota count follows a re-pricing of their period. Clock 2026-12-05 12:00 UTC, the
 * workspace in Europe/Berlin (period from 2026-11-30T23:00Z). acmeai tally-1 at 2 in / 8 out
 * per million, corrected from 2026-11-01 to 3 / 10:
 *   q1 2026-12-02  1,000,000 in, 0 out      2 → 3   (this period)
 *   q2 2026-11-30T23:30Z 100,000 in          0.2 → 0.3 (this period in Berlin, November in UTC)
 *   q3 2026-11-20  1,000,000 in              2 → 3   (the period before)
 */
let t: TestApp;
let admin: Record<string, string>;
const send = (method: 'POST' | 'PUT', url: string, payload: object) =>
  t.app.inject({ method, url, headers: admin, payload });
const quotaCost = async () =>
  (await t.app.inject({ method: 'GET', url: '/v1/admin/users/q/quota', headers: admin })).json().cost as {
    used: string;
  };

beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => new Date('2026-12-05T12:00:00Z') } });
  admin = bearer(t.token('root', { role: 'admin' }));
  const zone = await send('PUT', '/v1/admin/workspace', { timeZone: 'Europe/Berlin' });
  expect(zone.statusCode, zone.body).toBe(200);
  const tallyId = await addModel(
    t,
    admin,
    { provider: 'acmeai', model: 'tally-1' },
    { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion: '2', outputPerMillion: '8' },
  );
  const at = (requestId: string, occurredAt: string, inputTokens: number) =>
    usageRecord({
      requestId,
      userId: 'q',
      provider: 'acmeai',
      model: 'tally-1',
      occurredAt,
      inputTokens,
      outputTokens: 0,
    });
  await ingest(
    t,
    admin,
    [
      at('q1', '2026-12-02T10:00:00Z', 1_000_000),
      at('q2', '2026-11-30T23:30:00Z', 100_000),
      at('q3', '2026-11-20T10:00:00Z', 1_000_000),
    ],
    { expectAccepted: true },
  );
  await addPrice(t, admin, tallyId, {
    effectiveFrom: '2026-11-01T00:00:00Z',
    inputPerMillion: '3',
    outputPerMillion: '10',
  });
});
afterAll(async () => t.close());

describe('re-pricing and quotas', () => {
  it('changes the used cost of the period by its records’ difference, not by that of the period before', async () => {
    expect(await quotaCost()).toMatchObject({ used: '2.2' });
    const dry = await send('POST', '/v1/admin/repricing', {
      from: '2026-11-01T00:00:00Z',
      to: '2026-12-05T12:00:00Z',
      dryRun: true,
    });
    expect(dry.json()).toMatchObject({ difference: '2.1' });
    expect(await quotaCost()).toMatchObject({ used: '2.2' });
    const applied = await send('POST', '/v1/admin/repricing', {
      from: '2026-11-01T00:00:00Z',
      to: '2026-12-05T12:00:00Z',
      dryRun: false,
    });
    expect(applied.statusCode, applied.body).toBe(201);
    expect(await quotaCost()).toMatchObject({ used: '3.3' });
    const [before] = (await t.db.query(
      `SELECT trim_scale(cost)::text AS cost FROM quota_usage WHERE user_id = 'q' AND period_start < '2026-11-30T23:00:00Z'`,
    )) as Array<{ cost: string }>;
    expect(before?.cost).toBe('3');
  });

  it('adds a change left behind by a crash once, however many instances settle it at once', async () => {
    await t.db.query(`INSERT INTO repricing_quota_deltas (workspace_id, run_id, user_id, period_start, cost)
      VALUES ('default', '00000000-0000-4000-8000-000000000001', 'q', '2026-11-30T23:00:00Z', 0.25)`);
    await Promise.all([settleQuotaDeltas(t.db, true), settleQuotaDeltas(t.db, true), settleQuotaDeltas(t.db, true)]);
    expect(await quotaCost()).toMatchObject({ used: '3.55' });
    const [left] = (await t.db.query(`SELECT count(*)::int AS n FROM repricing_quota_deltas`)) as Array<{ n: number }>;
    expect(left!.n).toBe(0);
  });
});

describe('settling re-pricing changes beside ingest', () => {
  it('locks the quota counts in (user, period) order, as ingest adds to them', async () => {
    const users = Array.from({ length: 10 }, (_, i) => `lk-${String(i).padStart(2, '0')}`);
    // one batch per user, the last user first: the counts' rows lie in the reverse of their key order
    for (const userId of [...users].reverse()) {
      await ingest(t, admin, [usageRecord({ userId, occurredAt: '2026-12-02T10:00:00Z' })], { expectAccepted: true });
    }
    const costs = async () =>
      (await t.db.query(
        `SELECT trim_scale(cost)::text AS cost FROM quota_usage
         WHERE user_id LIKE 'lk-%' AND period_start = '2026-11-30T23:00:00Z' ORDER BY user_id`,
      )) as Array<{ cost: string }>;
    const before = await costs();
    expect(before).toHaveLength(10);
    // what an applied re-pricing leaves to settle, one change per user, written in reverse
    for (const userId of [...users].reverse()) {
      await t.db.query(
        `INSERT INTO repricing_quota_deltas (workspace_id, run_id, user_id, period_start, cost)
         VALUES ('default', '00000000-0000-4000-8000-000000000002', $1, '2026-11-30T23:00:00Z', 0.5)`,
        [userId],
      );
    }
    const locked = await locksTakenBeforeHeldRow({
      databaseUrl: t.databaseUrl,
      lockRow: `SELECT 1 FROM quota_usage WHERE workspace_id = 'default' AND user_id = $1 FOR UPDATE`,
      keys: users,
      held: users[5]!,
      run: () => settleQuotaDeltas(t.db, true),
    });
    expect(locked).toEqual([...Array(5).fill(true), ...Array(4).fill(false)]);
    // each count gained its change once: the record's cost and 0.5
    const after = await costs();
    expect(after.map((row) => row.cost)).toEqual(
      before.map((row) => Decimal.parse(row.cost).plus(Decimal.parse('0.5')).toString()),
    );
  });
});
