import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, emitSpans, finishedSpans, storedRecords, type SpanSpec } from '../support/otel';
import { rollupAndRecomputation } from '../support/usage-checks';
import { createTestApp, type TestApp } from '../support/test-app';

/**
 * The OpenTelemetry exporters themselves (0.223.x, JSON and protobuf over HTTP) send spans to
 * the service listening on a real socket; the numbers stored are read back exactly. Their
 * retries on 429 and 503 follow the service's Retry-After.
 */
let t: TestApp;
let base: string;
let key: string;
const T0 = Date.parse('2026-11-21T09:30:00.000Z');

/** What the exporters report through the OpenTelemetry diagnostics logger. */
const diagnostics: string[] = [];
const logger: DiagLogger = {
  error: (...args) => void diagnostics.push(args.map(String).join(' ')),
  warn: (...args) => void diagnostics.push(args.map(String).join(' ')),
  info: (...args) => void diagnostics.push(args.map(String).join(' ')),
  debug: () => undefined,
  verbose: (...args) => void diagnostics.push(args.map(String).join(' ')),
};

function exportSpans(exporter: SpanExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

const chat = (id: string, at: number, attributes: SpanSpec['attributes'], durationMs = 1200): SpanSpec => ({
  name: `chat ${String(attributes['gen_ai.request.model'] ?? '')}`,
  start: new Date(at),
  durationMs,
  attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.response.id': id, ...attributes },
});

beforeAll(async () => {
  t = await createTestApp();
  key = await createApiKey(t);
  base = await t.app.listen({ host: '127.0.0.1', port: 0 });
  diag.setLogger(logger, { logLevel: DiagLogLevel.VERBOSE, suppressOverrideMessage: true });
});
afterEach(() => {
  diagnostics.length = 0;
});
afterAll(async () => {
  diag.disable();
  await t.close();
});

describe('the OTLP/HTTP JSON exporter', () => {
  it('configured by the environment variables the README shows, gzip on, through a batch span processor', async () => {
    const variables = {
      OTEL_EXPORTER_OTLP_ENDPOINT: base,
      // the bearer form, its space percent-encoded as the variable's format wants
      OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${key}`,
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
    };
    // the exporter reads its configuration from the environment when it is made
    Object.assign(process.env, variables);
    let exporter: JsonExporter;
    try {
      exporter = new JsonExporter();
    } finally {
      for (const name of Object.keys(variables)) delete process.env[name];
    }
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'support-bot', 'user.id': 'alice' }),
      spanProcessors: [new BatchSpanProcessor(exporter)],
    });
    emitSpans(provider, [
      chat('chatcmpl-env-1', T0, {
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.response.model': 'gpt-4o-2024-08-06',
        'gen_ai.usage.input_tokens': 2500,
        'gen_ai.usage.output_tokens': 400,
        'gen_ai.usage.cache_read.input_tokens': 2000,
        'gen_ai.usage.reasoning.output_tokens': 128,
      }),
      chat(
        'gemini-env-2',
        T0 + 60_000,
        {
          'gen_ai.system': 'gcp.gemini',
          'gen_ai.request.model': 'gemini-2.5-flash',
          'gen_ai.usage.prompt_tokens': 800,
          'gen_ai.usage.completion_tokens': 0,
          'user.id': 'bob',
        },
        350,
      ),
      { name: 'GET /health', start: new Date(T0), attributes: { 'http.request.method': 'GET' } },
    ]);
    await provider.forceFlush();
    await provider.shutdown();
    expect(diagnostics.filter((line) => /fail|error/i.test(line))).toEqual([]);
    expect(await storedRecords(t, `request_id IN ('chatcmpl-env-1', 'gemini-env-2')`)).toEqual([
      {
        workspace_id: 'default',
        request_id: 'chatcmpl-env-1',
        occurred_at: '2026-11-21T09:30:00.000Z',
        user_id: 'alice',
        provider: 'openai',
        model: 'gpt-4o-2024-08-06',
        operation: 'chat',
        input_tokens: '2500',
        output_tokens: '400',
        cached_input_tokens: '2000',
        cache_write_tokens: '0',
        reasoning_tokens: '128',
        total_tokens: '2900',
        duration_ms: 1200,
        success: true,
        error: null,
      },
      {
        workspace_id: 'default',
        request_id: 'gemini-env-2',
        occurred_at: '2026-11-21T09:31:00.000Z',
        user_id: 'bob',
        provider: 'google',
        model: 'gemini-2.5-flash',
        operation: 'chat',
        input_tokens: '800',
        output_tokens: '0',
        cached_input_tokens: '0',
        cache_write_tokens: '0',
        reasoning_tokens: '0',
        total_tokens: '800',
        duration_ms: 350,
        success: true,
        error: null,
      },
    ]);
  });

  it('logs the partial success the service answers for refused spans; the export itself succeeds', async () => {
    const exporter = new JsonExporter({ url: `${base}/v1/traces`, headers: { 'x-api-key': key } });
    const spans = finishedSpans([
      chat('chatcmpl-no-user', T0, {
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.usage.input_tokens': 1,
      }),
    ]);
    const result = await exportSpans(exporter, spans);
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    expect(diagnostics.join('\n')).toContain('Received Partial Success response');
    expect(diagnostics.join('\n')).toContain('"rejectedSpans":1');
    expect(diagnostics.join('\n')).toContain('user.id: userId is required when ingesting with an API key');
    await exporter.shutdown();
    expect(await storedRecords(t, `request_id = 'chatcmpl-no-user'`)).toEqual([]);
  });
});

describe('the OTLP/HTTP protobuf exporter', () => {
  const spans = () =>
    finishedSpans(
      [
        chat('msg_proto_1', T0 + 120_000, {
          'gen_ai.provider.name': 'anthropic',
          'gen_ai.request.model': 'claude-sonnet-4-5',
          'gen_ai.response.model': 'claude-sonnet-4-5-20250929',
          'gen_ai.usage.input_tokens': 12_000,
          'gen_ai.usage.output_tokens': 900,
          'gen_ai.usage.cache_read.input_tokens': 10_000,
          'gen_ai.usage.cache_creation.input_tokens': 1_500,
        }),
        {
          ...chat('msg_proto_2', T0 + 180_000, {
            'gen_ai.provider.name': 'aws.bedrock',
            'gen_ai.request.model': 'anthropic.claude-3-haiku-20240307-v1:0',
            'gen_ai.usage.input_tokens': 300,
            'gen_ai.usage.output_tokens': 0,
            'enduser.id': 'carol',
          }),
          error: 'ThrottlingException',
        },
      ],
      { 'user.id': 'dave' },
    );

  it('stores what it sends, gzip on; sent again, nothing is counted twice', async () => {
    const exporter = new ProtobufExporter({
      url: `${base}/v1/traces`,
      headers: { 'x-api-key': key },
      compression: CompressionAlgorithm.GZIP,
    });
    expect((await exportSpans(exporter, spans())).code).toBe(ExportResultCode.SUCCESS);
    const expected = [
      expect.objectContaining({
        request_id: 'msg_proto_1',
        occurred_at: '2026-11-21T09:32:00.000Z',
        user_id: 'dave',
        provider: 'anthropic',
        model: 'claude-sonnet-4-5-20250929',
        input_tokens: '12000',
        output_tokens: '900',
        cached_input_tokens: '10000',
        cache_write_tokens: '1500',
        total_tokens: '12900',
        duration_ms: 1200,
        success: true,
      }),
      expect.objectContaining({
        request_id: 'msg_proto_2',
        occurred_at: '2026-11-21T09:33:00.000Z',
        user_id: 'carol',
        provider: 'aws',
        model: 'anthropic.claude-3-haiku-20240307-v1:0',
        input_tokens: '300',
        output_tokens: '0',
        success: false,
        error: 'ThrottlingException',
      }),
    ];
    const where = `request_id LIKE 'msg_proto_%'`;
    expect(await storedRecords(t, where)).toEqual(expected);
    // the same spans exported again (a retry after a lost answer): duplicates
    expect((await exportSpans(exporter, spans())).code).toBe(ExportResultCode.SUCCESS);
    expect(await storedRecords(t, where)).toEqual(expected);
    const { rollup, recomputed } = await rollupAndRecomputation(t.db);
    expect(rollup).toEqual(recomputed);
    await exporter.shutdown();
  });

  it('waits out a 429 for the Retry-After the rate limit gives, then delivers', async () => {
    const limited = await createTestApp({
      databaseUrl: t.databaseUrl,
      rateLimit: { enabled: true, max: 1, windowMs: 1000 },
    });
    try {
      const url = `${await limited.app.listen({ host: '127.0.0.1', port: 0 })}/v1/traces`;
      const exporter = new ProtobufExporter({ url, headers: { 'x-api-key': key } });
      const one = (id: string) =>
        finishedSpans([
          chat(id, T0 + 240_000, {
            'gen_ai.provider.name': 'openai',
            'gen_ai.request.model': 'gpt-4o-mini',
            'gen_ai.usage.input_tokens': 10,
            'gen_ai.usage.output_tokens': 2,
            'user.id': 'erin',
          }),
        ]);
      expect((await exportSpans(exporter, one('limited-1'))).code).toBe(ExportResultCode.SUCCESS);
      expect((await exportSpans(exporter, one('limited-2'))).code).toBe(ExportResultCode.SUCCESS);
      expect(diagnostics).toContain('Scheduling export retry in 1000ms');
      expect((await storedRecords(t, `user_id = 'erin'`)).map((r) => r.request_id)).toEqual(['limited-1', 'limited-2']);
      await exporter.shutdown();
    } finally {
      await limited.close().catch(() => undefined);
    }
  });

  it('retries a 503 after its Retry-After while the database is away', async () => {
    const away = await createTestApp({ databaseUrl: t.databaseUrl });
    const url = `${await away.app.listen({ host: '127.0.0.1', port: 0 })}/v1/traces`;
    await away.db.destroy();
    try {
      const token = away.token('root', { role: 'admin' });
      const exporter = new ProtobufExporter({
        url,
        headers: { authorization: `Bearer ${token}` },
        timeoutMillis: 3000,
      });
      const result = await exportSpans(
        exporter,
        finishedSpans([
          chat('away-1', T0, {
            'gen_ai.provider.name': 'openai',
            'gen_ai.request.model': 'gpt-4o',
            'gen_ai.usage.input_tokens': 1,
          }),
        ]),
      );
      expect(result.code).toBe(ExportResultCode.FAILED);
      expect(diagnostics).toContain('Scheduling export retry in 2000ms');
      await exporter.shutdown();
    } finally {
      await away.app.close();
    }
  });
});
