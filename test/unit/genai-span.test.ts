import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { spanToUsage, tokenCount, type OtelSpan, type SpanValue } from '../../src/domain/genai-span';

const TRACE = '5b8efff798038103d269b633813fc60c';
const SPAN = 'eee19b7ec3c1b174';
const START = '1796400000123456789'; // 2026-12-04T16:00:00.123Z

function span(attributes: Record<string, SpanValue>, overrides: Partial<OtelSpan> = {}): OtelSpan {
  return {
    traceId: TRACE,
    spanId: SPAN,
    name: 'chat gpt-4o',
    startTimeUnixNano: START,
    endTimeUnixNano: '1796400001373456789',
    statusCode: 0,
    statusMessage: '',
    attributes: new Map(Object.entries(attributes)),
    resource: new Map(),
    ...overrides,
  };
}

const chat = {
  'gen_ai.provider.name': 'openai',
  'gen_ai.operation.name': 'chat',
  'gen_ai.request.model': 'gpt-4o',
  'gen_ai.response.model': 'gpt-4o-2024-08-06',
  'gen_ai.response.id': 'chatcmpl-123',
  'gen_ai.usage.input_tokens': 1200,
  'gen_ai.usage.output_tokens': 300,
  'user.id': 'alice',
};

describe('a GenAI span as a usage record', () => {
  it('takes the current attribute names as they are (cache and reasoning are parts of input and output)', () => {
    const outcome = spanToUsage(
      span({
        ...chat,
        'gen_ai.usage.cache_read.input_tokens': 1000,
        'gen_ai.usage.cache_creation.input_tokens': 150,
        'gen_ai.usage.reasoning.output_tokens': 200,
      }),
    );
    expect(outcome).toMatchObject({
      kind: 'usage',
      draft: {
        requestId: 'chatcmpl-123',
        occurredAt: new Date('2026-12-04T16:00:00.123Z'),
        userId: 'alice',
        provider: 'openai',
        model: 'gpt-4o-2024-08-06',
        operation: 'chat',
        inputTokens: 1200,
        outputTokens: 300,
        cachedInputTokens: 1000,
        cacheWriteTokens: 150,
        reasoningTokens: 200,
        durationMs: 1250,
        success: true,
        error: undefined,
        metadata: { traceId: TRACE, spanId: SPAN },
      },
    });
  });

  it('reads the older names, integers as decimal text, and the user from the resource', () => {
    const outcome = spanToUsage({
      ...span({
        'gen_ai.system': 'gcp.gemini',
        'gen_ai.request.model': 'gemini-2.5-pro',
        'gen_ai.usage.prompt_tokens': '900',
        'gen_ai.usage.completion_tokens': ' 40 ',
        'gen_ai.usage.cache_read_input_tokens': '100',
        'gen_ai.usage.cache_creation_input_tokens': 5,
        'gen_ai.usage.reasoning_tokens': '30',
      }),
      resource: new Map([['enduser.id', 'bob']]),
    });
    expect(outcome).toMatchObject({
      kind: 'usage',
      draft: {
        requestId: `${TRACE}-${SPAN}`,
        userId: 'bob',
        provider: 'google',
        model: 'gemini-2.5-pro',
        inputTokens: 900,
        outputTokens: 40,
        cachedInputTokens: 100,
        cacheWriteTokens: 5,
        reasoningTokens: 30,
      },
    });
  });

  it('prefers the current names and the span over its resource', () => {
    const outcome = spanToUsage({
      ...span({
        ...chat,
        'gen_ai.system': 'anthropic',
        'gen_ai.usage.prompt_tokens': 1,
        'enduser.id': 'carol',
      }),
      resource: new Map([['user.id', 'dave']]),
    });
    expect(outcome).toMatchObject({ draft: { provider: 'openai', inputTokens: 1200, userId: 'alice' } });
  });

  it.each([
    ['gcp.gemini', 'google'],
    ['gcp.vertex_ai', 'google'],
    ['gcp.gen_ai', 'google'],
    ['aws.bedrock', 'aws'],
    ['azure.ai.openai', 'azure'],
    ['azure.ai.inference', 'azure'],
    ['mistral_ai', 'mistral'],
    ['x_ai', 'x-ai'],
    ['Anthropic', 'anthropic'],
    ['ibm.watsonx.ai', 'ibm.watsonx.ai'],
  ])('maps provider %s to %s', (reported, ours) => {
    expect(spanToUsage(span({ ...chat, 'gen_ai.provider.name': reported }))).toMatchObject({
      draft: { provider: ours },
    });
  });

  it('an error status is a failed call, with its message or error.type', () => {
    expect(spanToUsage(span(chat, { statusCode: 2, statusMessage: 'rate limited' }))).toMatchObject({
      draft: { success: false, error: 'rate limited' },
    });
    expect(spanToUsage(span({ ...chat, 'error.type': 'timeout' }, { statusCode: 2 }))).toMatchObject({
      draft: { success: false, error: 'timeout' },
    });
    expect(spanToUsage(span(chat, { statusCode: 1 }))).toMatchObject({ draft: { success: true } });
  });

  it('a value left out of a protobuf wire (null) is zero; one side of the usage alone is enough', () => {
    expect(
      spanToUsage(span({ ...chat, 'gen_ai.usage.output_tokens': null, 'gen_ai.operation.name': 'embeddings' })),
    ).toMatchObject({ draft: { inputTokens: 1200, outputTokens: 0, operation: 'embeddings' } });
    const { 'gen_ai.usage.input_tokens': _input, ...outputOnly } = chat;
    expect(spanToUsage(span(outputOnly))).toMatchObject({ draft: { inputTokens: 0, outputTokens: 300 } });
  });

  it('ignores spans without GenAI usage', () => {
    expect(spanToUsage(span({ 'http.request.method': 'GET' }))).toEqual({ kind: 'ignored' });
    const { 'gen_ai.usage.input_tokens': _i, 'gen_ai.usage.output_tokens': _o, ...noUsage } = chat;
    expect(spanToUsage(span(noUsage))).toEqual({ kind: 'ignored' });
  });

  it('refuses a span with usage but no provider, model, usable ids or start, naming each', () => {
    const outcome = spanToUsage(
      span(
        { 'gen_ai.usage.input_tokens': -1, 'gen_ai.usage.output_tokens': 1.5 },
        { traceId: 'zz', startTimeUnixNano: '' },
      ),
    );
    expect(outcome.kind).toBe('rejected');
    const paths = outcome.kind === 'rejected' ? outcome.errors.map((e) => e.path) : [];
    expect(paths).toEqual([
      'gen_ai.usage.input_tokens',
      'gen_ai.usage.output_tokens',
      'gen_ai.provider.name',
      'gen_ai.request.model',
      'traceId',
      'startTimeUnixNano',
    ]);
  });

  it('refuses an end before the start', () => {
    expect(spanToUsage(span(chat, { endTimeUnixNano: '1' }))).toMatchObject({
      kind: 'rejected',
      errors: [{ path: 'endTimeUnixNano' }],
    });
  });

  it('accepts counts as numbers or decimal text, nothing else', () => {
    expect([0, 7, '7', ' 12 ', null].map(tokenCount)).toEqual([0, 7, 7, 12, 0]);
    expect([-1, 1.5, NaN, '1e3', '0x10', '', 'abc', true, '99999999999999999999'].map(tokenCount)).toEqual(
      Array(9).fill(null),
    );
  });

  it('never throws, whatever the attribute values', () => {
    const value: fc.Arbitrary<SpanValue> = fc.oneof(
      fc.string(),
      fc.double(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.bigInt().map(String),
    );
    const keys = fc.constantFrom(
      ...Object.keys(chat),
      'gen_ai.system',
      'gen_ai.usage.cache_read.input_tokens',
      'gen_ai.usage.reasoning_tokens',
      'enduser.id',
      'error.type',
    );
    fc.assert(
      fc.property(
        fc.dictionary(keys, value),
        fc.string(),
        fc.string(),
        fc.integer(),
        (attributes, start, end, statusCode) => {
          const outcome = spanToUsage(span(attributes, { startTimeUnixNano: start, endTimeUnixNano: end, statusCode }));
          expect(['ignored', 'usage', 'rejected']).toContain(outcome.kind);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
