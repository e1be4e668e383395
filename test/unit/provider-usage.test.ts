import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  detectUsageFormat,
  mapProviderUsage,
  PROVIDER_USAGE_FORMATS,
  readProviderResponse,
  type ProviderUsageFormat,
} from '../../src/domain/provider-usage';
import {
  anthropicMessage,
  anthropicStream,
  bedrockConverse,
  bedrockConverseOneHourCache,
  bedrockConverseStream,
  geminiResponse,
  geminiResponsePythonDump,
  geminiStream,
  openaiChatCompletion,
  openaiChatStream,
  openaiEmbedding,
  openaiResponse,
  openaiResponsesStream,
} from '../fixtures/provider-responses';

const tokens = (input: number, output: number, cached = 0, cacheWrite = 0, reasoning = 0, cacheWrite1h = 0) => ({
  inputTokens: input,
  outputTokens: output,
  cachedInputTokens: cached,
  cacheWriteTokens: cacheWrite,
  cacheWrite1hTokens: cacheWrite1h,
  reasoningTokens: reasoning,
});

describe('each format in our convention (cached and cache-write inside input, reasoning inside output)', () => {
  it.each<[string, ProviderUsageFormat, unknown, ReturnType<typeof tokens>]>([
    [
      'OpenAI chat: details are parts, cache writes kept',
      'openai.chat',
      openaiChatCompletion.usage,
      tokens(4_210, 1_380, 2_048, 1_024, 1_152),
    ],
    [
      'OpenAI responses: the same rule',
      'openai.responses',
      openaiResponse.usage,
      tokens(9_800, 2_250, 6_144, 2_560, 1_920),
    ],
    // 312 uncached + 1,800 written (all to the one-hour cache) + 12,400 read
    [
      'Anthropic: disjoint input buckets summed',
      'anthropic.messages',
      anthropicMessage.usage,
      tokens(14_512, 940, 12_400, 1_800, 610, 1_800),
    ],
    // input 5,120 prompt + 230 tool-use prompt; output 180 candidates + 1,050 thoughts
    [
      'Gemini: tool-use prompt and thoughts counted',
      'gemini',
      geminiResponse.usageMetadata,
      tokens(5_350, 1_230, 4_096, 0, 1_050),
    ],
    // 410 uncached + 3,200 read + 512 written
    [
      'Bedrock: disjoint input buckets summed',
      'bedrock.converse',
      bedrockConverse.usage,
      tokens(4_122, 220, 3_200, 512, 0),
    ],
  ])('%s', (_name, format, usage, expected) => {
    expect(mapProviderUsage(format, usage)).toEqual({ ok: true, tokens: expected });
    expect(detectUsageFormat(usage)).toEqual({ ok: true, format });
    const { inputTokens, outputTokens, cachedInputTokens, cacheWriteTokens, reasoningTokens } = expected;
    expect(cachedInputTokens + cacheWriteTokens).toBeLessThanOrEqual(inputTokens);
    expect(reasoningTokens).toBeLessThanOrEqual(outputTokens);
  });

  it('reads Gemini usage in snake_case, as the Python SDK dumps it, the same as camelCase', () => {
    const expected = { ok: true, tokens: tokens(5_350, 1_230, 4_096, 0, 1_050) };
    expect(mapProviderUsage('gemini', geminiResponsePythonDump.usage_metadata)).toEqual(expected);
    expect(detectUsageFormat(geminiResponsePythonDump.usage_metadata)).toEqual({ ok: true, format: 'gemini' });
    expect(readProviderResponse(geminiResponsePythonDump)).toMatchObject({
      ok: true,
      format: 'gemini',
      provider: 'google',
      requestId: 'q3TyaOfLJ8W_kdUPr5WsqQk',
      model: 'gemini-2.5-flash',
      usagePath: '/usage_metadata',
      tokens: expected.tokens,
    });
    expect(
      mapProviderUsage('gemini', { ...geminiResponsePythonDump.usage_metadata, total_token_count: 6_000 }),
    ).toMatchObject({
      ok: false,
      path: '/total_token_count',
      message: expect.stringContaining('prompt_token_count +'),
    });
    expect(mapProviderUsage('gemini', { prompt_token_count: 3, cached_content_token_count: 4 })).toMatchObject({
      ok: false,
      path: '/cached_content_token_count',
    });
    expect(mapProviderUsage('gemini', { promptTokenCount: 10, candidates_token_count: 4 })).toMatchObject({
      ok: false,
      path: '',
      message: expect.stringContaining('mixes camelCase and snake_case'),
    });
  });

  it('counts a Gemini call without thoughts or tools, whose total is prompt + candidates', () => {
    expect(mapProviderUsage('gemini', { promptTokenCount: 10, candidatesTokenCount: 4, totalTokenCount: 14 })).toEqual({
      ok: true,
      tokens: tokens(10, 4),
    });
  });

  it('reads Anthropic cache writes from the per-TTL breakdown when the sum is absent', () => {
    const usage = {
      input_tokens: 5,
      output_tokens: 2,
      cache_creation: { ephemeral_5m_input_tokens: 30, ephemeral_1h_input_tokens: 70 },
    };
    expect(mapProviderUsage('anthropic.messages', usage)).toEqual({ ok: true, tokens: tokens(105, 2, 0, 100, 0, 70) });
  });

  it('reads an OpenAI embeddings usage (no completion_tokens, a total equal to the prompt) as no output', () => {
    expect(mapProviderUsage('openai.chat', openaiEmbedding.usage)).toEqual({ ok: true, tokens: tokens(8, 0) });
    expect(detectUsageFormat(openaiEmbedding.usage)).toEqual({ ok: true, format: 'openai.chat' });
    expect(readProviderResponse(openaiEmbedding)).toMatchObject({
      ok: true,
      format: 'openai.chat',
      requestId: undefined,
      model: 'text-embedding-3-small',
      tokens: tokens(8, 0),
    });
  });

  it('reads Bedrock cache writes by TTL: the one-hour part kept apart, the breakdown checked', () => {
    const usage = bedrockConverseOneHourCache.usage;
    expect(mapProviderUsage('bedrock.converse', usage)).toEqual({
      ok: true,
      tokens: tokens(4_122, 220, 3_200, 512, 0, 300),
    });
    expect(readProviderResponse(bedrockConverseOneHourCache)).toMatchObject({
      ok: true,
      tokens: tokens(4_122, 220, 3_200, 512, 0, 300),
    });
    // without the sum, the breakdown gives it
    const { cacheWriteInputTokens: _sum, totalTokens: _total, ...withoutSum } = usage;
    expect(mapProviderUsage('bedrock.converse', withoutSum)).toEqual({
      ok: true,
      tokens: tokens(4_122, 220, 3_200, 512, 0, 300),
    });
    // a TTL Tokentally has no price for is priced as a five-minute write
    expect(
      mapProviderUsage('bedrock.converse', { ...usage, cacheDetails: [{ ttl: '24h', inputTokens: 512 }] }),
    ).toEqual({ ok: true, tokens: tokens(4_122, 220, 3_200, 512, 0, 0) });
    expect(mapProviderUsage('bedrock.converse', { ...usage, cacheDetails: [] })).toEqual({
      ok: true,
      tokens: tokens(4_122, 220, 3_200, 512, 0, 0),
    });
    expect(
      mapProviderUsage('bedrock.converse', { ...usage, cacheDetails: [{ ttl: '1h', inputTokens: 500 }] }),
    ).toMatchObject({ ok: false, path: '/cacheDetails' });
    expect(
      mapProviderUsage('bedrock.converse', { ...usage, cacheDetails: [{ ttl: '1h', inputTokens: -1 }] }),
    ).toMatchObject({ ok: false, path: '/cacheDetails/0/inputTokens' });
    expect(mapProviderUsage('bedrock.converse', { ...usage, cacheDetails: [7] })).toMatchObject({
      ok: false,
      path: '/cacheDetails/0',
    });
    expect(mapProviderUsage('bedrock.converse', { ...usage, cacheDetails: { ttl: '1h' } })).toMatchObject({
      ok: false,
      path: '/cacheDetails',
    });
  });

  it('accepts a Bedrock total with or without the cache buckets', () => {
    const usage = { inputTokens: 10, cacheReadInputTokens: 90, outputTokens: 5 };
    expect(mapProviderUsage('bedrock.converse', { ...usage, totalTokens: 105 })).toMatchObject({ ok: true });
    expect(mapProviderUsage('bedrock.converse', { ...usage, totalTokens: 15 })).toMatchObject({ ok: true });
    expect(mapProviderUsage('bedrock.converse', { ...usage, totalTokens: 16 })).toMatchObject({ path: '/totalTokens' });
  });
});

