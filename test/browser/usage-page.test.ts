/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// page.evaluate callbacks run in the browser
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../support/records';
import { createTestApp, type TestApp } from '../support/test-app';
import { adminOf, createDatasetApp, getOk, memberOf, NOW } from '../support/usage-dataset';
import { CHROMIUM, launch, screenshot, signIn } from './browser';

/**
 * The Usage page in Debian's Chromium against the service on a real port, with the shared
 * dataset (test/support/usage-dataset.ts; the service's and the browser's clock at
 * 2026-03-31T12:00Z, browser zone Europe/Berlin) plus one record at 11:50 for the live panel.
 */
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const BERLIN_30D = { from: '2026-03-01T23:00:00.000Z', to: '2026-03-31T22:00:00.000Z', tz: 'Europe/Berlin' };

let t: TestApp;
let cloud: TestApp;
let origin: string;
let cloudOrigin: string;
let browser: Browser;

const live = (requestId: string, occurredAt: string) => ({
  requestId,
  occurredAt,
  userId: 'alice',
  provider: 'openai',
  model: 'gpt-4o',
  operation: 'chat',
  inputTokens: 10,
  outputTokens: 5,
  durationMs: 300,
});

beforeAll(async () => {
  if (!CHROMIUM) return;
  t = await createDatasetApp();
  await ingest(t, adminOf(t), [live('l1', '2026-03-31T11:50:00Z')], { expectAccepted: true });
  cloud = await createTestApp({ deploymentMode: 'cloud', databaseUrl: t.databaseUrl, clock: { now: () => NOW } });
  origin = await t.app.listen({ host: '127.0.0.1', port: 0 });
  cloudOrigin = await cloud.app.listen({ host: '127.0.0.1', port: 0 });
  browser = await launch();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await cloud?.app.close();
  await t?.close();
});

/** A page at 1280 px (or `width`) in Berlin, its clock at NOW. */
async function openPage(width = 1280): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    viewport: { width, height: 900 },
    timezoneId: 'Europe/Berlin',
    locale: 'en-US',
  });
  const page = await context.newPage();
  await page.clock.install({ time: NOW });
  return { context, page };
}

const adminToken = () => t.token('root', { role: 'admin', workspaceId: 'acme' });

async function cardValue(page: Page, key: string): Promise<string | null> {
  return page.getAttribute(`[data-card="${key}"] .figure`, 'data-value');
}

async function seriousViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: {
          run: (
            o: unknown,
          ) => Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }> }>;
        };
      }
    ).axe;
    return (await axe.run({ resultTypes: ['violations'] })).violations;
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

