import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import type { DependencyContainer } from 'tsyringe';
import { showsCost, type DeploymentMode } from '../../domain/deployment-mode';
import { DEFAULT_PROXY, type ProxyConfig } from '../../infrastructure/config';
import { registerJwt, type JwtKeys } from './auth';
import { decodeContentEncoding } from './content-encoding';
import { registerErrorHandling } from './error-handler';
import { registerJsonBodyParser } from './json-body';
import { swaggerOptions } from './openapi';
import { registerRateLimit, type RateLimitSettings } from './rate-limit';
import { rejectUnstorableBodyText, rejectUnstorableText } from './request-text-guard';
import { apiKeyRoutes } from './routes/api-keys.route';
import { ApiKey } from './routes/api-keys.schemas';
import { healthRoutes } from './routes/health.route';
import { liveRoutes } from './routes/live.route';
import { usagePageRoutes } from './routes/usage-page.route';
import { LIVE_SCHEMAS } from './routes/live.schemas';
import { modelRoutes } from './routes/models.route';
import { pricingRoutes } from './routes/pricing.route';
import { PRICING_SCHEMAS } from './routes/pricing.schemas';
import { planRoutes } from './routes/plans.route';
import { PLAN_SCHEMAS } from './routes/plans.schemas';
import { quotaRoutes } from './routes/quota.route';
import { traceRoutes } from './routes/traces.route';
import { TRACE_SCHEMAS } from './routes/traces.schemas';
import { QUOTA_SCHEMAS } from './routes/quota.schemas';
import { Model, Price, PriceInput } from './routes/models.schemas';
import type { RouteContext } from './routes/route-context';
import { usageRecordRoutes } from './routes/usage-records.route';
import { webhookRoutes } from './routes/webhooks.route';
import { proxyRoutes } from './routes/proxy.route';
import { WEBHOOK_SCHEMAS } from './routes/webhooks.schemas';
import { userUsageErasureRoutes } from './routes/user-usage-erasure.route';
import { usageExportRoutes } from './routes/usage-export.route';
import { usageTabRoutes } from './routes/usage-tab.route';
import { USAGE_TAB_SCHEMAS } from './routes/usage-tab.schemas';
import { USAGE_RECORD_SCHEMAS } from './routes/usage-records.schemas';
import { SHARED_SCHEMAS } from './schemas/common';
import { hideCostInRoutes, withoutCostSchemas } from './schemas/cost';
import { textCoercingValidators } from './validators';
import { closeConnectionsOnceIdle } from './close-idle-connections';

export interface AppOptions {
  container: DependencyContainer;
  jwt: JwtKeys;
  deploymentMode: DeploymentMode;
  maxBatchRecords: number;
  logLevel?: string;
  /** a request's whole time to arrive, headers and body; a client that stalls gets a 408 */
  requestTimeoutMs?: number;
  /** requests per API key, user or anonymous address; absent: not limited */
  rateLimit?: RateLimitSettings;
  /** where the proxy forwards calls; absent: the providers' own APIs */
  proxy?: ProxyConfig;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export const API_VERSION = '0.1.0';

/** Builds the HTTP application; nothing listens until the caller says so. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const requestTimeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const app = Fastify({
    logger: {
      level: options.logLevel ?? 'info',
      // credentials never reach a log line, whatever logs a request's headers: provider keys
      // passed through the proxy, Tokentally API keys, tokens
      redact: {
        paths: ['authorization', 'x-api-key', 'x-tokentally-key', 'cookie'].flatMap((h) => [
          `req.headers["${h}"]`,
          `headers["${h}"]`,
        ]),
        censor: '[redacted]',
      },
    },
    requestTimeout,
    // Node checks for expired requests on this interval; its default (30 s) would double the timeout
    http: {
      requestTimeout,
      headersTimeout: Math.min(requestTimeout, 10_000),
      connectionsCheckingInterval: Math.min(1_000, requestTimeout),
    },
    schemaController: { compilersFactory: { buildValidator: textCoercingValidators() } },
    // ids in paths (a user id is up to 200 characters) may arrive percent-encoded, up to 12 characters each
    routerOptions: { maxParamLength: 2400 },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // cloud mode: no cost in any schema, shared or a route's (schemas/cost.ts)
  const showCost = showsCost(options.deploymentMode);
  const sharedSchemas = [
    ...SHARED_SCHEMAS,
    ApiKey,
    PriceInput,
    Price,
    Model,
    ...USAGE_RECORD_SCHEMAS,
    ...USAGE_TAB_SCHEMAS,
    ...PRICING_SCHEMAS,
    ...PLAN_SCHEMAS,
    ...QUOTA_SCHEMAS,
    ...WEBHOOK_SCHEMAS,
    ...TRACE_SCHEMAS,
    ...LIVE_SCHEMAS,
  ];
  for (const schema of showCost ? sharedSchemas : withoutCostSchemas(sharedSchemas)) app.addSchema(schema);
  if (!showCost) hideCostInRoutes(app);
  registerErrorHandling(app);
  closeConnectionsOnceIdle(app);
  registerJsonBodyParser(app);
  app.addHook('onRequest', rejectUnstorableText);
  // every route's parsed body too, unless its config says it takes any text (acceptsAnyBodyText)
  app.addHook('preValidation', rejectUnstorableBodyText);
  app.addHook('preParsing', decodeContentEncoding);
  await registerJwt(app, options.jwt);
  // before the routes: it limits the routes registered after it (health and the docs excepted)
  if (options.rateLimit) await registerRateLimit(app, options.rateLimit);

  await app.register(fastifySwagger, swaggerOptions(API_VERSION, showCost));
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const context: RouteContext = {
    container: options.container,
    deploymentMode: options.deploymentMode,
    maxBatchRecords: options.maxBatchRecords,
  };
  await app.register(healthRoutes, context);
  await app.register(apiKeyRoutes, context);
  await app.register(modelRoutes, context);
  await app.register(pricingRoutes, context);
  await app.register(usageRecordRoutes, context);
  await app.register(traceRoutes, context);
  await app.register(userUsageErasureRoutes, context);
  await app.register(usageTabRoutes, context);
  await app.register(usageExportRoutes, context);
  await app.register(planRoutes, context);
  await app.register(quotaRoutes, context);
  await app.register(webhookRoutes, context);
  await app.register(proxyRoutes, { ...context, upstreams: options.proxy ?? DEFAULT_PROXY });
  await app.register(liveRoutes, context);
  await app.register(usagePageRoutes);
  return app;
}
