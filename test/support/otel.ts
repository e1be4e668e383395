import { SpanKind, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import protobuf from 'protobufjs/light.js';
import type { TestApp } from './test-app';
import { bearer } from './test-app';

export interface SpanSpec {
  name?: string;
  attributes: Attributes;
  start: Date;
  durationMs?: number;
  /** the span ends with status ERROR and this message */
  error?: string;
}

/** Spans as the OpenTelemetry SDK finishes them, under one resource. */
export function finishedSpans(specs: ReadonlyArray<SpanSpec>, resource: Attributes = {}): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes(resource),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  emitSpans(provider, specs);
  return exporter.getFinishedSpans();
}

/** Starts and ends each span with the provider's tracer, at the times the spec gives. */
export function emitSpans(provider: BasicTracerProvider, specs: ReadonlyArray<SpanSpec>): void {
  const tracer = provider.getTracer('tokentally-test');
  for (const spec of specs) {
    const span = tracer.startSpan(spec.name ?? 'chat', {
      kind: SpanKind.CLIENT,
      attributes: spec.attributes,
      startTime: spec.start,
    });
    if (spec.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: spec.error });
    span.end(new Date(spec.start.getTime() + (spec.durationMs ?? 0)));
  }
}

const statusType = protobuf.Root.fromJSON({
  nested: { Status: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 } } } },
}).lookupType('Status');

/** The google.rpc.Status of a protobuf error answer. */
export function decodeRpcStatus(body: Buffer): { code: number; message: string } {
  return statusType.toObject(statusType.decode(body), { defaults: true }) as { code: number; message: string };
}

export async function createApiKey(t: TestApp, workspaceId = 'default'): Promise<string> {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/admin/api-keys',
    headers: bearer(t.token('otel-admin', { role: 'admin', workspaceId })),
    payload: { name: 'otel exporter' },
  });
  if (res.statusCode !== 201) throw new Error(`creating an API key: ${res.statusCode} ${res.body}`);
  return (res.json() as { key: string }).key;
}

export interface StoredRecord {
  workspace_id: string;
  request_id: string;
  occurred_at: string;
  user_id: string;
  provider: string;
  model: string;
  operation: string | null;
  input_tokens: string;
  output_tokens: string;
  cached_input_tokens: string;
  cache_write_tokens: string;
  reasoning_tokens: string;
  total_tokens: string;
  duration_ms: number | null;
  success: boolean;
  error: string | null;
}

/** The stored records, oldest first, with times as ISO text. */
export async function storedRecords(t: TestApp, where = 'true', parameters: unknown[] = []): Promise<StoredRecord[]> {
  return (await t.db.query(
    `SELECT workspace_id, request_id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS occurred_at,
       user_id, provider, model, operation, input_tokens::text, output_tokens::text, cached_input_tokens::text,
       cache_write_tokens::text, reasoning_tokens::text, total_tokens::text, duration_ms, success, error
     FROM usage_records WHERE ${where} ORDER BY occurred_at, request_id`,
    parameters,
  )) as StoredRecord[];
}
