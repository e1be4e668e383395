import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ManageApiKeys } from '../../../application/use-cases/manage-api-keys';
import {
  MeterProxiedCall,
  type AdmittedCall,
  type ProxiedCallOutcome,
} from '../../../application/use-cases/meter-proxied-call';
import { LimitReachedError, UnauthorizedError, ValidationError } from '../../../domain/errors';
import type { Principal } from '../../../domain/principal';
import type { ProxyConfig } from '../../../infrastructure/config';
import { countTokens } from '../../../infrastructure/tokenizer';
import { databaseUnavailable } from '../../../infrastructure/persistence/database-unavailable';
import { toErrorBody } from '../error-handler';
import { refuseDeepNesting } from '../json-body';
import { PROXY_ROUTES, type Dialect, type RequestFacts } from '../proxy/dialects';
import { forward, forwardedHeaders, type ForwardResult } from '../proxy/forward';
import { providerError } from '../proxy/provider-errors';
import type { RouteContext } from './route-context';

/** Prompts may carry images and long documents. */
const PROXY_BODY_LIMIT = 32 * 1024 * 1024;

/** Described, not checked: the provider's own request and answer (their SDKs and API references say the rest). */
const PROVIDER_BODY = Type.Object(
  {},
  { additionalProperties: true, description: 'the provider’s own request body, sent on as it came' },
);
const PROVIDER_ERROR = Type.Object(
  {},
  {
    additionalProperties: true,
    description:
      'in the provider’s error shape: OpenAI {error:{message,type,param,code}}, Anthropic {type:"error",error:{type,message}}',
  },
);
const PROVIDER_REFUSAL = Type.Object(
  {},
  {
    additionalProperties: true,
    description: 'quota or rate limit reached, with a Retry-After header; in the provider’s error shape as above',
  },
);
const PROVIDER_ANSWER = Type.Object(
  {},
  {
    additionalProperties: true,
    description: 'the provider’s own answer, JSON or a server-sent event stream; errors in the provider’s error shape',
  },
);
const MAX_USER_ID_LENGTH = 200;

export const TOKENTALLY_KEY_HEADER = 'x-tokentally-key';
export const TOKENTALLY_USER_HEADER = 'x-tokentally-user';

export interface ProxyRouteOptions extends RouteContext {
  upstreams: ProxyConfig;
}

type Provider = 'openai' | 'anthropic';

/**
 * The OpenAI- and Anthropic-compatible proxy: an SDK pointed at /proxy/openai/v1 or
 * /proxy/anthropic (baseURL) with a Tokentally API key in X-Tokentally-Key works as before,
 * and every call is recorded. The provider key in Authorization / x-api-key goes to the
 * upstream untouched and is neither stored nor logged. Bodies are read as bytes and sent on
 * as they came, but for a streamed chat call, which is asked for its usage chunk.
 */
