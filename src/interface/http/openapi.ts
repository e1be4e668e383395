import type { FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import { withoutCost } from './schemas/cost';

/**
 * How the OpenAPI document at /openapi.json is made: info, servers, tags and security schemes.
 * The document is the contract generated clients are built from (see README, "OpenAPI and
 * generated clients"); test/integration/openapi*.test.ts lint it and compile a client against it.
 * Without `showCost` (cloud mode) it knows no cost field: the routes and shared schemas come
 * without cost already (schemas/cost.ts), and request bodies, which the service reads as
 * written, are documented without cost here.
 */
export function swaggerOptions(apiVersion: string, showCost: boolean): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Tokentally',
        version: apiVersion,
        description:
          'Records every LLM call’s tokens and cost. Token convention: cachedInputTokens and cacheWriteTokens are parts of inputTokens, reasoningTokens is part of outputTokens, totalTokens = inputTokens + outputTokens. Money is a decimal string in USD.',
        license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' },
      },
      // relative: the service answers wherever this document was fetched from
      servers: [{ url: '/', description: 'this service' }],
      tags: [
        { name: 'usage', description: 'Recording usage' },
        { name: 'usage-tab', description: 'The admin Usage tab and a user’s own usage' },
        { name: 'export', description: 'Usage exported as CSV or NDJSON, streamed' },
        { name: 'models', description: 'Model catalog and prices' },
        { name: 'pricing', description: 'Pricing truth: what is unpriced, and re-pricing history (self-hosted only)' },
        { name: 'api-keys', description: 'API keys for backends' },
        { name: 'plans', description: 'Plans, per-user limits and the quota period’s time zone' },
        { name: 'quota', description: 'Quotas and pre-flight reservations' },
        { name: 'webhooks', description: 'Signed webhooks (Standard Webhooks) for budget alerts' },
        {
          name: 'proxy',
          description:
            'OpenAI- and Anthropic-compatible proxy: point an SDK at it, every call is recorded (bodies are the provider’s own)',
        },
        { name: 'status', description: 'The service’s own state for operators' },
        { name: 'health', description: 'Liveness and readiness' },
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          tokentallyKey: { type: 'apiKey', in: 'header', name: 'X-Tokentally-Key' },
        },
      },
    },
    // Routes outside /v1/ (health) need no credentials: say so with an empty `security`, so
    // that a /v1/ route without one still shows up as an undocumented requirement.
    transform: ({ schema: routeSchema, url }) => {
      const schema =
        showCost || !routeSchema?.body ? routeSchema : { ...routeSchema, body: withoutCost(routeSchema.body) };
      return { schema: url.startsWith('/v1/') || schema?.security ? schema : { ...schema, security: [] }, url };
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  };
}
