import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRollupFolder } from '../../src/infrastructure/persistence/pg-rollup-folder';
import { usageRecords } from '../support/records';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * An answer made of several statements reads the usage of one moment: while records arrive
 * (and the fold moves them into the rollups), a user's days, months and models add up to
 * their totals, a provider chart to its providers' totals, my usage's chart to my totals, and
 * the stats' month so far to the totals of a range that is this month.
 */

const DAY_MS = 86_400_000;
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'o3-mini'] as const;

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ poolSize: 6 });
});
afterAll(async () => t.close());

type Sums = { requests: number; totalTokens: number };
const sum = (items: Sums[]): Sums =>
  items.reduce((a, b) => ({ requests: a.requests + b.requests, totalTokens: a.totalTokens + b.totalTokens }), {
    requests: 0,
    totalTokens: 0,
  });
const sums = (s: Sums): Sums => ({ requests: s.requests, totalTokens: s.totalTokens });

describe('the Usage tab while records arrive', () => {
  it('answers every endpoint of several statements as of one moment', async () => {
    const admin = bearer(t.token('root', { role: 'admin' }));
    const member = bearer(t.token('u1', { role: 'member' }));
    const now = Date.now();
    const monthStart = new Date(Date.UTC(new Date(now).getUTCFullYear(), new Date(now).getUTCMonth(), 1));
    const thisMonth = `from=${monthStart.toISOString()}&to=${new Date(now + DAY_MS).toISOString()}&tz=UTC`;
    const range = `from=${new Date(now - 35 * DAY_MS).toISOString()}&to=${new Date(now + DAY_MS).toISOString()}&tz=Europe%2FBerlin`;

    let stopped = false;
    let batches = 0;
    const writer = (async () => {
      for (let b = 0; !stopped && b < 2_000; b += 1) {
        const records = usageRecords(10, (i) => ({
          requestId: `b${b}-${i}`,
          userId: `u${i % 2}`,
          model: MODELS[(b + i) % MODELS.length],
          occurredAt: new Date(now - ((b * 7 + i) % 30) * DAY_MS - i * 60_000).toISOString(),
          inputTokens: 10 + i,
          outputTokens: 1 + (b % 5),
        }));
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/usage/records',
          headers: admin,
          payload: { records },
        });
        expect(res.statusCode, res.body).toBe(200);
        batches += 1;
      }
    })();
    const folder = startRollupFolder(
      t.db,
      (error) => {
        throw error;
      },
      5,
    );
    const get = async (url: string, headers = admin) => {
      const res = await t.app.inject({ method: 'GET', url, headers });
      expect(res.statusCode, res.body).toBe(200);
      return res.json();
    };
    try {
      while (batches < 3) await new Promise((done) => setTimeout(done, 5));
      for (let k = 0; k < 25; k += 1) {
        const [detail, providers, mine, stats] = await Promise.all([
          get(`/v1/admin/usage/users/u1?${range}`),
          get(`/v1/admin/usage/providers?${range}&granularity=day`),
          get(`/v1/me/usage?${range}&granularity=day`, member),
          get(`/v1/admin/usage/stats?${thisMonth}`),
        ]);
        const totals = sums(detail.totals);
        expect(sum(detail.daily), `user detail, days (answer ${k})`).toEqual(totals);
        expect(sum(detail.monthly), `user detail, months (answer ${k})`).toEqual(totals);
        expect(sum(detail.models), `user detail, models (answer ${k})`).toEqual(totals);
        expect(sum(providers.series), `providers (answer ${k})`).toEqual(sum(providers.providers));
        expect(sum(mine.series), `my usage (answer ${k})`).toEqual(sums(mine.totals));
        // every record lies before now: this month so far is the whole range
        expect(sums(stats.windows.month), `stats (answer ${k})`).toEqual(sums(stats.totals));
      }
    } finally {
      stopped = true;
      await writer;
      await folder.stop();
    }
    // the answers were read while records kept arriving
    expect(batches).toBeGreaterThan(25);
  }, 120_000);
});
