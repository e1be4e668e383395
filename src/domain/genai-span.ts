import type { FieldError } from './token-usage';
import type { UsageRecordDraft } from './usage-record';

/**
 * One span as the OTLP decoders hand it over, whatever the wire format: ids in hex, times as
 * decimal nanoseconds since the epoch ('' when absent), and only the scalar attributes (int64
 * values arrive as decimal strings or as numbers, depending on the sender). `null` is a value
 * sent without its content: protobuf senders leave a 0, '' or false out of the wire (the
 * JavaScript exporter does so for `gen_ai.usage.output_tokens: 0`), so it reads as zero or empty.
 */
export type SpanValue = string | number | boolean | null;

export interface OtelSpan {
  traceId: string;
  spanId: string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  /** OTLP status code: 0 unset, 1 ok, 2 error */
  statusCode: number;
  statusMessage: string;
  attributes: ReadonlyMap<string, SpanValue>;
  /** the attributes of the resource the span belongs to */
  resource: ReadonlyMap<string, SpanValue>;
}

export type SpanOutcome =
  | { kind: 'ignored' }
  | {
      kind: 'usage';
      draft: UsageRecordDraft;
      /** the attribute (or span field) each draft field was read from, to name it in a refusal */
      sources: Readonly<Partial<Record<keyof UsageRecordDraft, string>>>;
    }
  | { kind: 'rejected'; errors: FieldError[] };

/**
 * Attribute names of the OpenTelemetry GenAI semantic conventions, current name first, then the
 * names instrumentations used before (gen_ai.system, prompt/completion tokens) or beside them
 * (OpenLLMetry's cache and reasoning counts).
 */
export const GENAI_ATTRIBUTES = {
  provider: ['gen_ai.provider.name', 'gen_ai.system'],
  responseModel: ['gen_ai.response.model'],
  requestModel: ['gen_ai.request.model'],
  responseId: ['gen_ai.response.id'],
  operation: ['gen_ai.operation.name'],
  inputTokens: ['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens'],
  outputTokens: ['gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens'],
  cachedInputTokens: ['gen_ai.usage.cache_read.input_tokens', 'gen_ai.usage.cache_read_input_tokens'],
  cacheWriteTokens: ['gen_ai.usage.cache_creation.input_tokens', 'gen_ai.usage.cache_creation_input_tokens'],
  reasoningTokens: ['gen_ai.usage.reasoning.output_tokens', 'gen_ai.usage.reasoning_tokens'],
  user: ['user.id', 'enduser.id'],
  errorType: ['error.type'],
} as const;

/**
 * `gen_ai.provider.name` values (and older `gen_ai.system` ones) under the names our catalog
 * prices by; any other value is kept as sent.
 */
export const OTEL_PROVIDER_NAMES: Readonly<Record<string, string>> = {
  'gcp.gemini': 'google',
  'gcp.vertex_ai': 'google',
  'gcp.gen_ai': 'google',
  gemini: 'google',
  vertex_ai: 'google',
  'aws.bedrock': 'aws',
  'azure.ai.openai': 'azure',
  'azure.ai.inference': 'azure',
  'az.ai.openai': 'azure',
  'az.ai.inference': 'azure',
  mistral_ai: 'mistral',
  x_ai: 'x-ai',
  xai: 'x-ai',
};

const ERROR_MAX_LENGTH = 2000;
const HEX_TRACE_ID = /^[0-9a-f]{32}$/;
const HEX_SPAN_ID = /^[0-9a-f]{16}$/;
const DIGITS = /^\d{1,20}$/;
const NANOS_PER_MS = 1_000_000n;
/** 8.64e15 ms: the last instant a JavaScript Date can hold */
const MAX_DATE_MS = 8_640_000_000_000_000n;

function first(
  attributes: ReadonlyMap<string, SpanValue>,
  names: readonly string[],
): { name: string; value: SpanValue } | undefined {
  for (const name of names) {
    const value = attributes.get(name);
    if (value !== undefined) return { name, value };
  }
  return undefined;
}