export const proxyRoutes: FastifyPluginAsync<ProxyRouteOptions> = async (app, options) => {
  const apiKeys = options.container.resolve(ManageApiKeys);
  const meter = options.container.resolve(MeterProxiedCall);
  const upstreamBase: Record<Provider, string> = {
    openai: options.upstreams.openaiUpstreamUrl,
    anthropic: options.upstreams.anthropicUpstreamUrl,
  };

  // the records of calls that ended are stored before the database goes, also those whose
  // tokens the tokenizer is still counting
  const counting = new Set<Promise<void>>();
  const track = (recorded: Promise<void>): void => {
    counting.add(recorded);
    void recorded.finally(() => counting.delete(recorded));
  };
  app.addHook('onClose', async () => {
    await Promise.allSettled(counting);
    await meter.drain();
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: PROXY_BODY_LIMIT }, (_request, body, done) =>
    done(null, body),
  );
  // refusals in the provider's own shape, so that the client's SDK raises its usual errors
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const provider = providerOfUrl(request.url);
    const body = toErrorBody(error);
    if (body.statusCode === 503) {
      reply.header('retry-after', String((databaseUnavailable(error) ?? { retryAfterSeconds: 2 }).retryAfterSeconds));
    } else if (body.statusCode >= 500) {
      request.log.error({ err: error }, 'proxy request failed');
    }
    if (error instanceof LimitReachedError) {
      reply.header('retry-after', String(error.retryAfterSeconds));
      // a used-up quota is not over when an SDK's retry comes; a rate limit may be
      if (error.code === 'quota_exceeded') reply.header('x-should-retry', 'false');
    }
    return reply.status(body.statusCode).send(providerError(provider, body.statusCode, body.code, body.message));
  });

  for (const route of PROXY_ROUTES) {
    const prefix = route.provider === 'openai' ? '/proxy/openai' : '/proxy/anthropic';
    app.post(
      `${prefix}${route.path}`,
      {
        onRequest: async (request) => {
          request.principal = await authenticate(apiKeys, request.headers[TOKENTALLY_KEY_HEADER]);
        },
        schema: {
          operationId: `proxy${route.provider === 'openai' ? 'OpenAi' : 'Anthropic'}${route.name.replace(/ /g, '')}`,
          tags: ['proxy'],
          summary: `${route.provider === 'openai' ? 'OpenAI' : 'Anthropic'} ${route.name} API, forwarded to ${
            route.provider === 'openai' ? 'OPENAI_UPSTREAM_URL' : 'ANTHROPIC_UPSTREAM_URL'
          } and recorded; the body and the answer (JSON or a server-sent event stream) are the provider's own`,
          security: [{ tokentallyKey: [] }],
          body: PROVIDER_BODY,
          response: {
            200: PROVIDER_ANSWER,
            400: PROVIDER_ERROR,
            401: PROVIDER_ERROR,
            429: PROVIDER_REFUSAL,
            502: PROVIDER_ERROR,
          },
        },
        // the body is the provider's: read as bytes and sent on, never validated here
        validatorCompiler: () => () => true,
        // a prompt may hold any text; it is forwarded untouched
        config: { acceptsAnyBodyText: true },
      },
      async (request, reply) => {
        const principal = request.principal!;
        const upstreamPath = request.url.slice(prefix.length + (route.provider === 'openai' ? '/v1'.length : 0));
        await proxyCall({
          request,
          reply,
          principal,
          provider: route.provider,
          dialect: route.dialect,
          url: `${upstreamBase[route.provider]}${upstreamPath}`,
          meter,
          track,
        });
      },
    );
  }
};

async function authenticate(apiKeys: ManageApiKeys, presented: string | string[] | undefined): Promise<Principal> {
  if (typeof presented !== 'string' || presented === '') {
    throw new UnauthorizedError('send a Tokentally API key in the X-Tokentally-Key header');
  }
  const principal = await apiKeys.authenticate(presented);
  if (!principal) throw new UnauthorizedError('invalid or revoked Tokentally API key (X-Tokentally-Key)');
  return principal;
}

function providerOfUrl(url: string): Provider {
  return url.startsWith('/proxy/anthropic') ? 'anthropic' : 'openai';
}

interface ProxyCall {
  request: FastifyRequest;
  reply: FastifyReply;
  principal: Principal;
  provider: Provider;
  dialect: Dialect;
  url: string;
  meter: MeterProxiedCall;
  /** a record on its way to the meter (its tokens being counted), for shutting down */
  track: (recorded: Promise<void>) => void;
}

async function proxyCall(call: ProxyCall): Promise<void> {
  const { request, reply, principal, provider, dialect, meter, track } = call;
  const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  const body = parseBody(raw);
  const facts = dialect.inspect(body);
  if (facts.model === undefined || facts.model.trim() === '') {
    throw new ValidationError('the request names no model', [{ path: '/model', message: 'is required' }]);
  }
  const userId = userOf(request, facts);
  const prepared = dialect.prepare(body, raw);
  // counted only when needed: for a reservation, or for a call whose usage never came
  let promptTokens: Promise<number> | undefined;
  const countPrompt = (): Promise<number> => (promptTokens ??= countTokens(facts.promptText));

  const admitted = await meter.admit(principal, {
    userId,
    provider: dialect.provider,
    model: facts.model,
    estimate: async () => ({
      promptTokens: await countPrompt(),
      outputTokens: facts.maxOutputTokens,
      outputStated: facts.outputStated,
    }),
    proxyRequestId: `proxy-${randomUUID()}`,
  });

  reply.hijack();
  const started = performance.now();
  const result = await forward({
    url: call.url,
    headers: forwardedHeaders(request.headers),
    body: prepared ? prepared.body : raw,
    dialect,
    stripUsage: prepared?.stripUsage ?? false,
    raw: reply.raw,
    unreachable: (message) => ({ status: 502, body: providerError(provider, 502, 'upstream_unreachable', message) }),
  });
  const durationMs = Math.round(performance.now() - started);
  // the client has its answer: recording happens after, and a failure to record is logged, never sent
  const failed = (error: unknown): void => logRecordFailure(request, admitted, error);
  const record = (outcome: ProxiedCallOutcome): void => void meter.record(principal, admitted, outcome).catch(failed);
  const reported = reportedOutcome(result, dialect, durationMs);
  if (reported) record(reported);
  else track(estimatedOutcome(result, dialect, countPrompt, durationMs).then(record, failed));
}

