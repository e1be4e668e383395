import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import { planFor as planForUsers, quotaOf, reserve as reserveFor, setWorkspaceZone } from '../support/quotas';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * Quotas and pre-flight reservations on a real PostgreSQL: race-free limits, idempotent
 * retries, settlement by the usage record, expiry and release, periods in the workspace's
 * zone, and one alert per user, threshold and period.
 */
let t: TestApp;
let admin: Record<string, string>;
let now = new Date('2026-11-20T12:00:00Z');
const clock = { now: () => new Date(now) };

/** A fresh plan with these fields, and `users` put on it. */
const planFor = (users: string[], fields: object) => planForUsers(t, admin, users, fields);
const reserve = (app: TestApp, body: object, headers = admin) => reserveFor(app, headers, body);
const quota = (userId: string) => quotaOf(t, admin, userId);

/** `tokens` of usage for a user, as one record (input only), at the clock's time. */
const spend = (userId: string, tokens: number, requestId?: string) =>
  ingest(
    t,
    admin,
    [usageRecord({ userId, inputTokens: tokens, outputTokens: 0, ...(requestId ? { requestId } : {}) })],
    {
      expectAccepted: true,
    },
  );

beforeAll(async () => {
  t = await createTestApp({ clock });
  admin = bearer(t.token('root', { role: 'admin' }));
});
afterAll(async () => t.close());