describe('rejections at the field that is wrong', () => {
  it.each<[string, ProviderUsageFormat, unknown, string]>([
    [
      'a chat total that disagrees',
      'openai.chat',
      { ...openaiChatCompletion.usage, total_tokens: 5_591 },
      '/total_tokens',
    ],
    [
      'a responses total that disagrees',
      'openai.responses',
      { ...openaiResponse.usage, total_tokens: 9_800 },
      '/total_tokens',
    ],
    // a mapping that forgot the tool-use prompt and thoughts would expect 5,300
    [
      'a Gemini total without tool use and thoughts',
      'gemini',
      { ...geminiResponse.usageMetadata, totalTokenCount: 5_300 },
      '/totalTokenCount',
    ],
    [
      'Bedrock: a total that is neither reading',
      'bedrock.converse',
      { ...bedrockConverse.usage, totalTokens: 1 },
      '/totalTokens',
    ],
    [
      'cached beyond the prompt',
      'openai.chat',
      { prompt_tokens: 10, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 8, cache_write_tokens: 3 } },
      '/prompt_tokens_details/cached_tokens',
    ],
    [
      'reasoning beyond the output',
      'openai.responses',
      { input_tokens: 1, output_tokens: 5, output_tokens_details: { reasoning_tokens: 6 } },
      '/output_tokens_details/reasoning_tokens',
    ],
    [
      'thinking beyond the output',
      'anthropic.messages',
      { input_tokens: 1, output_tokens: 5, output_tokens_details: { thinking_tokens: 6 } },
      '/output_tokens_details/thinking_tokens',
    ],
    [
      'Gemini cached beyond the prompt',
      'gemini',
      { promptTokenCount: 5, cachedContentTokenCount: 6 },
      '/cachedContentTokenCount',
    ],
    [
      'a TTL breakdown that disagrees',
      'anthropic.messages',
      { ...anthropicMessage.usage, cache_creation: { ephemeral_5m_input_tokens: 1, ephemeral_1h_input_tokens: 1 } },
      '/cache_creation',
    ],
    ['a missing required count', 'openai.chat', { completion_tokens: 1 }, '/prompt_tokens'],
    // only a total equal to the prompt says there was no output (embeddings)
    ['chat without completion_tokens or a total', 'openai.chat', { prompt_tokens: 10 }, '/completion_tokens'],
    [
      'chat without completion_tokens, its total over the prompt',
      'openai.chat',
      { prompt_tokens: 10, total_tokens: 15 },
      '/completion_tokens',
    ],
    ['a null input (a message_delta alone)', 'anthropic.messages', anthropicStream[4]!.usage, '/input_tokens'],
    ['a count as text', 'gemini', { promptTokenCount: '12' }, '/promptTokenCount'],
    ['a negative count', 'bedrock.converse', { inputTokens: -1, outputTokens: 1 }, '/inputTokens'],
    ['a fractional count', 'openai.chat', { prompt_tokens: 1.5, completion_tokens: 1 }, '/prompt_tokens'],
    ['an absurd count', 'openai.chat', { prompt_tokens: 1e13, completion_tokens: 1 }, '/prompt_tokens'],
    [
      'details that are not an object',
      'openai.chat',
      { prompt_tokens: 1, completion_tokens: 1, prompt_tokens_details: [1] },
      '/prompt_tokens_details',
    ],
    ['not an object at all', 'gemini', 'twelve', ''],
  ])('%s', (_name, format, usage, path) => {
    const result = mapProviderUsage(format, usage);
    expect(result).toEqual({ ok: false, path, message: expect.any(String) });
    expect(!result.ok && result.message.length).toBeGreaterThan(10);
  });

  it('says what disagrees', () => {
    expect(mapProviderUsage('openai.chat', { prompt_tokens: 100, completion_tokens: 20, total_tokens: 121 })).toEqual({
      ok: false,
      path: '/total_tokens',
      message: 'total_tokens is 121, but prompt_tokens + completion_tokens is 120',
    });
  });
});