/** A non-empty text: strings as they are, numbers (ids sent as ints) as their decimal text. */
function text(value: SpanValue): string | undefined {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/** A token count sent as a number or as decimal text (OTLP int64), or null when it is neither. */
export function tokenCount(value: SpanValue): number | null {
  if (value === null) return 0;
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  if (!/^\d{1,16}$/.test(trimmed)) return null;
  const count = Number(trimmed);
  return Number.isSafeInteger(count) ? count : null;
}

function nanos(value: string): bigint | null {
  return DIGITS.test(value) ? BigInt(value) : null;
}

/** Whether the span carries GenAI token usage at all; spans without it are not ours to record. */
export function carriesGenAiUsage(span: OtelSpan): boolean {
  return (
    first(span.attributes, GENAI_ATTRIBUTES.inputTokens) !== undefined ||
    first(span.attributes, GENAI_ATTRIBUTES.outputTokens) !== undefined
  );
}

/**
 * The usage record a GenAI span stands for, in Tokentally's token convention. The semantic
 * conventions count cache reads and writes inside `gen_ai.usage.input_tokens` and reasoning
 * inside `gen_ai.usage.output_tokens`, as we do, so the counts are taken as they are. The request
 * id is `gen_ai.response.id`, else the trace and span ids: a span exported twice is the same
 * record. Errors name the attribute or span field at fault.
 */
export function spanToUsage(span: OtelSpan): SpanOutcome {
  if (!carriesGenAiUsage(span)) return { kind: 'ignored' };
  const errors: FieldError[] = [];
  const sources: Partial<Record<keyof UsageRecordDraft, string>> = {};
  const attributes = span.attributes;

  const tokens = (
    field: 'inputTokens' | 'outputTokens' | 'cachedInputTokens' | 'cacheWriteTokens' | 'reasoningTokens',
  ) => {
    const found = first(attributes, GENAI_ATTRIBUTES[field]);
    if (!found) return undefined;
    sources[field] = found.name;
    const count = tokenCount(found.value);
    if (count === null) {
      errors.push({ path: found.name, message: 'must be a non-negative integer (a number or its decimal text)' });
      return undefined;
    }
    return count;
  };
  const inputTokens = tokens('inputTokens') ?? 0;
  const outputTokens = tokens('outputTokens') ?? 0;
  const cachedInputTokens = tokens('cachedInputTokens');
  const cacheWriteTokens = tokens('cacheWriteTokens');
  const reasoningTokens = tokens('reasoningTokens');

  const provider = required(attributes, GENAI_ATTRIBUTES.provider, errors, sources, 'provider');
  const model =
    optionalText(attributes, GENAI_ATTRIBUTES.responseModel, sources, 'model') ??
    required(attributes, GENAI_ATTRIBUTES.requestModel, errors, sources, 'model', 'gen_ai.response.model or ');
  const operation = optionalText(attributes, GENAI_ATTRIBUTES.operation, sources, 'operation');
  const userId =
    optionalText(attributes, GENAI_ATTRIBUTES.user, sources, 'userId') ??
    optionalText(span.resource, GENAI_ATTRIBUTES.user, sources, 'userId', 'resource ');

  const requestId = requestIdOf(span, errors, sources);
  const start = nanos(span.startTimeUnixNano);
  let occurredAt: Date | undefined;
  if (start === null || start === 0n || start / NANOS_PER_MS > MAX_DATE_MS) {
    errors.push({ path: 'startTimeUnixNano', message: 'must be the span start in nanoseconds since the epoch' });
  } else {
    occurredAt = new Date(Number(start / NANOS_PER_MS));
    sources.occurredAt = 'startTimeUnixNano';
  }
  let durationMs: number | undefined;
  const end = nanos(span.endTimeUnixNano);
  if (start !== null && end !== null && end !== 0n) {
    if (end < start) errors.push({ path: 'endTimeUnixNano', message: 'must not be before startTimeUnixNano' });
    else {
      const ms = (end - start + NANOS_PER_MS / 2n) / NANOS_PER_MS;
      durationMs = ms > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(ms);
      sources.durationMs = 'endTimeUnixNano';
    }
  }

  if (errors.length > 0 || provider === undefined || model === undefined || requestId === undefined) {
    return { kind: 'rejected', errors };
  }
  const failed = span.statusCode === 2;
  const draft: UsageRecordDraft = {
    requestId,
    occurredAt,
    userId,
    provider: providerName(provider),
    model,
    operation,
    inputTokens,
    outputTokens,
    cachedInputTokens,
    cacheWriteTokens,
    reasoningTokens,
    durationMs,
    success: !failed,
    error: failed ? errorText(span) : undefined,
    metadata: idsOf(span),
  };
  return { kind: 'usage', draft, sources };
}

/** Our provider name for a semantic-conventions one. */
export function providerName(reported: string): string {
  const name = reported.trim().toLowerCase();
  return OTEL_PROVIDER_NAMES[name] ?? name;
}

function optionalText(
  attributes: ReadonlyMap<string, SpanValue>,
  names: readonly string[],
  sources: Partial<Record<keyof UsageRecordDraft, string>>,
  field: keyof UsageRecordDraft,
  where = '',
): string | undefined {
  for (const name of names) {
    const value = attributes.get(name);
    const found = value === undefined ? undefined : text(value);
    if (found !== undefined) {
      sources[field] = `${where}${name}`;
      return found;
    }
  }
  return undefined;
}

function required(
  attributes: ReadonlyMap<string, SpanValue>,
  names: readonly string[],
  errors: FieldError[],
  sources: Partial<Record<keyof UsageRecordDraft, string>>,
  field: keyof UsageRecordDraft,
  alternatives = '',
): string | undefined {
  const found = optionalText(attributes, names, sources, field);
  if (found === undefined) {
    errors.push({
      path: names[0]!,
      message: `${alternatives}${names.join(' or ')} is required on a span with GenAI usage`,
    });
  }
  return found;
}

function requestIdOf(
  span: OtelSpan,
  errors: FieldError[],
  sources: Partial<Record<keyof UsageRecordDraft, string>>,
): string | undefined {
  const responseId = optionalText(span.attributes, GENAI_ATTRIBUTES.responseId, sources, 'requestId');
  if (responseId !== undefined) return responseId;
  const ids = idsOf(span);
  if (!ids) {
    errors.push({
      path: 'traceId',
      message: 'without gen_ai.response.id the span needs its traceId (32 hex digits) and spanId (16 hex digits)',
    });
    return undefined;
  }
  sources.requestId = 'traceId';
  return `${ids.traceId}-${ids.spanId}`;
}

/** The span's trace and span ids when both are valid (and not all zero), else undefined. */
function idsOf(span: OtelSpan): { traceId: string; spanId: string } | undefined {
  const traceId = span.traceId.toLowerCase();
  const spanId = span.spanId.toLowerCase();
  if (!HEX_TRACE_ID.test(traceId) || !HEX_SPAN_ID.test(spanId)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId };
}

function errorText(span: OtelSpan): string {
  const type = first(span.attributes, GENAI_ATTRIBUTES.errorType);
  const message = span.statusMessage.trim() || (type && text(type.value)) || 'the span ended with status ERROR';
  return message.length > ERROR_MAX_LENGTH ? message.slice(0, ERROR_MAX_LENGTH) : message;
}