describe('reservations', () => {
  it('grants exactly 10 of 100 concurrent 1-token reservations when 10 tokens remain', async () => {
    await planFor(['racer'], { monthlyTokenLimit: 1000 });
    await spend('racer', 990);
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        reserve(t, { userId: 'racer', requestId: `race-${i}`, estimatedTokens: 1 }),
      ),
    );
    const granted = answers.filter((a) => a.statusCode === 201);
    const refused = answers.filter((a) => a.statusCode === 429);
    expect(granted).toHaveLength(10);
    expect(refused).toHaveLength(90);
    for (const answer of refused) {
      expect(answer.json()).toMatchObject({ code: 'quota_exceeded', resetsAt: '2026-12-01T00:00:00.000Z' });
      expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
    }
    expect((await quota('racer')).tokens).toEqual({
      limit: 1000,
      used: 990,
      reserved: 10,
      remaining: 0,
      usagePercentage: 99,
    });
  });

  it('grants exactly 10 of 100 when the requests are split across two instances on one database', async () => {
    const second = await createTestApp({ clock, databaseUrl: t.databaseUrl });
    try {
      await planFor(['split'], { monthlyTokenLimit: 100 });
      await spend('split', 90);
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          reserve(i % 2 === 0 ? t : second, { userId: 'split', requestId: `split-${i}`, estimatedTokens: 1 }),
        ),
      );
      expect(answers.filter((a) => a.statusCode === 201)).toHaveLength(10);
      expect(answers.filter((a) => a.statusCode === 429)).toHaveLength(90);
      expect((await quota('split')).tokens).toMatchObject({ used: 90, reserved: 10, remaining: 0 });
    } finally {
      await second.app.close();
      await second.db.destroy();
    }
  });

  it('returns the same reservation for a retried request and holds it once', async () => {
    await planFor(['retrier'], { monthlyTokenLimit: 1000 });
    const first = await reserve(t, { userId: 'retrier', requestId: 'retry-1', estimatedTokens: 300 });
    expect(first.statusCode).toBe(201);
    const again = await Promise.all(
      [1, 2, 3].map(() => reserve(t, { userId: 'retrier', requestId: 'retry-1', estimatedTokens: 300 })),
    );
    for (const answer of again) {
      expect(answer.statusCode).toBe(200);
      expect(answer.json().reservationId).toBe(first.json().reservationId);
    }
    expect((await quota('retrier')).tokens).toMatchObject({ used: 0, reserved: 300, remaining: 700 });
    // the same request id for another user is a conflict, not a second hold
    expect((await reserve(t, { userId: 'someone-else', requestId: 'retry-1', estimatedTokens: 1 })).statusCode).toBe(
      409,
    );
  });

  it('answers a retry whose reservation was released, expired or settled with 409 reservation_ended, granting nothing', async () => {
    await planFor(['ender'], { monthlyTokenLimit: 1000 });
    const released = await reserve(t, { userId: 'ender', requestId: 'end-released', estimatedTokens: 500 });
    const expiring = await reserve(t, {
      userId: 'ender',
      requestId: 'end-expired',
      estimatedTokens: 100,
      ttlSeconds: 60,
    });
    const settling = await reserve(t, { userId: 'ender', requestId: 'end-settled', estimatedTokens: 100 });
    for (const first of [released, expiring, settling]) expect(first.statusCode, first.body).toBe(201);
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/v1/quota/reservations/${released.json().reservationId}`,
      headers: admin,
    });
    expect(del.statusCode).toBe(204);
    await spend('ender', 50, 'end-settled');
    now = new Date(now.getTime() + 61_000);
    // the limit is taken meanwhile: a retry granted again would go past it
    expect((await reserve(t, { userId: 'ender', requestId: 'end-other', estimatedTokens: 950 })).statusCode).toBe(201);

    for (const [requestId, how] of [
      ['end-released', 'was released'],
      ['end-expired', 'expired'],
      ['end-settled', 'was settled'],
    ] as const) {
      const retry = await reserve(t, { userId: 'ender', requestId, estimatedTokens: 100 });
      expect(retry.statusCode, retry.body).toBe(409);
      expect(retry.json()).toMatchObject({
        statusCode: 409,
        code: 'reservation_ended',
        message: expect.stringMatching(new RegExp(`requestId "${requestId}" has ended: it ${how}.*new requestId`)),
        details: [{ path: '/requestId', message: expect.stringContaining(how) }],
      });
    }
    expect((await quota('ender')).tokens).toMatchObject({ used: 50, reserved: 950, remaining: 0 });
    // a live reservation is still answered with itself, and held once
    const live = await reserve(t, { userId: 'ender', requestId: 'end-other', estimatedTokens: 950 });
    expect(live.statusCode, live.body).toBe(200);
    expect((await quota('ender')).tokens).toMatchObject({ used: 50, reserved: 950, remaining: 0 });
    // and another user's request id is the conflict it was
    const theirs = await reserve(t, { userId: 'someone-else', requestId: 'end-released', estimatedTokens: 1 });
    expect(theirs.json()).toMatchObject({ statusCode: 409, code: 'conflict' });
  });

  it('is settled by the usage record with the same requestId, whether it used more or less', async () => {
    await planFor(['settler'], { monthlyTokenLimit: 10_000 });
    const more = await reserve(t, { userId: 'settler', requestId: 'call-more', estimatedTokens: 1000 });
    await reserve(t, { userId: 'settler', requestId: 'call-less', estimatedTokens: 1000 });
    expect((await quota('settler')).tokens).toMatchObject({ used: 0, reserved: 2000, remaining: 8000 });
    await spend('settler', 1500, 'call-more');
    expect((await quota('settler')).tokens).toMatchObject({ used: 1500, reserved: 1000, remaining: 7500 });
    await spend('settler', 200, 'call-less');
    expect((await quota('settler')).tokens).toMatchObject({ used: 1700, reserved: 0, remaining: 8300 });
    // a settled reservation cannot be released
    const release = await t.app.inject({
      method: 'DELETE',
      url: `/v1/quota/reservations/${more.json().reservationId}`,
      headers: admin,
    });
    expect(release.statusCode).toBe(409);
  });

  it('is settled only by a record of its own user: another user’s record with its requestId leaves it held', async () => {
    await planFor(['owner', 'stranger'], { monthlyTokenLimit: 1000 });
    const held = await reserve(t, { userId: 'owner', requestId: 'owned-call', estimatedTokens: 900 });
    expect(held.statusCode, held.body).toBe(201);
    await spend('stranger', 10, 'owned-call');
    expect((await quota('owner')).tokens).toMatchObject({ used: 0, reserved: 900, remaining: 100 });
    expect((await quota('stranger')).tokens).toMatchObject({ used: 10, reserved: 0 });
    expect((await reserve(t, { userId: 'owner', requestId: 'owned-2', estimatedTokens: 101 })).statusCode).toBe(429);
    const [row] = (await t.db.query(`SELECT status FROM quota_reservations WHERE id = $1`, [
      held.json().reservationId,
    ])) as Array<{ status: string }>;
    expect(row!.status).toBe('active');
  });

  it('stops holding budget when released or expired', async () => {
    await planFor(['holder'], { monthlyTokenLimit: 1000 });
    const released = await reserve(t, { userId: 'holder', requestId: 'hold-1', estimatedTokens: 600 });
    expect((await reserve(t, { userId: 'holder', requestId: 'hold-2', estimatedTokens: 600 })).statusCode).toBe(429);
    const del = await t.app.inject({
      method: 'DELETE',
      url: `/v1/quota/reservations/${released.json().reservationId}`,
      headers: admin,
    });
    expect(del.statusCode).toBe(204);
    const expiring = await reserve(t, { userId: 'holder', requestId: 'hold-3', estimatedTokens: 600, ttlSeconds: 60 });
    expect(expiring.statusCode).toBe(201);
    expect(new Date(expiring.json().expiresAt).getTime() - now.getTime()).toBe(60_000);
    expect((await reserve(t, { userId: 'holder', requestId: 'hold-4', estimatedTokens: 600 })).statusCode).toBe(429);
    now = new Date(now.getTime() + 61_000);
    expect((await quota('holder')).tokens).toMatchObject({ reserved: 0, remaining: 1000 });
    expect((await reserve(t, { userId: 'holder', requestId: 'hold-5', estimatedTokens: 600 })).statusCode).toBe(201);
    // an unknown reservation is 404
    const unknown = await t.app.inject({
      method: 'DELETE',
      url: '/v1/quota/reservations/00000000-0000-4000-8000-000000000000',
      headers: admin,
    });
    expect(unknown.statusCode).toBe(404);
  });

  it('lets a soft limit through, flagged, and still records usage past any limit', async () => {
    await planFor(['softie'], { monthlyTokenLimit: 100, limitType: 'soft' });
    const over = await reserve(t, { userId: 'softie', requestId: 'soft-1', estimatedTokens: 150 });
    expect(over.statusCode).toBe(201);
    expect(over.json()).toMatchObject({ allowed: true, overLimit: true });
    await spend('softie', 250, 'soft-1');
    expect(await quota('softie')).toMatchObject({
      status: 'exceeded',
      tokens: { used: 250, reserved: 0, remaining: 0, usagePercentage: 250 },
    });
  });

  it('refuses more reservations per minute than the plan allows with rate_limited', async () => {
    await planFor(['hasty'], { requestsPerMinute: 2 });
    expect((await reserve(t, { userId: 'hasty', requestId: 'rpm-1', estimatedTokens: 1 })).statusCode).toBe(201);
    expect((await reserve(t, { userId: 'hasty', requestId: 'rpm-2', estimatedTokens: 1 })).statusCode).toBe(201);
    const third = await reserve(t, { userId: 'hasty', requestId: 'rpm-3', estimatedTokens: 1 });
    expect(third.statusCode).toBe(429);
    expect(third.json()).toMatchObject({ code: 'rate_limited' });
    expect(Number(third.headers['retry-after'])).toBe(60);
    now = new Date(now.getTime() + 60_001);
    expect((await reserve(t, { userId: 'hasty', requestId: 'rpm-3', estimatedTokens: 1 })).statusCode).toBe(201);
  });

  it('lets a member reserve for themself only, and refuses malformed requests with the field named', async () => {
    const member = bearer(t.token('mia'));
    expect((await reserve(t, { userId: 'mia', requestId: 'mine', estimatedTokens: 5 }, member)).statusCode).toBe(201);
    expect((await reserve(t, { userId: 'bob', requestId: 'theirs', estimatedTokens: 5 }, member)).statusCode).toBe(403);
    const bad = await reserve(t, { userId: 'mia', requestId: 'bad', estimatedTokens: -1, ttlSeconds: 7200 });
    expect(bad.statusCode).toBe(400);
    expect((await reserve(t, { userId: 'mia', requestId: 'x', estimatedTokens: '5' })).statusCode).toBe(400);
    expect((await reserve(t, { userId: 'mia', requestId: 'x', estimatedTokens: 5 }, {})).statusCode).toBe(401);
  });

  it('checks a cost limit with the estimate sent, or the model’s dearest rate', async () => {
    await planFor(['spender'], { monthlyCostLimit: '1.00' });
    // gpt-4o: $10 per million output tokens is its dearest rate: 100,000 tokens ≈ $1
    expect(
      (
        await reserve(t, {
          userId: 'spender',
          requestId: 'c-1',
          estimatedTokens: 100_001,
          provider: 'openai',
          model: 'gpt-4o',
        })
      ).statusCode,
    ).toBe(429);
    const fits = await reserve(t, { userId: 'spender', requestId: 'c-2', estimatedTokens: 1, estimatedCost: '0.60' });
    expect(fits.statusCode).toBe(201);
    expect(
      (await reserve(t, { userId: 'spender', requestId: 'c-3', estimatedTokens: 1, estimatedCost: '0.41' })).statusCode,
    ).toBe(429);
    // an unpriced model and no estimate: the cost limit cannot apply
    expect(
      (
        await reserve(t, {
          userId: 'spender',
          requestId: 'c-4',
          estimatedTokens: 1,
          provider: 'acme',
          model: 'unknown',
        })
      ).statusCode,
    ).toBe(201);
    expect((await quota('spender')).cost).toMatchObject({ limit: '1', reserved: '0.6', used: '0' });
  });
});

describe('reservations in cloud mode', () => {
  it('refuses a cost estimate with 400 naming /estimatedCost, and reserves tokens without one', async () => {
    const cloud = await createTestApp({ deploymentMode: 'cloud', clock, databaseUrl: t.databaseUrl });
    try {
      await planFor(['cloudy'], { monthlyTokenLimit: 1000 });
      const body = { userId: 'cloudy', requestId: 'cloud-cost', estimatedTokens: 10 };
      const refused = await reserve(cloud, { ...body, estimatedCost: '0.50' });
      expect(refused.statusCode, refused.body).toBe(400);
      expect(refused.json()).toMatchObject({
        code: 'validation_failed',
        details: [{ path: '/estimatedCost', message: 'not accepted when DEPLOYMENT_MODE=cloud' }],
      });
      expect((await quota('cloudy')).tokens).toMatchObject({ reserved: 0 });
      expect((await reserve(cloud, body)).statusCode).toBe(201);
    } finally {
      await cloud.app.close();
      await cloud.db.destroy();
    }
  });
});

describe('quota periods', () => {
  it('counts usage in the calendar month of the workspace’s zone, as the Usage tab does, and resets on the 1st', async () => {
    await setWorkspaceZone(t, admin, 'Europe/Berlin');
    await planFor(['berliner'], { monthlyTokenLimit: 10_000 });
    now = new Date('2026-11-30T22:30:00Z'); // 23:30 on 30 November in Berlin
    await spend('berliner', 700);
    const november = await quota('berliner');
    expect(november).toMatchObject({
      periodStart: '2026-10-31T23:00:00.000Z',
      resetsAt: '2026-11-30T23:00:00.000Z',
      tokens: { used: 700 },
    });
    const tab = await t.app.inject({
      method: 'GET',
      url: `/v1/admin/usage/users/berliner?from=${november.periodStart}&to=${november.resetsAt}&tz=Europe/Berlin`,
      headers: admin,
    });
    expect(tab.json().totals.totalTokens).toBe(700);

    now = new Date('2026-11-30T23:30:00Z'); // 00:30 on 1 December in Berlin
    await spend('berliner', 50);
    expect(await quota('berliner')).toMatchObject({
      periodStart: '2026-11-30T23:00:00.000Z',
      resetsAt: '2026-12-31T23:00:00.000Z',
      status: 'ok',
      tokens: { used: 50, usagePercentage: 0.5 },
    });
  });

  it('recounts the current period when the zone changes', async () => {
    now = new Date('2026-11-30T23:30:00Z');
    // in UTC it is still November: the 700 tokens of 22:30 count again
    await t.app.inject({ method: 'PUT', url: '/v1/admin/workspace', headers: admin, payload: { timeZone: 'UTC' } });
    expect(await quota('berliner')).toMatchObject({ periodStart: '2026-11-01T00:00:00.000Z', tokens: { used: 750 } });
    const bad = await t.app.inject({
      method: 'PUT',
      url: '/v1/admin/workspace',
      headers: admin,
      payload: { timeZone: 'Mars/Olympus' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().details).toEqual([expect.objectContaining({ path: '/timeZone' })]);
  });
});

describe('the users table', () => {
  it('shows each user’s plan and usage percentage of the current period, and sorts by it', async () => {
    now = new Date('2026-11-15T12:00:00Z');
    await planFor(['u-half', 'u-tenth', 'u-over'], { monthlyTokenLimit: 2000 });
    const unlimited = await planFor(['u-free'], { monthlyTokenLimit: null });
    expect(unlimited).toBeTruthy();
    await spend('u-half', 1000);
    await spend('u-tenth', 201);
    await spend('u-over', 5000);
    await spend('u-free', 10);
    const page = async (order: string) => {
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/admin/usage/users?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z&search=u-&sort=usagePercentage&order=${order}`,
        headers: admin,
      });
      expect(res.statusCode, res.body).toBe(200);
      return res
        .json()
        .items.map((u: { userId: string; usagePercentage: number | null; plan: { name: string } }) => [
          u.userId,
          u.usagePercentage,
          u.plan.name,
        ]);
    };
    const desc = await page('desc');
    expect(desc.slice(0, 3)).toEqual([
      ['u-over', 250, expect.stringMatching(/^plan-/)],
      ['u-half', 50, expect.stringMatching(/^plan-/)],
      ['u-tenth', 10.05, expect.stringMatching(/^plan-/)],
    ]);
    // unlimited users come last either way
    expect(desc.at(-1)).toEqual(['u-free', null, expect.stringMatching(/^plan-/)]);
    expect((await page('asc')).map((row: unknown[]) => row[0])).toEqual(['u-tenth', 'u-half', 'u-over', 'u-free']);
    // sorted otherwise, the page still carries them
    const byTokens = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/usage/users?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z&search=u-half',
      headers: admin,
    });
    expect(byTokens.json().items[0]).toMatchObject({ userId: 'u-half', usagePercentage: 50 });
  });
});

