import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/** Plans: the starter tiers, exactly one default, per-user assignments and overrides, cloud mode. */
let t: TestApp;
let admin: Record<string, string>;

interface PlanJson {
  id: string;
  name: string;
  monthlyTokenLimit: number | null;
  monthlyCostLimit?: string | null;
  limitType: string;
  alertThresholds: number[];
  requestsPerMinute: number | null;
  isDefault: boolean;
}

async function plans(headers = admin): Promise<PlanJson[]> {
  const res = await t.app.inject({ method: 'GET', url: '/v1/admin/plans', headers });
  expect(res.statusCode, res.body).toBe(200);
  return res.json().items;
}

const byName = async (name: string) => (await plans()).find((p) => p.name === name)!;

beforeAll(async () => {
  t = await createTestApp();
  admin = bearer(t.token('root', { role: 'admin' }));
});
afterAll(async () => t.close());

describe('plans', () => {
  it('starts every workspace with free, basic, pro and enterprise, hard, free the default', async () => {
    expect((await plans()).map(({ id: _id, ...plan }) => plan)).toEqual(
      [
        ['free', 10_000, true],
        ['basic', 50_000, false],
        ['pro', 200_000, false],
        ['enterprise', 1_000_000, false],
      ].map(([name, tokens, isDefault]) => ({
        name,
        monthlyTokenLimit: tokens,
        monthlyCostLimit: null,
        limitType: 'hard',
        alertThresholds: [80, 100],
        requestsPerMinute: null,
        isDefault,
      })),
    );
    // another workspace has its own
    const other = bearer(t.token('root', { role: 'admin', workspaceId: 'other' }));
    const theirs = await plans(other);
    expect(theirs.map((p) => p.name)).toEqual(['free', 'basic', 'pro', 'enterprise']);
    expect(theirs.map((p) => p.id)).not.toContain((await byName('free')).id);
  });

  it('creates a plan, refuses a taken name, and moves the default when a new one claims it', async () => {
    const create = (payload: object) =>
      t.app.inject({ method: 'POST', url: '/v1/admin/plans', headers: admin, payload });
    const team = await create({
      name: 'team',
      monthlyTokenLimit: 5_000_000,
      monthlyCostLimit: '250.50',
      limitType: 'soft',
      alertThresholds: [100, 50, 90, 50],
      requestsPerMinute: 120,
      isDefault: true,
    });
    expect(team.statusCode, team.body).toBe(201);
    expect(team.json()).toMatchObject({
      name: 'team',
      monthlyTokenLimit: 5_000_000,
      monthlyCostLimit: '250.5',
      limitType: 'soft',
      alertThresholds: [50, 90, 100],
      requestsPerMinute: 120,
      isDefault: true,
    });
    expect((await plans()).filter((p) => p.isDefault).map((p) => p.name)).toEqual(['team']);

    expect((await create({ name: 'team' })).statusCode).toBe(409);
    const bad = await create({ name: 'x', monthlyCostLimit: 12, alertThresholds: [0] });
    expect(bad.statusCode).toBe(400);

    // back to free as the default, by a change
    const free = await byName('free');
    const patched = await t.app.inject({
      method: 'PATCH',
      url: `/v1/admin/plans/${free.id}`,
      headers: admin,
      payload: { isDefault: true },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect((await plans()).filter((p) => p.isDefault).map((p) => p.name)).toEqual(['free']);
  });

  it('keeps exactly one default: it cannot be deleted or switched off', async () => {
    const free = await byName('free');
    const off = await t.app.inject({
      method: 'PATCH',
      url: `/v1/admin/plans/${free.id}`,
      headers: admin,
      payload: { isDefault: false },
    });
    expect(off.statusCode).toBe(400);
    expect(off.json().details).toEqual([expect.objectContaining({ path: '/isDefault' })]);
    const gone = await t.app.inject({ method: 'DELETE', url: `/v1/admin/plans/${free.id}`, headers: admin });
    expect(gone.statusCode).toBe(409);
    expect((await plans()).filter((p) => p.isDefault)).toHaveLength(1);
  });

  it('keeps exactly one default when plans are made the default and deleted at the same moment', async () => {
    const create = async (name: string): Promise<string> => {
      const res = await t.app.inject({ method: 'POST', url: '/v1/admin/plans', headers: admin, payload: { name } });
      expect(res.statusCode, res.body).toBe(201);
      return res.json().id;
    };
    const makeDefault = (id: string) =>
      t.app.inject({ method: 'PATCH', url: `/v1/admin/plans/${id}`, headers: admin, payload: { isDefault: true } });
    const outcomes = new Set<string>();
    for (let round = 0; round < 15; round += 1) {
      // one plan made the default while it is deleted
      const racy = await create(`racy-${round}`);
      const [made, deleted] = await Promise.all([
        makeDefault(racy),
        t.app.inject({ method: 'DELETE', url: `/v1/admin/plans/${racy}`, headers: admin }),
      ]);
      // either the change came first (the default is not deleted) or the delete (nothing to change)
      const outcome = `${made.statusCode}/${deleted.statusCode}`;
      expect(['200/409', '404/204'], `${outcome}: ${made.body} ${deleted.body}`).toContain(outcome);
      outcomes.add(outcome);
      expect((await plans()).filter((p) => p.isDefault)).toHaveLength(1);
      // two plans made the default at once: both succeed, one after the other
      const [a, b] = [await create(`twin-a-${round}`), await create(`twin-b-${round}`)];
      const answers = await Promise.all([makeDefault(a), makeDefault(b)]);
      expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200]);
      const defaults = (await plans()).filter((p) => p.isDefault);
      expect(defaults).toHaveLength(1);
      expect([a, b]).toContain(defaults[0]!.id);
    }
    // a user without a plan has the default's limits
    const quota = await t.app.inject({ method: 'GET', url: '/v1/admin/users/nobody/quota', headers: admin });
    expect(quota.statusCode, quota.body).toBe(200);
    const free = await byName('free');
    const back = await t.app.inject({
      method: 'PATCH',
      url: `/v1/admin/plans/${free.id}`,
      headers: admin,
      payload: { isDefault: true },
    });
    expect(back.statusCode).toBe(200);
  });

  it('assigns a plan with a per-user override, and a deleted plan’s users fall back to the default', async () => {
    const team = await byName('team');
    const assign = (userId: string, payload: object) =>
      t.app.inject({ method: 'PUT', url: `/v1/admin/users/${userId}/plan`, headers: admin, payload });
    expect((await assign('carol', { planId: team.id, monthlyTokenLimit: 1234 })).json()).toEqual({
      userId: 'carol',
      plan: { id: team.id, name: 'team' },
    });
    const quota = async (userId: string) =>
      (await t.app.inject({ method: 'GET', url: `/v1/admin/users/${userId}/quota`, headers: admin })).json();
    expect(await quota('carol')).toMatchObject({
      plan: { name: 'team' },
      limitType: 'soft',
      tokens: { limit: 1234 },
      cost: { limit: '250.5' },
    });
    // null: unlimited for this user
    await assign('carol', { planId: team.id, monthlyTokenLimit: null });
    expect((await quota('carol')).tokens).toMatchObject({ limit: null, remaining: null, usagePercentage: null });

    const unknown = await assign('carol', { planId: '00000000-0000-4000-8000-000000000000' });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().details).toEqual([expect.objectContaining({ path: '/planId' })]);

    expect(
      (await t.app.inject({ method: 'DELETE', url: `/v1/admin/plans/${team.id}`, headers: admin })).statusCode,
    ).toBe(204);
    expect(await quota('carol')).toMatchObject({
      plan: { name: 'free' },
      limitType: 'hard',
      tokens: { limit: 10_000 },
    });
  });

  it('applies a change of a plan at once', async () => {
    const basic = await byName('basic');
    await t.app.inject({
      method: 'PUT',
      url: '/v1/admin/users/dave/plan',
      headers: admin,
      payload: { planId: basic.id },
    });
    await ingest(t, admin, [usageRecord({ userId: 'dave', inputTokens: 4000, outputTokens: 1000 })]);
    const before = (await t.app.inject({ method: 'GET', url: '/v1/admin/users/dave/quota', headers: admin })).json();
    expect(before.tokens).toMatchObject({ limit: 50_000, used: 5000, remaining: 45_000, usagePercentage: 10 });
    await t.app.inject({
      method: 'PATCH',
      url: `/v1/admin/plans/${basic.id}`,
      headers: admin,
      payload: { monthlyTokenLimit: 6000, alertThresholds: [75] },
    });
    const after = (await t.app.inject({ method: 'GET', url: '/v1/admin/users/dave/quota', headers: admin })).json();
    expect(after).toMatchObject({
      status: 'warning',
      tokens: { limit: 6000, used: 5000, remaining: 1000, usagePercentage: 83.33 },
    });
  });

  it('lets only admins manage plans', async () => {
    const member = bearer(t.token('erin'));
    expect((await t.app.inject({ method: 'GET', url: '/v1/admin/plans', headers: member })).statusCode).toBe(403);
    expect(
      (await t.app.inject({ method: 'POST', url: '/v1/admin/plans', headers: member, payload: { name: 'mine' } }))
        .statusCode,
    ).toBe(403);
  });
});

describe('plans in cloud mode', () => {
  it('neither shows nor accepts a cost limit', async () => {
    const cloud = await createTestApp({ deploymentMode: 'cloud', databaseUrl: t.databaseUrl });
    try {
      const listed = await cloud.app.inject({ method: 'GET', url: '/v1/admin/plans', headers: admin });
      for (const plan of listed.json().items) expect(plan).not.toHaveProperty('monthlyCostLimit');
      const refused = await cloud.app.inject({
        method: 'POST',
        url: '/v1/admin/plans',
        headers: admin,
        payload: { name: 'priced', monthlyCostLimit: '10' },
      });
      expect(refused.statusCode).toBe(400);
      expect(refused.json().details).toEqual([expect.objectContaining({ path: '/monthlyCostLimit' })]);
      const quota = await cloud.app.inject({ method: 'GET', url: '/v1/me/quota', headers: admin });
      expect(quota.statusCode).toBe(200);
      expect(quota.json()).not.toHaveProperty('cost');
    } finally {
      await cloud.app.close();
      await cloud.db.destroy();
    }
  });
});
