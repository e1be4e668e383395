import { isObject, type JsonObject } from './counts';
import { detectUsageFormat } from './detect';
import { mapProviderUsage } from './map-usage';
import {
  PROVIDER_OF_FORMAT,
  usageError,
  type ProviderTokens,
  type ProviderUsageError,
  type ProviderUsageFormat,
} from './formats';

/** What a provider response body says about its call. Absent request id or model: the body has none. */
export interface ProviderResponseReading {
  ok: true;
  format: ProviderUsageFormat;
  provider: string;
  requestId?: string;
  model?: string;
  /** the usage object as found in the body */
  usage: unknown;
  /** where it was found: a JSON pointer into the body */
  usagePath: string;
  tokens: ProviderTokens;
}

/** Events whose `response` is the finished Responses API response, usage included. */
const RESPONSE_DONE_EVENTS = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/**
 * Reads a whole provider response body, or the streamed form of one: the final chunk or
 * event that carries usage, or the list of all of them (each the JSON of one SSE `data:`
 * line). `format`, when given, overrides what the body looks like. Error paths point into
 * the body.
 */
export function readProviderResponse(
  body: unknown,
  format?: ProviderUsageFormat,
): ProviderResponseReading | ProviderUsageError {
  if (Array.isArray(body)) return readStream(body, format);
  return readBody(body, '', format);
}

function readBody(
  body: unknown,
  at: string,
  format: ProviderUsageFormat | undefined,
): ProviderResponseReading | ProviderUsageError {
  if (!isObject(body)) return usageError(at, 'a provider response must be a JSON object, or a list of stream events');
  // Responses stream: response.completed and its kin carry the whole response
  if (typeof body.type === 'string' && RESPONSE_DONE_EVENTS.has(body.type) && isObject(body.response)) {
    return readBody(body.response, `${at}/response`, format ?? 'openai.responses');
  }
  // Anthropic stream: message_start carries the message, its usage so far included
  if (body.type === 'message_start' && isObject(body.message)) {
    return readBody(body.message, `${at}/message`, format ?? 'anthropic.messages');
  }
  // Bedrock ConverseStream: the metadata event carries usage, not the model or a request id
  if (isObject(body.metadata) && 'usage' in body.metadata) {
    return reading(format ?? 'bedrock.converse', body.metadata.usage, `${at}/metadata/usage`, {});
  }
  if ('usageMetadata' in body) {
    return reading(format ?? 'gemini', body.usageMetadata, `${at}/usageMetadata`, {
      requestId: body.responseId,
      model: body.modelVersion,
    });
  }
  // the same response as the Python SDK's model_dump() writes it
  if ('usage_metadata' in body) {
    return reading(format ?? 'gemini', body.usage_metadata, `${at}/usage_metadata`, {
      requestId: body.response_id,
      model: body.model_version,
    });
  }
  if (!('usage' in body) || body.usage === null) {
    const hint =
      body.object === 'chat.completion.chunk'
        ? ': only the last chunk of a stream asked with stream_options.include_usage carries it'
        : '';
    return usageError(`${at}/usage`, `the response carries no usage${hint}`);
  }
  const known = format ?? formatOfBody(body);
  const usageFormat = known ?? detectUsageFormat(body.usage);
  if (typeof usageFormat !== 'string' && !usageFormat.ok)
    return usageError(`${at}/usage${usageFormat.path}`, usageFormat.message);
  const resolved = typeof usageFormat === 'string' ? usageFormat : usageFormat.format;
  const identity =
    resolved === 'bedrock.converse' ? { requestId: bedrockRequestId(body) } : { requestId: body.id, model: body.model };
  return reading(resolved, body.usage, `${at}/usage`, identity);
}

/** The format a body's own markers name (`object`, `type`, Bedrock's output shape), if any. */
function formatOfBody(body: JsonObject): ProviderUsageFormat | undefined {
  if (body.object === 'chat.completion' || body.object === 'chat.completion.chunk') return 'openai.chat';
  if (body.object === 'response') return 'openai.responses';
  if (body.type === 'message' || body.type === 'message_delta') return 'anthropic.messages';
  if ('stopReason' in body || '$metadata' in body || 'metrics' in body) return 'bedrock.converse';
  return undefined;
}

