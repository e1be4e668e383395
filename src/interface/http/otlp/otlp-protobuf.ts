import protobuf from 'protobufjs/light.js';
import type { OtelSpan, SpanValue } from '../../../domain/genai-span';
import { ValidationError } from '../../../domain/errors';

/**
 * The parts of the OTLP trace protocol (opentelemetry-proto, collector/trace/v1 and trace/v1)
 * that intake reads and answers with, described by their field numbers. Fields not listed
 * here (events, links, array and map attribute values, …) are skipped by the decoder unread,
 * so a hostile nesting of values costs no recursion.
 */
const root = protobuf.Root.fromJSON({
  nested: {
    ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
    ResourceSpans: {
      fields: { resource: { type: 'Resource', id: 1 }, scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 } },
    },
    Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    ScopeSpans: { fields: { spans: { rule: 'repeated', type: 'Span', id: 2 } } },
    Span: {
      fields: {
        traceId: { type: 'bytes', id: 1 },
        spanId: { type: 'bytes', id: 2 },
        name: { type: 'string', id: 5 },
        startTimeUnixNano: { type: 'fixed64', id: 7 },
        endTimeUnixNano: { type: 'fixed64', id: 8 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
        status: { type: 'Status', id: 15 },
      },
    },
    Status: { fields: { message: { type: 'string', id: 2 }, code: { type: 'int32', id: 3 } } },
    KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
    AnyValue: {
      fields: {
        stringValue: { type: 'string', id: 1 },
        boolValue: { type: 'bool', id: 2 },
        intValue: { type: 'int64', id: 3 },
        doubleValue: { type: 'double', id: 4 },
      },
    },
    ExportTraceServiceResponse: { fields: { partialSuccess: { type: 'ExportTracePartialSuccess', id: 1 } } },
    ExportTracePartialSuccess: {
      fields: { rejectedSpans: { type: 'int64', id: 1 }, errorMessage: { type: 'string', id: 2 } },
    },
    // google.rpc.Status: the body of every OTLP/HTTP error answer to a protobuf request
    RpcStatus: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 } } },
  },
});

const RequestType = root.lookupType('ExportTraceServiceRequest');
const ResponseType = root.lookupType('ExportTraceServiceResponse');
const RpcStatusType = root.lookupType('RpcStatus');

interface DecodedValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: Int64;
  doubleValue?: number;
}
interface DecodedKeyValue {
  key?: string;
  value?: DecodedValue | null;
}
/** protobufjs gives 64-bit integers as a `Long` (or a number when they fit and no Long is around). */
type Int64 = number | { toString(): string };
interface DecodedSpan {
  traceId?: Uint8Array | number[];
  spanId?: Uint8Array | number[];
  name?: string;
  startTimeUnixNano?: Int64;
  endTimeUnixNano?: Int64;
  attributes?: DecodedKeyValue[];
  status?: { message?: string; code?: number } | null;
}
interface DecodedRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: DecodedKeyValue[] } | null;
    scopeSpans?: Array<{ spans?: DecodedSpan[] }>;
  }>;
}

/** Decodes a protobuf ExportTraceServiceRequest; bytes that are not one are a 400. */
export function spansFromProtobuf(body: Uint8Array): OtelSpan[] {
  let request: DecodedRequest;
  try {
    request = RequestType.decode(body) as unknown as DecodedRequest;
  } catch (error) {
    throw new ValidationError(`body is not a protobuf ExportTraceServiceRequest: ${(error as Error).message}`, [
      { path: '/', message: 'is not a protobuf ExportTraceServiceRequest' },
    ]);
  }
  const spans: OtelSpan[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const resource = attributesOf(resourceSpans.resource?.attributes);
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) spans.push(spanOf(span, resource));
    }
  }
  return spans;
}

function spanOf(span: DecodedSpan, resource: ReadonlyMap<string, SpanValue>): OtelSpan {
  return {
    traceId: hex(span.traceId),
    spanId: hex(span.spanId),
    name: span.name ?? '',
    startTimeUnixNano: span.startTimeUnixNano === undefined ? '' : span.startTimeUnixNano.toString(),
    endTimeUnixNano: span.endTimeUnixNano === undefined ? '' : span.endTimeUnixNano.toString(),
    statusCode: span.status?.code ?? 0,
    statusMessage: span.status?.message ?? '',
    attributes: attributesOf(span.attributes),
    resource,
  };
}

/** An id's hex; protobufjs reads an empty bytes field as a plain empty array. */
function hex(bytes: Uint8Array | number[] | undefined): string {
  if (bytes === undefined || bytes.length === 0) return '';
  return bytes instanceof Uint8Array
    ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
    : Buffer.from(bytes).toString('hex');
}

function attributesOf(list: DecodedKeyValue[] | undefined): Map<string, SpanValue> {
  const attributes = new Map<string, SpanValue>();
  for (const { key, value } of list ?? []) {
    // an unset message field reads as null
    if (key === undefined || value === undefined || value === null) continue;
    attributes.set(key, scalarOf(value));
  }
  return attributes;
}

/**
 * The value the sender set. A decoded message reads unset fields as their defaults (from its
 * prototype); a oneof member that was sent, even as 0 or '', is the message's own property.
 */
function scalarOf(value: DecodedValue): SpanValue {
  if (Object.hasOwn(value, 'stringValue')) return value.stringValue!;
  if (Object.hasOwn(value, 'intValue')) return value.intValue!.toString();
  if (Object.hasOwn(value, 'doubleValue')) return value.doubleValue!;
  if (Object.hasOwn(value, 'boolValue')) return value.boolValue!;
  // a value whose 0, '' or false the sender left out of the wire
  return null;
}

/** An ExportTraceServiceResponse: empty on full success, else with `partial_success`. */
export function encodeExportResponse(partialSuccess?: { rejectedSpans: number; errorMessage: string }): Buffer {
  const message = ResponseType.create(partialSuccess ? { partialSuccess } : {});
  return Buffer.from(ResponseType.encode(message).finish());
}

/** A google.rpc.Status with the gRPC code closest to the HTTP status. */
export function encodeRpcStatus(httpStatus: number, message: string): Buffer {
  return Buffer.from(RpcStatusType.encode(RpcStatusType.create({ code: grpcCode(httpStatus), message })).finish());
}

function grpcCode(httpStatus: number): number {
  if (httpStatus === 401) return 16; // UNAUTHENTICATED
  if (httpStatus === 403) return 7; // PERMISSION_DENIED
  if (httpStatus === 404) return 5; // NOT_FOUND
  if (httpStatus === 408) return 4; // DEADLINE_EXCEEDED
  if (httpStatus === 413 || httpStatus === 429) return 8; // RESOURCE_EXHAUSTED
  if (httpStatus === 503) return 14; // UNAVAILABLE
  if (httpStatus >= 500) return 13; // INTERNAL
  return 3; // INVALID_ARGUMENT
}