describe('budget alerts', () => {
  async function alerts(userId: string): Promise<Array<{ threshold: number; period: string }>> {
    return (await t.db.query(
      `SELECT (payload->'data'->>'threshold')::int AS threshold, payload->'data'->>'periodStart' AS period
         FROM webhook_events WHERE type = 'quota.threshold_crossed' AND payload->'data'->>'userId' = $1
         ORDER BY 2, 1`,
      [userId],
    )) as Array<{ threshold: number; period: string }>;
  }

  it('emits one event per threshold crossed, once, also when one batch crosses two', async () => {
    now = new Date('2026-11-10T12:00:00Z');
    await planFor(['jumper'], { monthlyTokenLimit: 1000, alertThresholds: [50, 80, 100] });
    await spend('jumper', 400);
    expect(await alerts('jumper')).toEqual([]);
    await spend('jumper', 700); // 400 → 1100: past 50, 80 and 100 in one batch
    expect(await alerts('jumper')).toEqual([
      { threshold: 50, period: '2026-11-01T00:00:00.000Z' },
      { threshold: 80, period: '2026-11-01T00:00:00.000Z' },
      { threshold: 100, period: '2026-11-01T00:00:00.000Z' },
    ]);
    await spend('jumper', 10);
    expect(await alerts('jumper')).toHaveLength(3);
    const [event] = (await t.db.query(
      `SELECT payload FROM webhook_events WHERE payload->'data'->>'userId' = 'jumper' AND (payload->'data'->>'threshold')::int = 80`,
    )) as Array<{ payload: Record<string, unknown> }>;
    expect(event!.payload).toMatchObject({
      type: 'quota.threshold_crossed',
      data: {
        workspaceId: 'default',
        userId: 'jumper',
        plan: { name: expect.stringMatching(/^plan-/) },
        threshold: 80,
        periodStart: '2026-11-01T00:00:00.000Z',
        resetsAt: '2026-12-01T00:00:00.000Z',
        tokens: { limit: 1000, used: 1100 },
      },
    });

    // a new period starts afresh
    now = new Date('2026-12-02T12:00:00Z');
    await spend('jumper', 900);
    expect((await alerts('jumper')).filter((a) => a.period === '2026-12-01T00:00:00.000Z')).toEqual([
      { threshold: 50, period: '2026-12-01T00:00:00.000Z' },
      { threshold: 80, period: '2026-12-01T00:00:00.000Z' },
    ]);
  });

  it('alerts a user moved onto a smaller plan past its thresholds with their next usage, once each, on any instance', async () => {
    now = new Date('2026-11-10T12:00:00Z');
    await planFor(['mover'], { monthlyTokenLimit: 100_000, alertThresholds: [50, 80, 100] });
    await spend('mover', 8_500);
    expect(await alerts('mover')).toEqual([]);
    // 85 % of the new plan, though no batch will move the usage across 50 % or 80 % of it
    await planFor(['mover'], { monthlyTokenLimit: 10_000, alertThresholds: [50, 80, 100] });
    const second = await createTestApp({ clock, databaseUrl: t.databaseUrl });
    try {
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          ingest(i % 2 === 0 ? t : second, admin, [usageRecord({ userId: 'mover', inputTokens: 10, outputTokens: 0 })]),
        ),
      );
    } finally {
      await second.app.close();
      await second.db.destroy();
    }
    const november = (thresholds: number[]) =>
      thresholds.map((threshold) => ({ threshold, period: '2026-11-01T00:00:00.000Z' }));
    expect(await alerts('mover')).toEqual(november([50, 80]));
    await spend('mover', 100);
    expect(await alerts('mover')).toEqual(november([50, 80]));
    // its limit lowered below the usage: the 100 % alert with the next record
    const plan = await t.app.inject({ method: 'GET', url: '/v1/admin/users/mover/quota', headers: admin });
    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/v1/admin/plans/${plan.json().plan.id}`,
      headers: admin,
      payload: { monthlyTokenLimit: 8_000 },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    await spend('mover', 1);
    expect(await alerts('mover')).toEqual(november([50, 80, 100]));
  });

  it('alerts a user whose limit is 0 with their first usage, at every threshold, once', async () => {
    now = new Date('2026-11-10T12:00:00Z');
    await planFor(['blocked'], { monthlyTokenLimit: 0 });
    await spend('blocked', 50);
    expect((await quota('blocked')).status).toBe('exceeded');
    expect((await alerts('blocked')).map((a) => a.threshold)).toEqual([80, 100]);
    await spend('blocked', 50);
    expect((await alerts('blocked')).map((a) => a.threshold)).toEqual([80, 100]);
    // no usage, no alert
    await planFor(['idle-blocked'], { monthlyTokenLimit: 0 });
    await spend('idle-blocked', 0);
    expect(await alerts('idle-blocked')).toEqual([]);
  });

  it('gives each of many users crossing at once in one batch their own events', async () => {
    now = new Date('2026-11-10T12:00:00Z');
    const users = Array.from({ length: 150 }, (_, i) => `crowd-${String(i).padStart(3, '0')}`);
    await planFor(users, { monthlyTokenLimit: 1000, alertThresholds: [50, 100] });
    // user i spends 600 + 3i tokens: every one past 50 %, and from crowd-134 on past 100 % too
    await ingest(
      t,
      admin,
      users.map((userId, i) => usageRecord({ userId, inputTokens: 600 + 3 * i, outputTokens: 0 })),
      { expectAccepted: true },
    );
    const rows = (await t.db.query(
      `SELECT payload->'data'->>'userId' AS user_id, (payload->'data'->>'threshold')::int AS threshold,
              (payload->'data'->'tokens'->>'used')::int AS used
         FROM webhook_events WHERE type = 'quota.threshold_crossed' AND payload->'data'->>'userId' LIKE 'crowd-%'
         ORDER BY 1, 2`,
    )) as Array<{ user_id: string; threshold: number; used: number }>;
    const expected = users.flatMap((userId, i) => {
      const used = 600 + 3 * i;
      return [50, ...(used >= 1000 ? [100] : [])].map((threshold) => ({ user_id: userId, threshold, used }));
    });
    expect(expected.filter((e) => e.threshold === 100).length).toBeGreaterThan(0);
    expect(rows).toEqual(expected);
  });

  it('emits each crossing once when two instances ingest for one user at the same time', async () => {
    now = new Date('2026-11-10T12:00:00Z');
    const second = await createTestApp({ clock, databaseUrl: t.databaseUrl });
    try {
      await planFor(['twin'], { monthlyTokenLimit: 1000, alertThresholds: [50, 100] });
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          ingest(i % 2 === 0 ? t : second, admin, [usageRecord({ userId: 'twin', inputTokens: 30, outputTokens: 0 })]),
        ),
      );
      expect((await quota('twin')).tokens.used).toBe(1200);
      expect((await alerts('twin')).map((a) => a.threshold)).toEqual([50, 100]);
    } finally {
      await second.app.close();
      await second.db.destroy();
    }
  });
});
