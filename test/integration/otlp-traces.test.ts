import { gzipSync } from 'node:zlib';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, decodeRpcStatus, finishedSpans, storedRecords } from '../support/otel';
import { rollupAndRecomputation } from '../support/usage-checks';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * POST /v1/traces with requests built by hand (JSON) and by the OpenTelemetry SDK's own
 * serializers (JSON and protobuf): what is stored, partial success, ignored spans, duplicates,
 * the OTLP/HTTP error answers, and hostile values.
 */
let t: TestApp;
let key: string;
const T0 = Date.parse('2026-11-20T14:00:00.000Z');
const nanos = (ms: number, extraNanos = 0) => (BigInt(ms) * 1_000_000n + BigInt(extraNanos)).toString();
let traceSequence = 0;
const ids = () => {
  traceSequence += 1;
  return {
    traceId: traceSequence.toString(16).padStart(32, 'a'),
    spanId: traceSequence.toString(16).padStart(16, 'b'),
  };
};

type JsonAttribute = { key: string; value: Record<string, unknown> };
const str = (key: string, value: string): JsonAttribute => ({ key, value: { stringValue: value } });
const int = (key: string, value: number | string): JsonAttribute => ({ key, value: { intValue: value } });

function jsonSpan(attributes: JsonAttribute[], fields: Record<string, unknown> = {}) {
  return {
    ...ids(),
    name: 'chat gpt-4o',
    kind: 3,
    startTimeUnixNano: nanos(T0),
    endTimeUnixNano: nanos(T0 + 800),
    attributes,
    status: {},
    ...fields,
  };
}

function request(spans: unknown[], resource: JsonAttribute[] = []) {
  return { resourceSpans: [{ resource: { attributes: resource }, scopeSpans: [{ scope: { name: 'x' }, spans }] }] };
}

const post = (payload: string | Buffer | object, headers: Record<string, string> = {}) =>
  t.app.inject({
    method: 'POST',
    url: '/v1/traces',
    headers: { 'x-api-key': key, 'content-type': 'application/json', ...headers },
    payload: payload as string,
  });

const postProtobuf = (payload: Uint8Array, headers: Record<string, string> = {}) =>
  post(Buffer.from(payload), { 'content-type': 'application/x-protobuf', ...headers });

const openai = (id: string, input: number | string, output: number | string) => [
  str('gen_ai.provider.name', 'openai'),
  str('gen_ai.operation.name', 'chat'),
  str('gen_ai.request.model', 'gpt-4o'),
  str('gen_ai.response.id', id),
  int('gen_ai.usage.input_tokens', input),
  int('gen_ai.usage.output_tokens', output),
];

beforeAll(async () => {
  t = await createTestApp();
  key = await createApiKey(t);
});
afterAll(async () => t.close());

