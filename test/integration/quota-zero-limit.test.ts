import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addModel } from '../support/pricing';
import { planFor, quotaOf } from '../support/quotas';
import { ingest, usageRecord } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * A limit of 0 in the quota and the users table: nothing used is 0 % (ok), any usage is past
 * it by more than any ratio, answered as the largest number JSON carries, above every other
 * user. Clock 2026-11-20 12:00 UTC; acmeai zero-1 at 2 per million input tokens, acmeai
 * unlisted not priced:
 *   z-none   tokens limit 0              0 tokens                      0 %   ok
 *   z-used   tokens limit 0             50 tokens                    past   exceeded
 *   c-none   cost limit 0, no tokens limit  1,000 unpriced tokens (cost 0)   0 %   ok
 *   c-used   cost limit 0, no tokens limit  500,000 tokens of zero-1 (cost 1)   past   exceeded
 *   over     tokens limit 1,000      2,500 tokens                  250 %   exceeded
 *   under    tokens limit 1,000        500 tokens                   50 %   ok
 *   free     unlimited                  10 tokens                   null   ok
 */
let t: TestApp;
let admin: Record<string, string>;
const PAST = Number.MAX_VALUE;

const spend = (userId: string, inputTokens: number, model = 'zero-1') =>
  ingest(t, admin, [usageRecord({ userId, provider: 'acmeai', model, inputTokens, outputTokens: 0 })], {
    expectAccepted: true,
  });

beforeAll(async () => {
  t = await createTestApp({ clock: { now: () => new Date('2026-11-20T12:00:00Z') } });
  admin = bearer(t.token('root', { role: 'admin' }));
  await addModel(
    t,
    admin,
    { provider: 'acmeai', model: 'zero-1' },
    { effectiveFrom: '2020-01-01T00:00:00Z', inputPerMillion: '2', outputPerMillion: '8' },
  );
  await planFor(t, admin, ['z-none', 'z-used'], { monthlyTokenLimit: 0 });
  await planFor(t, admin, ['c-none', 'c-used'], { monthlyTokenLimit: null, monthlyCostLimit: '0' });
  await planFor(t, admin, ['over', 'under'], { monthlyTokenLimit: 1000 });
  await planFor(t, admin, ['free'], { monthlyTokenLimit: null });
  await spend('z-none', 0);
  await spend('z-used', 50);
  await spend('c-none', 1000, 'unlisted');
  await spend('c-used', 500_000);
  await spend('over', 2500);
  await spend('under', 500);
  await spend('free', 10);
});
afterAll(async () => t.close());

describe('a limit of 0', () => {
  it('is 0 % with nothing used and past every percentage with any usage, status agreeing', async () => {
    const figures = async (userId: string) => {
      const { status, tokens, cost } = await quotaOf(t, admin, userId);
      return [status, tokens.usagePercentage, cost.usagePercentage];
    };
    expect(await figures('z-none')).toEqual(['ok', 0, null]);
    expect(await figures('z-used')).toEqual(['exceeded', PAST, null]);
    expect(await figures('c-none')).toEqual(['ok', null, 0]);
    expect(await figures('c-used')).toEqual(['exceeded', null, PAST]);
    expect(await figures('over')).toEqual(['exceeded', 250, null]);
    expect(await figures('under')).toEqual(['ok', 50, null]);
    expect((await quotaOf(t, admin, 'c-used')).cost).toMatchObject({ limit: '0', used: '1', remaining: '0' });

    // the member's own view answers the same
    const own = await t.app.inject({ method: 'GET', url: '/v1/me/quota', headers: bearer(t.token('z-used')) });
    expect(own.statusCode, own.body).toBe(200);
    expect(own.json()).toMatchObject({ status: 'exceeded', tokens: { limit: 0, used: 50, usagePercentage: PAST } });
  });

  it('sorts the users table with usage past a limit of 0 above everyone else', async () => {
    const page = async (order: 'asc' | 'desc') => {
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/admin/usage/users?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z&sort=usagePercentage&order=${order}`,
        headers: admin,
      });
      expect(res.statusCode, res.body).toBe(200);
      return (res.json().items as Array<{ userId: string; usagePercentage: number | null }>).map((u) => [
        u.userId,
        u.usagePercentage,
      ]);
    };
    expect(await page('desc')).toEqual([
      ['z-used', PAST],
      ['c-used', PAST],
      ['over', 250],
      ['under', 50],
      ['z-none', 0],
      ['c-none', 0],
      ['free', null],
    ]);
    // unlimited users last either way
    expect((await page('asc')).map(([userId]) => userId)).toEqual([
      'c-none',
      'z-none',
      'under',
      'over',
      'c-used',
      'z-used',
      'free',
    ]);
  });
});
