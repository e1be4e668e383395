import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { PROJECT_ROOT } from '../../../infrastructure/project-root';

/** The built page (`npm run build:web`), shipped in the repository. */
export const USAGE_PAGE_DIR = join(PROJECT_ROOT, 'web', 'dist');

/** Paths that belong to the API: never answered with the page, even where no route matches. */
const API_PREFIXES = ['/v1/', '/health', '/docs', '/proxy', '/openapi.json', '/assets/'];

const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * The Usage page at `/`: hashed files under /assets/ cached for a year, index.html revalidated
 * every time, and every other GET outside the API answered with index.html so that deep links
 * (/users/alice, /me) load the page, which routes in the browser.
 */
export const usagePageRoutes: FastifyPluginAsync = async (app) => {
  if (!existsSync(`${USAGE_PAGE_DIR}/index.html`)) {
    app.log.warn(`no Usage page in ${USAGE_PAGE_DIR}: run npm run build:web`);
    return;
  }
  await app.register(fastifyStatic, {
    root: USAGE_PAGE_DIR,
    prefix: '/',
    wildcard: false,
    index: false,
    cacheControl: false,
    setHeaders: (res, path) => {
      res.setHeader('cache-control', path.includes('/assets/') ? IMMUTABLE : 'no-cache');
    },
  });
  const page = { schema: { hide: true } };
  const sendIndex = (reply: { sendFile: (file: string) => unknown }) => reply.sendFile('index.html');
  app.get('/', page, (_request, reply) => sendIndex(reply));
  app.get('/*', page, (request, reply) => {
    const path = request.url.split('?')[0]!;
    if (API_PREFIXES.some((prefix) => path === prefix.replace(/\/$/, '') || path.startsWith(prefix))) {
      return reply.callNotFound();
    }
    return sendIndex(reply);
  });
};
