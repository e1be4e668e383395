import type { OtelSpan, SpanValue } from '../../../domain/genai-span';
import { ValidationError } from '../../../domain/errors';

/**
 * Reads an OTLP/HTTP JSON ExportTraceServiceRequest (`resourceSpans[].scopeSpans[].spans[]`,
 * lowerCamelCase keys, ids in hex, int64 as a string or a number). A wrong envelope is a 400
 * naming its path; inside a span, what is not understood is left out (an attribute that is no
 * scalar, a field of the wrong type) and the span's mapping says what it misses.
 */
export function spansFromJson(body: unknown): OtelSpan[] {
  const spans: OtelSpan[] = [];
  const request = objectAt(body, '/');
  for (const [r, resourceSpans] of arrayAt(request.resourceSpans, '/resourceSpans').entries()) {
    const at = `/resourceSpans/${r}`;
    const entry = objectAt(resourceSpans, at);
    const resourceObject = entry.resource === undefined ? {} : objectAt(entry.resource, `${at}/resource`);
    const resource = attributesOf(resourceObject.attributes);
    for (const [s, scopeSpans] of arrayAt(entry.scopeSpans, `${at}/scopeSpans`).entries()) {
      const scopeAt = `${at}/scopeSpans/${s}`;
      for (const [i, span] of arrayAt(objectAt(scopeSpans, scopeAt).spans, `${scopeAt}/spans`).entries()) {
        spans.push(spanOf(objectAt(span, `${scopeAt}/spans/${i}`), resource));
      }
    }
  }
  return spans;
}

type Json = Record<string, unknown>;

function objectAt(value: unknown, path: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError(`${path} must be an object`, [{ path, message: 'must be an object' }]);
  }
  return value as Json;
}

/** An absent (or null) list is an empty one, as in protobuf. */
function arrayAt(value: unknown, path: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value))
    throw new ValidationError(`${path} must be an array`, [{ path, message: 'must be an array' }]);
  return value;
}

function spanOf(span: Json, resource: ReadonlyMap<string, SpanValue>): OtelSpan {
  const status = typeof span.status === 'object' && span.status !== null ? (span.status as Json) : {};
  return {
    traceId: typeof span.traceId === 'string' ? span.traceId : '',
    spanId: typeof span.spanId === 'string' ? span.spanId : '',
    name: typeof span.name === 'string' ? span.name : '',
    startTimeUnixNano: int64Text(span.startTimeUnixNano),
    endTimeUnixNano: int64Text(span.endTimeUnixNano),
    statusCode: statusCodeOf(status.code),
    statusMessage: typeof status.message === 'string' ? status.message : '',
    attributes: attributesOf(span.attributes),
    resource,
  };
}

/**
 * An int64 as decimal text: JSON senders write it as a string (the spec) or as a number, which
 * holds nanoseconds since the epoch only to within a few hundred (plenty for a time in ms).
 */
function int64Text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return BigInt(value).toString();
  return '';
}

/** The status code as a number, or its enum name as the protobuf JSON mapping may write it. */
function statusCodeOf(value: unknown): number {
  if (typeof value === 'number') return value;
  return value === 'STATUS_CODE_ERROR' ? 2 : value === 'STATUS_CODE_OK' ? 1 : 0;
}

function attributesOf(list: unknown): Map<string, SpanValue> {
  const attributes = new Map<string, SpanValue>();
  if (!Array.isArray(list)) return attributes;
  for (const entry of list) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { key, value } = entry as { key?: unknown; value?: unknown };
    if (typeof key !== 'string' || typeof value !== 'object' || value === null) continue;
    const scalar = scalarOf(value as Json);
    if (scalar !== undefined) attributes.set(key, scalar);
  }
  return attributes;
}

/** A scalar value; `{}` is one whose 0, '' or false was left out (null); lists and maps are not read. */
function scalarOf(value: Json): SpanValue | undefined {
  const { stringValue, intValue, doubleValue, boolValue } = value;
  if (typeof stringValue === 'string') return stringValue;
  if (typeof intValue === 'string' || typeof intValue === 'number') return intValue;
  if (typeof doubleValue === 'number') return doubleValue;
  if (typeof boolValue === 'boolean') return boolValue;
  return Object.keys(value).length === 0 ? null : undefined;
}