/** The SDK keeps the request id it got in a header under `$metadata`; boto3 under `ResponseMetadata`. */
function bedrockRequestId(body: JsonObject): unknown {
  if (isObject(body.$metadata)) return body.$metadata.requestId;
  if (isObject(body.ResponseMetadata)) return body.ResponseMetadata.RequestId;
  return undefined;
}

function reading(
  format: ProviderUsageFormat,
  usage: unknown,
  usagePath: string,
  identity: { requestId?: unknown; model?: unknown },
): ProviderResponseReading | ProviderUsageError {
  const mapped = mapProviderUsage(format, usage);
  if (!mapped.ok) return usageError(usagePath + mapped.path, mapped.message);
  return {
    ok: true,
    format,
    provider: PROVIDER_OF_FORMAT[format],
    requestId: typeof identity.requestId === 'string' ? identity.requestId : undefined,
    model: typeof identity.model === 'string' ? identity.model : undefined,
    usage,
    usagePath,
    tokens: mapped.tokens,
  };
}

/**
 * A whole stream. Anthropic's usage starts in message_start and each message_delta overwrites
 * the fields it sends (cumulative totals: never added). Every other stream's last event with
 * usage holds the whole call's usage.
 */
function readStream(
  events: unknown[],
  format: ProviderUsageFormat | undefined,
): ProviderResponseReading | ProviderUsageError {
  if (events.some((event) => isObject(event) && event.type === 'message_start')) return readMessageStream(events);
  for (let i = events.length - 1; i >= 0; i -= 1) {
    if (carriesUsage(events[i])) return readBody(events[i], `/${i}`, format);
  }
  return usageError('', 'no event of the stream carries usage');
}

function carriesUsage(event: unknown): boolean {
  if (!isObject(event)) return false;
  return (
    (event.usage !== undefined && event.usage !== null) ||
    (event.usageMetadata !== undefined && event.usageMetadata !== null) ||
    (event.usage_metadata !== undefined && event.usage_metadata !== null) ||
    (isObject(event.response) && event.response.usage !== undefined && event.response.usage !== null) ||
    (isObject(event.metadata) && event.metadata.usage !== undefined)
  );
}

function readMessageStream(events: unknown[]): ProviderResponseReading | ProviderUsageError {
  const startIndex = events.findIndex((event) => isObject(event) && event.type === 'message_start');
  const message = (events[startIndex] as JsonObject).message;
  if (!isObject(message)) return usageError(`/${startIndex}/message`, 'message_start must carry the message');
  if (!isObject(message.usage)) return usageError(`/${startIndex}/message/usage`, 'message_start must carry usage');
  const usage: JsonObject = { ...message.usage };
  // where each field of the merged usage came from, to point an error at it
  const origin = new Map<string, string>(Object.keys(usage).map((key) => [key, `/${startIndex}/message/usage`]));
  events.forEach((event, index) => {
    if (!isObject(event) || event.type !== 'message_delta' || !isObject(event.usage)) return;
    for (const [key, value] of Object.entries(event.usage)) {
      // a JSON key "__proto__" would set the merged object's prototype, not a field
      if (value === null || value === undefined || key === '__proto__') continue;
      usage[key] = value;
      origin.set(key, `/${index}/usage`);
    }
  });
  const mapped = mapProviderUsage('anthropic.messages', usage);
  if (!mapped.ok) {
    const field = mapped.path.split('/')[1] ?? '';
    return usageError((origin.get(field) ?? `/${startIndex}/message/usage`) + mapped.path, mapped.message);
  }
  return {
    ok: true,
    format: 'anthropic.messages',
    provider: PROVIDER_OF_FORMAT['anthropic.messages'],
    requestId: typeof message.id === 'string' ? message.id : undefined,
    model: typeof message.model === 'string' ? message.model : undefined,
    usage,
    usagePath: `/${startIndex}/message/usage`,
    tokens: mapped.tokens,
  };
}