describe('OTLP JSON', () => {
  it('stores each GenAI span once, with the numbers it carried (ints as text or numbers)', async () => {
    const res = await post(
      request(
        [
          jsonSpan([
            ...openai('chatcmpl-json-1', '1200', 300),
            int('gen_ai.usage.cache_read.input_tokens', '1000'),
            int('gen_ai.usage.cache_creation.input_tokens', 150),
            { key: 'gen_ai.usage.reasoning.output_tokens', value: { doubleValue: 200 } },
            str('gen_ai.response.model', 'gpt-4o-2024-08-06'),
          ]),
          jsonSpan(
            [
              str('gen_ai.system', 'aws.bedrock'),
              str('gen_ai.request.model', 'anthropic.claude-3-haiku-20240307-v1:0'),
              str('gen_ai.usage.prompt_tokens', '90'),
              int('gen_ai.usage.completion_tokens', '7'),
              str('user.id', 'carol'),
            ],
            {
              status: { code: 2, message: 'throttled' },
              // a JSON number, as some senders write int64
              startTimeUnixNano: Number(nanos(T0 + 1000)),
              endTimeUnixNano: nanos(T0 + 1000, 2_500_000),
            },
          ),
          jsonSpan([str('http.request.method', 'POST'), int('http.response.status_code', 200)]),
        ],
        [str('user.id', 'alice'), str('service.name', 'checkout')],
      ),
    );
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({});
    const rows = await storedRecords(t, `request_id = 'chatcmpl-json-1' OR user_id = 'carol'`);
    expect(rows).toEqual([
      expect.objectContaining({
        request_id: 'chatcmpl-json-1',
        occurred_at: '2026-11-20T14:00:00.000Z',
        user_id: 'alice',
        provider: 'openai',
        model: 'gpt-4o-2024-08-06',
        operation: 'chat',
        input_tokens: '1200',
        output_tokens: '300',
        cached_input_tokens: '1000',
        cache_write_tokens: '150',
        reasoning_tokens: '200',
        total_tokens: '1500',
        duration_ms: 800,
        success: true,
        error: null,
      }),
      expect.objectContaining({
        request_id: expect.stringMatching(/^a+[0-9a-f]+-b+[0-9a-f]+$/),
        occurred_at: '2026-11-20T14:00:01.000Z',
        user_id: 'carol',
        provider: 'aws',
        model: 'anthropic.claude-3-haiku-20240307-v1:0',
        operation: null,
        input_tokens: '90',
        output_tokens: '7',
        total_tokens: '97',
        duration_ms: 3,
        success: false,
        error: 'throttled',
      }),
    ]);
    const { rollup, recomputed } = await rollupAndRecomputation(t.db);
    expect(rollup).toEqual(recomputed);
  });

  it('answers partial success for refused spans, naming their attributes; the good ones are stored', async () => {
    const good = jsonSpan(openai('chatcmpl-partial-ok', 10, 5), { name: 'fine' });
    const noProvider = jsonSpan(openai('chatcmpl-partial-1', 10, 5).slice(1), { name: 'anonymous' });
    const cacheOverInput = jsonSpan([
      ...openai('chatcmpl-partial-2', 10, 5),
      int('gen_ai.usage.cache_read_input_tokens', 11),
    ]);
    const res = await post(
      request(
        [good, noProvider, cacheOverInput, jsonSpan([str('db.system', 'postgresql')])],
        [str('user.id', 'alice')],
      ),
    );
    expect(res.statusCode, res.body).toBe(200);
    const { partialSuccess } = res.json() as { partialSuccess: { rejectedSpans: number; errorMessage: string } };
    expect(partialSuccess.rejectedSpans).toBe(2);
    expect(partialSuccess.errorMessage).toContain(`span ${noProvider.spanId} ("anonymous"): gen_ai.provider.name:`);
    expect(partialSuccess.errorMessage).toContain(
      `span ${cacheOverInput.spanId} ("chat gpt-4o"): gen_ai.usage.cache_read_input_tokens:`,
    );
    expect((await storedRecords(t, `request_id LIKE 'chatcmpl-partial%'`)).map((r) => r.request_id)).toEqual([
      'chatcmpl-partial-ok',
    ]);
  });

  it('refuses spans without a user when sent with an API key, and takes it from a user token', async () => {
    const span = jsonSpan(openai('chatcmpl-nouser', 3, 4));
    const withKey = await post(request([span]));
    expect(withKey.json()).toEqual({
      partialSuccess: { rejectedSpans: 1, errorMessage: expect.stringContaining('user.id: userId is required') },
    });
    const asMember = await t.app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: bearer(t.token('mallory')),
      payload: request([span]),
    });
    expect(asMember.statusCode, asMember.body).toBe(200);
    expect(asMember.json()).toEqual({});
    expect(await storedRecords(t, `request_id = 'chatcmpl-nouser'`)).toEqual([
      expect.objectContaining({ user_id: 'mallory', input_tokens: '3', output_tokens: '4' }),
    ]);
  });

  it('takes the API key as a bearer token too, as exporters that only set Authorization send it', async () => {
    const span = jsonSpan([...openai('chatcmpl-bearer', 8, 9), str('user.id', 'frank')]);
    const asBearer = (authorization: string) =>
      t.app.inject({ method: 'POST', url: '/v1/traces', headers: { authorization }, payload: request([span]) });
    const res = await asBearer(`Bearer ${key}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(await storedRecords(t, `request_id = 'chatcmpl-bearer'`)).toEqual([
      expect.objectContaining({ workspace_id: 'default', user_id: 'frank', input_tokens: '8' }),
    ]);
    const unknown = await asBearer('Bearer tt_bm9wZQ.x');
    expect(unknown.statusCode).toBe(401);
    expect(unknown.json()).toMatchObject({ message: 'invalid or revoked API key' });
  });

  it('ignores spans without GenAI usage, and an empty request: 200 without partial success', async () => {
    const before = await storedRecords(t);
    for (const body of [
      {},
      { resourceSpans: [] },
      request([]),
      request([jsonSpan([str('gen_ai.provider.name', 'openai'), str('gen_ai.request.model', 'gpt-4o')])]),
    ]) {
      const res = await post(body);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({});
    }
    expect(await storedRecords(t)).toEqual(before);
  });

  it('counts a re-exported span once, in the same request or a later one', async () => {
    const byResponseId = jsonSpan(openai('chatcmpl-again', 50, 5));
    const byIds = jsonSpan(openai('', 60, 6).filter((a) => a.key !== 'gen_ai.response.id'));
    const body = request([byResponseId, byIds, byResponseId], [str('user.id', 'alice')]);
    for (let i = 0; i < 3; i += 1) {
      const res = await post(
        i === 2 ? gzipSync(JSON.stringify(body)) : body,
        i === 2 ? { 'content-encoding': 'gzip' } : {},
      );
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toEqual({});
    }
    const rows = await storedRecords(t, `request_id IN ($1, $2)`, [
      'chatcmpl-again',
      `${byIds.traceId}-${byIds.spanId}`,
    ]);
    expect(Object.fromEntries(rows.map((r) => [r.request_id, [r.input_tokens, r.output_tokens]]))).toEqual({
      'chatcmpl-again': ['50', '5'],
      [`${byIds.traceId}-${byIds.spanId}`]: ['60', '6'],
    });
  });
});

describe('quota counting', () => {
  it('counts a span’s tokens in its user’s quota period once, however often it is exported', async () => {
    const now = Date.now() - 60_000;
    const span = jsonSpan([...openai('chatcmpl-quota', 1200, 300), str('user.id', 'quinn')], {
      startTimeUnixNano: nanos(now),
      endTimeUnixNano: nanos(now + 10),
    });
    const quota = async () => {
      const res = await t.app.inject({
        method: 'GET',
        url: '/v1/admin/users/quinn/quota',
        headers: bearer(t.token('root', { role: 'admin' })),
      });
      expect(res.statusCode, res.body).toBe(200);
      return (res.json() as { tokens: { used: number } }).tokens.used;
    };
    const before = await quota();
    for (let i = 0; i < 2; i += 1) expect((await post(request([span]))).json()).toEqual({});
    expect((await quota()) - before).toBe(1500);
  });
});

describe('OTLP protobuf', () => {
  const spec = (id: string, attributes: Record<string, string | number>) => ({
    start: new Date(T0 + 5000),
    durationMs: 1500,
    attributes: {
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'claude-sonnet-4-5',
      'gen_ai.response.id': id,
      ...attributes,
    },
  });

  it('decodes the SDK serializer’s bytes (gzip or not) and answers in protobuf', async () => {
    const spans = finishedSpans(
      [
        spec('msg_pb_1', {
          'gen_ai.usage.input_tokens': 2000,
          'gen_ai.usage.output_tokens': 0,
          'gen_ai.usage.cache_read.input_tokens': 1500,
        }),
        spec('msg_pb_2', {
          'gen_ai.usage.input_tokens': '40',
          'gen_ai.usage.output_tokens': '8',
          'enduser.id': 'erin',
        }),
      ],
      { 'user.id': 'dan' },
    );
    const body = ProtobufTraceSerializer.serializeRequest(spans)!;
    const res = await postProtobuf(gzipSync(body), { 'content-encoding': 'gzip' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-protobuf');
    expect(ProtobufTraceSerializer.deserializeResponse(res.rawPayload)).toEqual({});
    expect(await storedRecords(t, `request_id LIKE 'msg_pb_%'`)).toEqual([
      expect.objectContaining({
        request_id: 'msg_pb_1',
        occurred_at: '2026-11-20T14:00:05.000Z',
        user_id: 'dan',
        provider: 'anthropic',
        model: 'claude-sonnet-4-5',
        input_tokens: '2000',
        output_tokens: '0',
        cached_input_tokens: '1500',
        duration_ms: 1500,
        success: true,
      }),
      expect.objectContaining({ request_id: 'msg_pb_2', user_id: 'erin', input_tokens: '40', output_tokens: '8' }),
    ]);
    // the same spans again, as protobuf and as JSON: duplicates
    expect((await postProtobuf(body)).statusCode).toBe(200);
    expect((await post(Buffer.from(JsonTraceSerializer.serializeRequest(spans)!))).json()).toEqual({});
    expect(await storedRecords(t, `request_id LIKE 'msg_pb_%'`)).toHaveLength(2);
  });

  it('answers partial success as an ExportTraceServiceResponse', async () => {
    const spans = finishedSpans(
      [
        spec('msg_pb_bad_1', { 'gen_ai.usage.input_tokens': -5, 'gen_ai.usage.output_tokens': 1 }),
        spec('msg_pb_bad_2', {
          'gen_ai.usage.input_tokens': 1,
          'gen_ai.usage.output_tokens': 1,
          'gen_ai.usage.reasoning.output_tokens': 2,
        }),
        spec('msg_pb_good', { 'gen_ai.usage.input_tokens': 1, 'gen_ai.usage.output_tokens': 1 }),
      ],
      { 'user.id': 'dan' },
    );
    const res = await postProtobuf(ProtobufTraceSerializer.serializeRequest(spans)!);
    expect(res.statusCode).toBe(200);
    const answer = ProtobufTraceSerializer.deserializeResponse(res.rawPayload);
    expect(answer.partialSuccess?.rejectedSpans).toBe(2);
    expect(answer.partialSuccess?.errorMessage).toMatch(/gen_ai\.usage\.input_tokens: must be a non-negative integer/);
    expect(answer.partialSuccess?.errorMessage).toMatch(
      /gen_ai\.usage\.reasoning\.output_tokens: reasoningTokens must not exceed/,
    );
    expect((await storedRecords(t, `request_id LIKE 'msg_pb_%'`)).map((r) => r.request_id)).toContain('msg_pb_good');
  });
});

describe('OTLP/HTTP error answers', () => {
  it('400 for a body that is not an ExportTraceServiceRequest, in the request’s content type', async () => {
    const badJson = await post('{"resourceSpans": [', {});
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json()).toMatchObject({ statusCode: 400, code: 'invalid_json' });

    const wrongShape = await post({ resourceSpans: [{ scopeSpans: {} }] });
    expect(wrongShape.statusCode).toBe(400);
    expect(wrongShape.json()).toMatchObject({
      code: 'validation_failed',
      details: [{ path: '/resourceSpans/0/scopeSpans' }],
    });

    const badBytes = await postProtobuf(Buffer.from([0x0a, 0xff, 0xff, 0x01]));
    expect(badBytes.statusCode).toBe(400);
    expect(badBytes.headers['content-type']).toBe('application/x-protobuf');
    expect(decodeRpcStatus(badBytes.rawPayload)).toEqual({
      code: 3,
      message: expect.stringContaining('not a protobuf'),
    });

    const notGzip = await postProtobuf(Buffer.from('plain'), { 'content-encoding': 'gzip' });
    expect(notGzip.statusCode).toBe(400);
    expect(decodeRpcStatus(notGzip.rawPayload).message).toContain('not valid gzip');
  });

  it('413 over 20 MiB, counted after decompression', async () => {
    const huge = JSON.stringify({ resourceSpans: [], padding: 'x'.repeat(21 * 1024 * 1024) });
    const plain = await post(huge);
    expect(plain.statusCode).toBe(413);
    expect(plain.json()).toMatchObject({ code: 'payload_too_large' });
    const bomb = gzipSync(Buffer.alloc(21 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(100_000);
    const compressed = await postProtobuf(bomb, { 'content-encoding': 'gzip' });
    expect(compressed.statusCode).toBe(413);
    expect(decodeRpcStatus(compressed.rawPayload).code).toBe(8);
  });

  it('401 without a valid key, 415 for another content type', async () => {
    const noKey = await t.app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/x-protobuf' },
      payload: Buffer.alloc(0),
    });
    expect(noKey.statusCode).toBe(401);
    expect(decodeRpcStatus(noKey.rawPayload).code).toBe(16);
    const badKey = await post({}, { 'x-api-key': 'tt_nope.nope' });
    expect(badKey.statusCode).toBe(401);
    expect(badKey.json()).toMatchObject({ code: 'unauthorized' });
    const text = await post('resourceSpans', { 'content-type': 'text/plain' });
    expect(text.statusCode).toBe(415);
  });

  it('503 with Retry-After when the database is away, as a Status for protobuf', async () => {
    const away = await createTestApp({ databaseUrl: t.databaseUrl });
    await away.db.destroy();
    try {
      const admin = bearer(away.token('root', { role: 'admin' }));
      const body = ProtobufTraceSerializer.serializeRequest(
        finishedSpans([
          {
            start: new Date(T0),
            attributes: {
              'gen_ai.provider.name': 'openai',
              'gen_ai.request.model': 'gpt-4o',
              'gen_ai.usage.input_tokens': 1,
            },
          },
        ]),
      )!;
      const res = await away.app.inject({
        method: 'POST',
        url: '/v1/traces',
        headers: { ...admin, 'content-type': 'application/x-protobuf' },
        payload: Buffer.from(body),
      });
      expect(res.statusCode, res.body).toBe(503);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(decodeRpcStatus(res.rawPayload)).toEqual({ code: 14, message: expect.stringContaining('database') });
    } finally {
      await away.app.close();
    }
  });

  it('429 with Retry-After from the rate limit, as a Status for protobuf', async () => {
    const limited = await createTestApp({
      databaseUrl: t.databaseUrl,
      rateLimit: { enabled: true, max: 1, windowMs: 60_000 },
    });
    try {
      const send = () =>
        limited.app.inject({
          method: 'POST',
          url: '/v1/traces',
          headers: { 'x-api-key': key, 'content-type': 'application/x-protobuf' },
          payload: Buffer.alloc(0),
        });
      expect((await send()).statusCode).toBe(200);
      const res = await send();
      expect(res.statusCode).toBe(429);
      expect(res.headers['retry-after']).toBe('60');
      expect(decodeRpcStatus(res.rawPayload)).toEqual({ code: 8, message: expect.stringContaining('rate limit') });
    } finally {
      await limited.app.close();
      await limited.db.destroy();
    }
  });
});

describe('hostile spans', () => {
  const hostileValue = fc.oneof(
    fc.record({
      stringValue: fc.oneof(fc.string(), fc.constantFrom('\u0000', '\ud800', 'a'.repeat(5000), '-1', '1e400')),
    }),
    fc.record({
      intValue: fc.oneof(
        fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
        fc.double(),
        fc.constantFrom('NaN', '', ' ', '0x1'),
      ),
    }),
    fc.record({ doubleValue: fc.oneof(fc.double(), fc.constantFrom('Infinity', 'NaN')) }),
    fc.record({ boolValue: fc.anything() }),
    fc.constant({ arrayValue: { values: [{ stringValue: 'a' }, { kvlistValue: { values: [] } }] } }),
    fc.constant({}),
    fc.constant(null),
    fc.anything(),
  );
  const attributeKey = fc.constantFrom(
    'gen_ai.provider.name',
    'gen_ai.system',
    'gen_ai.request.model',
    'gen_ai.response.model',
    'gen_ai.response.id',
    'gen_ai.operation.name',
    'gen_ai.usage.input_tokens',
    'gen_ai.usage.output_tokens',
    'gen_ai.usage.prompt_tokens',
    'gen_ai.usage.cache_read.input_tokens',
    'gen_ai.usage.cache_creation.input_tokens',
    'gen_ai.usage.reasoning.output_tokens',
    'user.id',
    'enduser.id',
    '__proto__',
    'constructor',
  );
  const hex = (length: number) =>
    fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });
  const hostileSpan = fc.record(
    {
      traceId: fc.oneof(hex(32), fc.anything()),
      spanId: fc.oneof(hex(16), fc.anything()),
      name: fc.anything(),
      startTimeUnixNano: fc.oneof(
        fc.constant(nanos(T0)),
        fc.bigInt({ min: -1n, max: 2n ** 70n }).map(String),
        fc.anything(),
      ),
      endTimeUnixNano: fc.oneof(fc.constant(nanos(T0 + 5)), fc.anything()),
      status: fc.oneof(fc.record({ code: fc.anything(), message: fc.anything() }), fc.anything()),
      attributes: fc.oneof(
        fc.array(fc.record({ key: attributeKey, value: hostileValue }), { maxLength: 12 }),
        fc.array(fc.anything(), { maxLength: 3 }),
        fc.anything(),
      ),
    },
    { requiredKeys: [] },
  );

  it('never answers 5xx, whatever the attribute values and span fields (JSON)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(hostileSpan, { maxLength: 6 }),
        fc.array(fc.record({ key: attributeKey, value: hostileValue }), { maxLength: 4 }),
        async (spans, resource) => {
          const res = await post(request(spans, resource as JsonAttribute[]));
          expect(res.statusCode, res.body).toBeLessThan(500);
          if (res.statusCode === 200) {
            const partial = (res.json() as { partialSuccess?: { rejectedSpans: number } }).partialSuccess;
            expect(partial?.rejectedSpans ?? 0).toBeLessThanOrEqual(spans.length);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('answers a span whose ids are empty bytes (protobufjs reads them as plain arrays) without a 5xx', async () => {
    // found by the property below: one byte of a valid request changed
    const bytes = Buffer.from(
      '0adb010a02100012d4010a110a0f746f6b656e74616c6c792d7465737458be010a10d68e37aa9f8907d5ffca596d8d2c' +
        '47da1208a025271da3878c9e2a046368617430033900c0bfee9bc5e9184100c0bfee9bc5e9184a200a1467656e5f6169' +
        '2e70726f76696465722e6e616d6512080a066f70656e61694a200a1467656e5f61692e726571756573742e6d6f64656c' +
        '12080a066770742d346f4a1f0a1967656e5f61692e75736167652e696e7075745f746f6b656e73120218014a110a0775' +
        '7365722e696412060a0466757a7a5000600070007a021800850101010000',
      'hex',
    );
    const res = await postProtobuf(bytes);
    expect(res.statusCode).toBe(200);
  });

  it('never answers 5xx for any bytes sent as protobuf', async () => {
    const valid = Buffer.from(
      ProtobufTraceSerializer.serializeRequest(
        finishedSpans([
          {
            start: new Date(T0),
            attributes: {
              'gen_ai.provider.name': 'openai',
              'gen_ai.request.model': 'gpt-4o',
              'gen_ai.usage.input_tokens': 1,
              'user.id': 'fuzz',
            },
          },
        ]),
      )!,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          // the valid request with bytes flipped or cut
          fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })).map(([at, byte]) => {
            const copy = Buffer.from(valid);
            copy[at] = byte;
            return copy;
          }),
          fc.nat(valid.length).map((n) => valid.subarray(0, n)),
        ),
        async (bytes) => {
          const res = await postProtobuf(Buffer.from(bytes));
          expect(res.statusCode, String(res.statusCode)).toBeLessThan(500);
          if (res.statusCode >= 400) expect(decodeRpcStatus(res.rawPayload).code).toBeGreaterThan(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