describe('detectUsageFormat', () => {
  it('refuses what it cannot tell apart: input_tokens and output_tokens alone, or fields of two formats', () => {
    expect(detectUsageFormat({ input_tokens: 1, output_tokens: 2 })).toMatchObject({
      ok: false,
      path: '',
      message: expect.stringContaining('openai.responses or anthropic.messages'),
    });
    expect(detectUsageFormat({ prompt_tokens: 1, promptTokenCount: 1 })).toMatchObject({ ok: false, path: '' });
    expect(detectUsageFormat({ tokens: 5 })).toMatchObject({ ok: false, path: '' });
    expect(detectUsageFormat(null)).toMatchObject({ ok: false, path: '' });
  });

  it('tells Responses from Messages by what only one has', () => {
    expect(detectUsageFormat({ input_tokens: 1, output_tokens: 2, total_tokens: 3 })).toEqual({
      ok: true,
      format: 'openai.responses',
    });
    expect(detectUsageFormat({ input_tokens: 1, output_tokens: 2, cache_read_input_tokens: 0 })).toEqual({
      ok: true,
      format: 'anthropic.messages',
    });
    expect(
      detectUsageFormat({ input_tokens: 1, output_tokens: 2, output_tokens_details: { thinking_tokens: 1 } }),
    ).toEqual({
      ok: true,
      format: 'anthropic.messages',
    });
  });
});

