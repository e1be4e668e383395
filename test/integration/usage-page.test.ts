import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USAGE_PAGE_DIR } from '../../src/interface/http/routes/usage-page.route';
import {
  MAX_JS_GZIP_BYTES,
  openApiDocument,
  scriptSizes,
  typeErrors,
  viteBuild,
  writeClientTypes,
} from '../../scripts/build-web';
import { createTestApp, type TestApp } from '../support/test-app';

/**
 * The Usage page as the service serves it (web/dist, shipped in the repository) and as it is
 * built: cache headers, deep links, the API never shadowed, the JavaScript's size, the page
 * compiling against the current OpenAPI document, and web/dist matching its sources.
 */
let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});

afterAll(() => t.close());

const assets = () => readdirSync(join(USAGE_PAGE_DIR, 'assets'));

describe('serving the page', () => {
  it('answers / and deep links with index.html, revalidated every time', async () => {
    for (const url of ['/', '/me', '/users/alice', '/users/a%20b?x=1']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.body).toContain('<div id="app">');
    }
  });

  it('serves hashed assets cached for a year, and nothing from outside the internet-free build', async () => {
    const index = (await t.app.inject({ method: 'GET', url: '/' })).body;
    const referenced = [...index.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(referenced.length).toBeGreaterThan(0);
    expect(index).not.toMatch(/https?:\/\//);
    for (const url of referenced) {
      expect(url).toMatch(/-[\w-]{8,}\.(js|css)$/);
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    }
    for (const file of assets())
      expect(readFileSync(join(USAGE_PAGE_DIR, 'assets', file), 'utf8')).not.toMatch(/fonts\.googleapis|cdn\./);
  });

  it('never shadows the API, the health checks or the docs', async () => {
    const notFound = await t.app.inject({ method: 'GET', url: '/v1/no-such-route' });
    expect(notFound.statusCode).toBe(404);
    expect(notFound.json()).toMatchObject({ code: 'not_found' });
    for (const url of ['/proxy/openai/v1/unknown-thing', '/assets/missing-0123abcd.js', '/docs/no-such-page']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.headers['content-type'], url).not.toMatch(/^text\/html/);
    }
    expect((await t.app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' });
    expect((await t.app.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
    expect((await t.app.inject({ method: 'GET', url: '/openapi.json' })).json()).toHaveProperty('openapi');
  });

  it('loads at most 150 KB of JavaScript, gzipped', () => {
    const total = scriptSizes().reduce((n, s) => n + s.gzipBytes, 0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(MAX_JS_GZIP_BYTES);
  });
});

describe('building the page', () => {
  it('compiles against a client generated from the current OpenAPI document', async () => {
    await writeClientTypes(await openApiDocument());
    expect(typeErrors()).toEqual([]);
  }, 60_000);

  it('web/dist is what the sources build to (run npm run build:web after changing web/)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'tokentally-web-'));
    try {
      await viteBuild(out);
      const built = readdirSync(join(out, 'assets')).sort();
      expect(assets().sort()).toEqual(built);
      expect(readFileSync(join(USAGE_PAGE_DIR, 'index.html'), 'utf8')).toBe(
        readFileSync(join(out, 'index.html'), 'utf8'),
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});