describe.skipIf(!CHROMIUM)('the Usage page in Chromium', () => {
  it('shows cards equal to the API’s numbers for the default range (30 days in the browser’s zone)', async () => {
    const { context, page } = await openPage();
    try {
      const statsCall = page.waitForRequest((r) => r.url().includes('/v1/admin/usage/stats'));
      await signIn(page, origin, adminToken());
      const url = new URL((await statsCall).url());
      expect(Object.fromEntries(url.searchParams)).toEqual(BERLIN_30D);
      await page.waitForSelector('[data-card="requests"]');
      const api = await getOk<{
        totals: { requests: number; totalTokens: number; cost: string; errorRate: number; unpricedRequests: number };
        activeUsers: number;
      }>(t, '/v1/admin/usage/stats', adminOf(t), BERLIN_30D);
      expect(await cardValue(page, 'requests')).toBe(String(api.totals.requests));
      expect(await cardValue(page, 'tokens')).toBe(String(api.totals.totalTokens));
      expect(await cardValue(page, 'cost')).toBe(api.totals.cost);
      expect(await cardValue(page, 'active-users')).toBe(String(api.activeUsers));
      expect(await cardValue(page, 'error-rate')).toBe(String(api.totals.errorRate));
      expect(await cardValue(page, 'unpriced')).toBe(String(api.totals.unpricedRequests));
      // people read 1.2K and $0.08; the exact value is on hover
      expect(await page.getAttribute('[data-card="tokens"] .figure', 'title')).toBe(
        api.totals.totalTokens.toLocaleString('en-US'),
      );
      await page.waitForSelector('#providers figure.chart');
      await page.waitForSelector('#live [data-card="live-requests"]');
      await screenshot(page, 'admin-usage-1280');
      expect(await seriousViolations(page)).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('switching the range and the time zone changes the chart’s buckets as the API does', async () => {
    const { context, page } = await openPage();
    try {
      await signIn(page, origin, adminToken());
      await page.waitForSelector('#providers figure.chart');
      const buckets = async () =>
        JSON.parse((await page.getAttribute('#providers figure.chart', 'data-buckets'))!) as string[];
      const apiBuckets = async (query: Record<string, string>) => {
        const body = await getOk<{ series: Array<{ bucketStart: string }> }>(
          t,
          '/v1/admin/usage/providers',
          adminOf(t),
          query,
        );
        return [...new Set(body.series.map((s) => s.bucketStart))];
      };

      let call = page.waitForResponse((r) => r.url().includes('/v1/admin/usage/providers'));
      await page.selectOption('#range-preset', '7d');
      const sevenDays = new URL((await call).url()).searchParams;
      expect(Object.fromEntries(sevenDays)).toEqual({
        from: '2026-03-24T23:00:00.000Z',
        to: '2026-03-31T22:00:00.000Z',
        tz: 'Europe/Berlin',
        granularity: 'day',
      });
      await page.waitForSelector('#providers figure.chart');
      const berlin = await buckets();
      expect(berlin).toEqual(await apiBuckets(Object.fromEntries(sevenDays)));
      expect(berlin).toHaveLength(7);

      call = page.waitForResponse((r) => r.url().includes('/v1/admin/usage/providers'));
      await page.selectOption('#time-zone', 'America/New_York');
      const newYork = Object.fromEntries(new URL((await call).url()).searchParams);
      expect(newYork).toMatchObject({
        from: '2026-03-25T04:00:00.000Z',
        to: '2026-04-01T04:00:00.000Z',
        tz: 'America/New_York',
      });
      await page.waitForSelector('#providers figure.chart');
      const ny = await buckets();
      expect(ny).toEqual(await apiBuckets(newYork));
      expect(ny).not.toEqual(berlin);

      call = page.waitForResponse((r) => r.url().includes('/v1/admin/usage/providers'));
      await page.selectOption('#granularity', 'hour');
      const hourly = Object.fromEntries(new URL((await call).url()).searchParams);
      await page.waitForSelector('#providers figure.chart');
      expect(await buckets()).toEqual(await apiBuckets(hourly));
      expect(await buckets()).toHaveLength(7 * 24);
    } finally {
      await context.close();
    }
  });

  it('searches and sorts the users table, and opens a user', async () => {
    const { context, page } = await openPage();
    try {
      await signIn(page, origin, adminToken());
      await page.waitForSelector('#users tbody tr[data-user]');
      const rows = () =>
        page.$$eval('#users tbody tr[data-user]', (trs) => trs.map((tr) => tr.getAttribute('data-user')));
      const apiRows = async (query: Record<string, string>) =>
        (
          await getOk<{ items: Array<{ userId: string }> }>(t, '/v1/admin/usage/users', adminOf(t), {
            ...BERLIN_30D,
            ...query,
          })
        ).items.map((u) => u.userId);
      expect(await rows()).toEqual(await apiRows({}));

      let call = page.waitForResponse(
        (r) => r.url().includes('/v1/admin/usage/users?') && r.url().includes('search=a'),
      );
      await page.fill('#user-search', 'a');
      await call;
      await page.waitForFunction(() => document.querySelectorAll('#users tbody tr[data-user]').length > 0);
      const searched = await apiRows({ search: 'a' });
      expect([...searched].sort()).toEqual(['alice', 'carol', 'dave']);
      expect(await rows()).toEqual(searched);

      call = page.waitForResponse((r) => r.url().includes('sort=userId'));
      await page.click('button[data-sort="userId"]');
      await call;
      await page.waitForFunction(() => document.querySelector('th[aria-sort="ascending"] button[data-sort="userId"]'));
      expect(await rows()).toEqual(await apiRows({ search: 'a', sort: 'userId', order: 'asc' }));
      call = page.waitForResponse((r) => r.url().includes('order=desc') && r.url().includes('sort=userId'));
      await page.click('button[data-sort="userId"]');
      await call;
      await page.waitForFunction(() => document.querySelector('th[aria-sort="descending"] button[data-sort="userId"]'));
      expect(await rows()).toEqual(['dave', 'carol', 'alice']);

      await page.click('#users a:text-is("alice")');
      await page.waitForSelector('#recent table');
      expect(new URL(page.url()).pathname).toBe('/users/alice');
      await screenshot(page, 'user-detail-1280');
      expect(await seriousViolations(page)).toEqual([]);
      // a deep link loads the page and the same view
      await page.reload();
      await page.waitForSelector('#recent table');
      expect(await page.textContent('h1')).toBe('User alice');
    } finally {
      await context.close();
    }
  });

  it('the live panel refreshes every 30 seconds', async () => {
    const { context, page } = await openPage();
    try {
      await signIn(page, origin, adminToken());
      await page.waitForSelector('#live [data-card="live-requests"]');
      const before = Number(await cardValue(page, 'live-requests'));
      expect(before).toBe(1);
      await ingest(t, adminOf(t), [live('l2', '2026-03-31T11:55:00Z')], { expectAccepted: true, fold: false });
      const refreshed = page.waitForResponse((r) => r.url().includes('/v1/admin/usage/realtime'));
      await page.clock.fastForward(30_000);
      await refreshed;
      await page.waitForFunction(
        () => document.querySelector('[data-card="live-requests"] .figure')?.getAttribute('data-value') === '2',
      );
    } finally {
      await context.close();
    }
  });

  it('a member sees only their own usage and cannot reach the admin view', async () => {
    const { context, page } = await openPage(390);
    const adminCalls: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/v1/admin/')) adminCalls.push(r.url());
    });
    try {
      await signIn(page, origin, t.token('alice', { role: 'member', workspaceId: 'acme' }));
      await page.waitForSelector('[data-card="requests"]');
      expect(new URL(page.url()).pathname).toBe('/me');
      expect(await page.$$eval('header nav a', (as) => as.map((a) => a.textContent))).toEqual(['My usage']);
      const mine = await getOk<{ totals: { requests: number } }>(t, '/v1/me/usage', memberOf(t, 'alice'), {
        ...BERLIN_30D,
        granularity: 'day',
      });
      expect(await cardValue(page, 'requests')).toBe(String(mine.totals.requests));
      await page.waitForSelector('#my-recent table');
      await screenshot(page, 'my-usage-390');
      expect(await seriousViolations(page)).toEqual([]);

      await page.goto(`${origin}/users/bob`);
      await page.waitForSelector('h1');
      expect(await page.textContent('h1')).toBe('Admins only');
      expect(adminCalls, adminCalls.join('\n')).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('reads well at 390 px: no horizontal scrolling of the page', async () => {
    const { context, page } = await openPage(390);
    try {
      await signIn(page, origin, adminToken());
      await page.waitForSelector('#providers figure.chart');
      await page.waitForSelector('#users tbody tr');
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      const wide = await page.evaluate(() =>
        [...document.querySelectorAll('body *')]
          .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
          .slice(0, 8)
          .map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`),
      );
      expect(overflow, wide.join('\n')).toBeLessThanOrEqual(0);
      await screenshot(page, 'admin-usage-390');
    } finally {
      await context.close();
    }
  });

  it('in cloud mode no $ and no price or cost appears anywhere', async () => {
    const { context, page } = await openPage();
    try {
      const token = cloud.token('root', { role: 'admin', workspaceId: 'acme' });
      await signIn(page, cloudOrigin, token);
      await page.waitForSelector('[data-card="requests"]');
      await page.waitForSelector('#models .bars');
      await page.waitForSelector('#users tbody tr');
      expect(await page.$('[data-card="cost"]')).toBeNull();
      expect(await page.$('[data-card="unpriced"]')).toBeNull();
      // every text and attribute of the page, the time zone names aside (America/Costa_Rica)
      const text = async () =>
        page.evaluate(() => {
          const copy = document.body.cloneNode(true) as HTMLElement;
          copy.querySelector('#time-zone')?.remove();
          return copy.innerHTML;
        });
      expect(await text()).not.toMatch(/\$|price|cost/i);
      await screenshot(page, 'admin-usage-cloud');
      await page.click('#users a:text-is("alice")');
      await page.waitForSelector('#recent table');
      expect(await text()).not.toMatch(/\$|price|cost/i);
      await page.click('header nav a:text-is("My usage")');
      await page.waitForSelector('#series');
      await page.waitForSelector('#my-recent table, #my-recent .state-empty');
      expect(await text()).not.toMatch(/\$|price|cost/i);
    } finally {
      await context.close();
    }
  });
});