describe('readProviderResponse: whole bodies, final stream events and whole streams', () => {
  it.each<[string, unknown, object]>([
    [
      'an OpenAI chat completion',
      openaiChatCompletion,
      {
        format: 'openai.chat',
        provider: 'openai',
        requestId: openaiChatCompletion.id,
        model: 'o4-mini-2025-04-16',
        usagePath: '/usage',
        tokens: tokens(4_210, 1_380, 2_048, 1_024, 1_152),
      },
    ],
    [
      'the last chunk of a chat stream',
      openaiChatStream[3],
      {
        format: 'openai.chat',
        requestId: openaiChatStream[3]!.id,
        model: 'gpt-4o-2024-08-06',
        usagePath: '/usage',
        tokens: tokens(1_530, 12, 1_280),
      },
    ],
    [
      'a whole chat stream',
      openaiChatStream,
      {
        format: 'openai.chat',
        requestId: openaiChatStream[0]!.id,
        usagePath: '/3/usage',
        tokens: tokens(1_530, 12, 1_280),
      },
    ],
    [
      'a Responses API response',
      openaiResponse,
      {
        format: 'openai.responses',
        provider: 'openai',
        requestId: openaiResponse.id,
        model: 'gpt-5-2025-08-07',
        usagePath: '/usage',
        tokens: tokens(9_800, 2_250, 6_144, 2_560, 1_920),
      },
    ],
    [
      'a response.completed event',
      openaiResponsesStream[10],
      { format: 'openai.responses', requestId: openaiResponse.id, usagePath: '/response/usage' },
    ],
    [
      'a whole Responses stream',
      openaiResponsesStream,
      {
        format: 'openai.responses',
        requestId: openaiResponse.id,
        usagePath: '/10/response/usage',
        tokens: tokens(9_800, 2_250, 6_144, 2_560, 1_920),
      },
    ],
    [
      'an Anthropic message',
      anthropicMessage,
      {
        format: 'anthropic.messages',
        provider: 'anthropic',
        requestId: anthropicMessage.id,
        model: 'claude-sonnet-4-5-20250929',
        tokens: tokens(14_512, 940, 12_400, 1_800, 610, 1_800),
      },
    ],
    // message_start's usage, then message_delta's cumulative output over it (never added: 941 would be wrong)
    [
      'a whole Anthropic stream',
      anthropicStream,
      {
        format: 'anthropic.messages',
        requestId: anthropicMessage.id,
        model: 'claude-sonnet-4-5-20250929',
        usagePath: '/0/message/usage',
        tokens: tokens(14_512, 940, 12_400, 1_800, 610, 1_800),
      },
    ],
    [
      'an Anthropic message_start alone',
      anthropicStream[0],
      {
        format: 'anthropic.messages',
        requestId: anthropicMessage.id,
        usagePath: '/message/usage',
        tokens: tokens(14_512, 1, 12_400, 1_800, 0, 1_800),
      },
    ],
    [
      'a Gemini response',
      geminiResponse,
      {
        format: 'gemini',
        provider: 'google',
        requestId: geminiResponse.responseId,
        model: 'gemini-2.5-flash',
        usagePath: '/usageMetadata',
        tokens: tokens(5_350, 1_230, 4_096, 0, 1_050),
      },
    ],
    [
      'a whole Gemini stream',
      geminiStream,
      {
        format: 'gemini',
        requestId: geminiStream[1]!.responseId,
        model: 'gemini-2.5-pro',
        usagePath: '/1/usageMetadata',
        tokens: tokens(812, 466, 0, 0, 402),
      },
    ],
    [
      'a Bedrock Converse output',
      bedrockConverse,
      {
        format: 'bedrock.converse',
        provider: 'aws',
        requestId: bedrockConverse.$metadata.requestId,
        model: undefined,
        usagePath: '/usage',
        tokens: tokens(4_122, 220, 3_200, 512),
      },
    ],
    [
      'a ConverseStream metadata event',
      bedrockConverseStream[4],
      { format: 'bedrock.converse', requestId: undefined, usagePath: '/metadata/usage', tokens: tokens(126 - 31, 31) },
    ],
    [
      'a whole ConverseStream',
      bedrockConverseStream,
      { format: 'bedrock.converse', usagePath: '/4/metadata/usage', tokens: tokens(95, 31) },
    ],
  ])('%s', (_name, body, expected) => {
    expect(readProviderResponse(body)).toMatchObject({ ok: true, ...expected });
  });

  it('maps a streamed call to the same tokens as the same call not streamed', () => {
    const whole = readProviderResponse(anthropicMessage);
    expect(readProviderResponse(anthropicStream)).toEqual({
      ...whole,
      usagePath: '/0/message/usage',
      usage: expect.any(Object),
    });
  });

  it('points an error into the body', () => {
    expect(
      readProviderResponse({ ...openaiChatCompletion, usage: { ...openaiChatCompletion.usage, total_tokens: 1 } }),
    ).toMatchObject({
      ok: false,
      path: '/usage/total_tokens',
    });
    expect(
      readProviderResponse({
        ...openaiResponsesStream[10],
        response: { ...openaiResponse, usage: { input_tokens: 'x' } },
      }),
    ).toMatchObject({
      path: '/response/usage/input_tokens',
    });
    // in a whole stream: at the event the wrong field came from
    const badDelta = { ...anthropicStream[4], usage: { ...anthropicStream[4]!.usage, output_tokens: -1 } };
    expect(readProviderResponse([anthropicStream[0], badDelta])).toMatchObject({ path: '/1/usage/output_tokens' });
    expect(
      readProviderResponse([{ ...geminiStream[1], usageMetadata: { promptTokenCount: 1, totalTokenCount: 9 } }]),
    ).toMatchObject({
      path: '/0/usageMetadata/totalTokenCount',
    });
  });

  it('explains a chat chunk without usage, a stream without usage, and a body that is none', () => {
    expect(readProviderResponse(openaiChatStream[0])).toEqual({
      ok: false,
      path: '/usage',
      message: expect.stringContaining('stream_options.include_usage'),
    });
    expect(readProviderResponse(openaiChatStream.slice(0, 3))).toMatchObject({ ok: false, path: '' });
    expect(readProviderResponse('hello')).toMatchObject({ ok: false, path: '' });
    expect(readProviderResponse({ id: 'x', choices: [] })).toMatchObject({ ok: false, path: '/usage' });
  });

  it('takes the format given over what the body looks like, and detects it for a body without markers', () => {
    const body = { id: 'gen-1', model: 'mistral-large', usage: { input_tokens: 3, output_tokens: 4 } };
    expect(readProviderResponse(body)).toMatchObject({ ok: false, path: '/usage' });
    expect(readProviderResponse(body, 'openai.responses')).toMatchObject({
      ok: true,
      requestId: 'gen-1',
      tokens: tokens(3, 4),
    });
    const compatible = {
      id: 'cmpl-9',
      model: 'deepseek-chat',
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    };
    expect(readProviderResponse(compatible)).toMatchObject({ ok: true, format: 'openai.chat', model: 'deepseek-chat' });
  });
});

