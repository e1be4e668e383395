import fastifyRateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export interface RateLimitSettings {
  /** false: no request is limited */
  enabled: boolean;
  /** requests of one caller per window */
  max: number;
  windowMs: number;
}

/** Polled by orchestrators and load balancers, or the API's own description: never limited. */
function isUnlimited(request: FastifyRequest): boolean {
  const url = request.routeOptions.url ?? '';
  return (
    url === '/health' ||
    url === '/health/ready' ||
    url === '/openapi.json' ||
    url === '/docs' ||
    url.startsWith('/docs/')
  );
}

/** The caller a request counts against: its API key, its user, or else its address. */
export function rateLimitKey(request: FastifyRequest): string {
  const principal = request.principal;
  if (principal?.kind === 'api-key') return `key:${principal.keyId}`;
  // as JSON: a workspace id may hold ':' and a user id anything, so joined they could collide
  if (principal?.kind === 'user') return `user:${JSON.stringify([principal.workspaceId, principal.userId])}`;
  return `ip:${normalizeIP(request.ip)}`;
}

/**
 * Limits every route registered after it, per API key, user or anonymous address (in memory,
 * one counter per caller and fixed window). The check is the last onRequest hook of each
 * route, so it runs after the route's authentication (also an onRequest hook) has set
 * `request.principal`, and before the body is read: a limited client's batch is never parsed.
 * A request refused by authentication is not counted. Over the limit: 429 `rate_limited` in
 * the one error shape, with `Retry-After` (seconds) and the `x-ratelimit-*` headers.
 */
export async function registerRateLimit(app: FastifyInstance, settings: RateLimitSettings): Promise<void> {
  if (!settings.enabled) return;
  const windowSeconds = Math.ceil(settings.windowMs / 1000);
  await app.register(fastifyRateLimit, {
    global: true,
    hook: 'onRequest',
    max: settings.max,
    timeWindow: settings.windowMs,
    keyGenerator: rateLimitKey,
    allowList: (request) => isUnlimited(request),
    errorResponseBuilder: (_request, context) =>
      Object.assign(
        new Error(
          `rate limit exceeded: at most ${context.max} requests per ${windowSeconds} s; retry in ${context.after}`,
        ),
        { statusCode: context.statusCode, code: 'rate_limited' },
      ),
  });
}