function parseBody(raw: Buffer): Record<string, unknown> {
  const text = raw.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ValidationError('the body must be a JSON object', [{ path: '/', message: 'is not JSON' }]);
  }
  refuseDeepNesting(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ValidationError('the body must be a JSON object', [{ path: '/', message: 'must be an object' }]);
  }
  return parsed as Record<string, unknown>;
}

/** X-Tokentally-User, else the request's own user field (OpenAI `user`, Anthropic `metadata.user_id`). */
function userOf(request: FastifyRequest, facts: RequestFacts): string {
  const header = request.headers[TOKENTALLY_USER_HEADER];
  const userId = (typeof header === 'string' && header !== '' ? header : undefined) ?? facts.user;
  if (userId === undefined || userId.trim() === '') {
    throw new ValidationError('say whose call this is: the X-Tokentally-User header, or the request’s user field', [
      { path: '/user', message: 'is required without an X-Tokentally-User header' },
    ]);
  }
  if (userId.length > MAX_USER_ID_LENGTH || userId.includes('\u0000')) {
    throw new ValidationError(`the user id must be at most ${MAX_USER_ID_LENGTH} characters, without NUL`, [
      { path: '/user', message: 'is too long or holds NUL' },
    ]);
  }
  return userId;
}

const NO_TOKENS = {
  inputTokens: 0,
  outputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  cacheWrite1hTokens: 0,
  reasoningTokens: 0,
};

/** Stored text: no NUL, at most `max` characters. */
const storable = (value: string | undefined, max: number): string | undefined =>
  value === undefined ? undefined : value.replaceAll('\u0000', '').slice(0, max);

/** What every record of a forwarded call says. */
function baseOutcome(result: ForwardResult, dialect: Dialect, durationMs: number) {
  return {
    responseId: storable(result.reading.responseId, 200),
    model: storable(result.reading.model, 200),
    operation: dialect.operation,
    durationMs,
  };
}

/**
 * The record of a forwarded call with what the provider said: its usage, or an upstream error
 * (a failure without tokens: providers bill none). None for a stream cut short or one that
 * ended without usage: those are counted by the tokenizer (`estimatedOutcome`).
 */
function reportedOutcome(result: ForwardResult, dialect: Dialect, durationMs: number): ProxiedCallOutcome | null {
  const { reading } = result;
  const failed = result.status === null || result.status >= 300;
  if (failed && !result.cutShort) {
    return {
      ...baseOutcome(result, dialect, durationMs),
      ...NO_TOKENS,
      tokenSource: 'reported',
      success: false,
      error: storable(result.failure, 2000),
    };
  }
  if (reading.tokens && !result.cutShort) {
    return {
      ...baseOutcome(result, dialect, durationMs),
      ...reading.tokens,
      tokenSource: 'reported',
      success: result.failure === undefined,
      error: storable(result.failure, 2000),
    };
  }
  return null;
}

/** The record of a stream cut short (or one that ended without usage): the prompt and the text that reached the proxy, counted. */
async function estimatedOutcome(
  result: ForwardResult,
  dialect: Dialect,
  promptTokens: () => Promise<number>,
  durationMs: number,
): Promise<ProxiedCallOutcome> {
  const [inputTokens, outputTokens] = await Promise.all([promptTokens(), countTokens(result.generatedText)]);
  return {
    ...baseOutcome(result, dialect, durationMs),
    ...NO_TOKENS,
    inputTokens,
    outputTokens,
    tokenSource: 'estimated',
    success: !result.cutShort && result.failure === undefined,
    error: storable(result.failure ?? (result.cutShort ? 'stream cut short' : undefined), 2000),
  };
}

function logRecordFailure(request: FastifyRequest, call: AdmittedCall, error: unknown): void {
  request.log.error(
    { err: error, proxyRequestId: call.plan.proxyRequestId },
    'recording a proxied call failed; its reservation expires by itself',
  );
}