describe('hostile objects', () => {
  const formats = fc.constantFrom(...PROVIDER_USAGE_FORMATS);
  const count = fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string(), fc.constant(null), fc.bigInt().map(String));
  /** Objects built from the fields the formats know, with any values, nested where they nest. */
  const usageLike = fc.dictionary(
    fc.constantFrom(
      'prompt_tokens',
      'completion_tokens',
      'total_tokens',
      'input_tokens',
      'output_tokens',
      'cache_read_input_tokens',
      'cache_creation_input_tokens',
      'promptTokenCount',
      'candidatesTokenCount',
      'thoughtsTokenCount',
      'toolUsePromptTokenCount',
      'totalTokenCount',
      'cachedContentTokenCount',
      'inputTokens',
      'outputTokens',
      'totalTokens',
      'cacheReadInputTokens',
      '__proto__',
      'constructor',
    ),
    count,
  );
  const nested = fc.record(
    {
      prompt_tokens_details: fc.oneof(
        fc.anything(),
        fc.dictionary(fc.constantFrom('cached_tokens', 'cache_write_tokens'), count),
      ),
      cache_creation: fc.anything(),
      cacheDetails: fc.oneof(
        fc.anything(),
        fc.array(
          fc.record({ ttl: fc.constantFrom('1h', '5m', '__proto__'), inputTokens: count }, { requiredKeys: [] }),
        ),
      ),
      output_tokens_details: fc.anything(),
    },
    { requiredKeys: [] },
  );
  const hostile = fc.oneof(
    fc.anything(),
    fc.jsonValue(),
    usageLike,
    fc.tuple(usageLike, nested).map(([a, b]) => ({ ...a, ...b })),
  );

  it('never throws, and whatever it accepts is whole non-negative numbers with parts inside their wholes', () => {
    fc.assert(
      fc.property(formats, hostile, (format, usage) => {
        for (const result of [
          mapProviderUsage(format, usage),
          readProviderResponse(usage),
          readProviderResponse({ usage }, format),
          readProviderResponse([usage]),
        ]) {
          if (!result.ok) {
            expect(typeof result.path).toBe('string');
            expect(result.path === '' || result.path.startsWith('/')).toBe(true);
            continue;
          }
          const t = result.tokens;
          for (const value of Object.values(t)) expect(Number.isSafeInteger(value) && value >= 0).toBe(true);
          expect(t.cachedInputTokens + t.cacheWriteTokens).toBeLessThanOrEqual(t.inputTokens);
          expect(t.cacheWrite1hTokens).toBeLessThanOrEqual(t.cacheWriteTokens);
          expect(t.reasoningTokens).toBeLessThanOrEqual(t.outputTokens);
        }
        detectUsageFormat(usage);
      }),
      { numRuns: 2_000 },
    );
  });

  it('sums Anthropic buckets and Gemini parts for any valid counts', () => {
    const n = fc.nat({ max: 1_000_000_000 });
    fc.assert(
      fc.property(n, n, n, n, (input, read, write, output) => {
        const mapped = mapProviderUsage('anthropic.messages', {
          input_tokens: input,
          cache_read_input_tokens: read,
          cache_creation_input_tokens: write,
          output_tokens: output,
        });
        expect(mapped).toEqual({ ok: true, tokens: tokens(input + read + write, output, read, write) });
      }),
    );
    // with the per-TTL breakdown, its one-hour part is kept apart (priced at its own rate)
    fc.assert(
      fc.property(n, n, n, (input, fiveMinute, oneHour) => {
        const mapped = mapProviderUsage('anthropic.messages', {
          input_tokens: input,
          cache_creation_input_tokens: fiveMinute + oneHour,
          cache_creation: { ephemeral_5m_input_tokens: fiveMinute, ephemeral_1h_input_tokens: oneHour },
          output_tokens: 1,
        });
        const write = fiveMinute + oneHour;
        expect(mapped).toEqual({ ok: true, tokens: tokens(input + write, 1, 0, write, 0, oneHour) });
      }),
    );
    fc.assert(
      fc.property(n, n, n, n, (prompt, tool, candidates, thoughts) => {
        const totalTokenCount = prompt + tool + candidates + thoughts;
        expect(
          mapProviderUsage('gemini', {
            promptTokenCount: prompt,
            toolUsePromptTokenCount: tool,
            candidatesTokenCount: candidates,
            thoughtsTokenCount: thoughts,
            totalTokenCount,
          }),
        ).toEqual({ ok: true, tokens: tokens(prompt + tool, candidates + thoughts, 0, 0, thoughts) });
      }),
    );
  });
});

describe('a stream event with a "__proto__" key (as JSON.parse keeps it)', () => {
  it('merges only the fields, never the prototype', () => {
    const delta = JSON.parse(
      '{"type":"message_delta","usage":{"output_tokens":7,"__proto__":{"input_tokens":1e9}}}',
    ) as object;
    const read = readProviderResponse([anthropicStream[0], delta]);
    expect(read).toMatchObject({ ok: true, tokens: { inputTokens: 14_512, outputTokens: 7 } });
    expect(Object.getPrototypeOf(read.ok && read.usage)).toBe(Object.prototype);
  });
});
