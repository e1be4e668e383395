import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROVIDER_USAGE_FORMATS } from '../../src/domain/provider-usage';
import {
  anthropicMessage,
  anthropicStream,
  bedrockConverse,
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
import { ingest, usageRecord, type IngestReply } from '../support/records';
import { holdsPrototypeKey } from '../support/prototype-keys';
import { bearer, createTestApp, type TestApp } from '../support/test-app';

/**
 * POST /v1/usage/records with the provider's own usage object (`usage`) or a whole provider
 * response (`response`) in place of our token fields: the numbers stored, read back from the
 * database and the Usage tab, and each mistake rejected at its own field.
 */
let t: TestApp;
let admin: Record<string, string>;

beforeAll(async () => {
  t = await createTestApp();
  admin = bearer(t.token('root', { role: 'admin' }));
});
afterAll(async () => t.close());

interface Stored {
  request_id: string;
  provider: string;
  model: string;
  input: number;
  output: number;
  cached: number;
  cache_write: number;
  reasoning: number;
  total: number;
}

async function stored(requestIds: string[]): Promise<Stored[]> {
  return (await t.db.query(
    `SELECT request_id, provider, model, input_tokens::int AS input, output_tokens::int AS output,
            cached_input_tokens::int AS cached, cache_write_tokens::int AS cache_write,
            reasoning_tokens::int AS reasoning, total_tokens::int AS total
       FROM usage_records WHERE request_id = ANY($1) ORDER BY array_position($1, request_id)`,
    [requestIds],
  )) as Stored[];
}

const row = (
  request_id: string,
  provider: string,
  model: string,
  [input, output, cached, cache_write, reasoning]: [number, number, number, number, number],
): Stored => ({ request_id, provider, model, input, output, cached, cache_write, reasoning, total: input + output });

const call = { provider: 'openai', model: 'gpt-4o' };

describe('provider usage objects and responses are stored in our convention', () => {
  it('stores each format, whole and streamed, with exact numbers, and the Usage tab adds them up', async () => {
    const records = [
      { requestId: 'u-chat', ...call, model: 'o4-mini', usage: openaiChatCompletion.usage, usageFormat: 'openai.chat' },
      { requestId: 'u-responses', ...call, model: 'gpt-5', usage: openaiResponse.usage },
      { requestId: 'u-anthropic', provider: 'anthropic', model: 'claude-sonnet-4-5', usage: anthropicMessage.usage },
      { requestId: 'u-gemini', provider: 'google', model: 'gemini-2.5-flash', usage: geminiResponse.usageMetadata },
      { requestId: 'u-bedrock', provider: 'aws', model: 'amazon.nova-pro-v1:0', usage: bedrockConverse.usage },
      { response: openaiChatCompletion },
      { response: openaiChatStream },
      { response: openaiResponsesStream },
      { response: anthropicStream },
      { response: geminiStream },
      { model: 'anthropic.claude-sonnet-4-5-20250929-v1:0', response: bedrockConverse },
      { requestId: 'r-bedrock-stream', model: 'amazon.nova-lite-v1:0', response: bedrockConverseStream },
      { requestId: 'a-camel', ...call, promptTokens: 100, completionTokens: 20 },
      { requestId: 'a-snake', ...call, prompt_tokens: 7, completion_tokens: 3, cachedInputTokens: 2 },
    ];
    await ingest(t, admin, records, { expectAccepted: true });

    const expected = [
      row('u-chat', 'openai', 'o4-mini', [4_210, 1_380, 2_048, 1_024, 1_152]),
      row('u-responses', 'openai', 'gpt-5', [9_800, 2_250, 6_144, 2_560, 1_920]),
      // 312 uncached + 1,800 written + 12,400 read
      row('u-anthropic', 'anthropic', 'claude-sonnet-4-5', [14_512, 940, 12_400, 1_800, 610]),
      // 5,120 prompt + 230 tool-use prompt; 180 candidates + 1,050 thoughts
      row('u-gemini', 'google', 'gemini-2.5-flash', [5_350, 1_230, 4_096, 0, 1_050]),
      row('u-bedrock', 'aws', 'amazon.nova-pro-v1:0', [4_122, 220, 3_200, 512, 0]),
      row(openaiChatCompletion.id, 'openai', 'o4-mini-2025-04-16', [4_210, 1_380, 2_048, 1_024, 1_152]),
      row(openaiChatStream[0]!.id, 'openai', 'gpt-4o-2024-08-06', [1_530, 12, 1_280, 0, 0]),
      row(openaiResponse.id, 'openai', 'gpt-5-2025-08-07', [9_800, 2_250, 6_144, 2_560, 1_920]),
      // the last message_delta's output (940) over message_start's (1), never added
      row(anthropicMessage.id, 'anthropic', 'claude-sonnet-4-5-20250929', [14_512, 940, 12_400, 1_800, 610]),
      row(geminiStream[1]!.responseId, 'google', 'gemini-2.5-pro', [812, 466, 0, 0, 402]),
      row(
        bedrockConverse.$metadata.requestId,
        'aws',
        'anthropic.claude-sonnet-4-5-20250929-v1:0',
        [4_122, 220, 3_200, 512, 0],
      ),
      row('r-bedrock-stream', 'aws', 'amazon.nova-lite-v1:0', [95, 31, 0, 0, 0]),
      row('a-camel', 'openai', 'gpt-4o', [100, 20, 0, 0, 0]),
      row('a-snake', 'openai', 'gpt-4o', [7, 3, 2, 0, 0]),
    ];
    expect(await stored(expected.map((r) => r.request_id))).toEqual(expected);

    const sum = (pick: (r: Stored) => number) => expected.reduce((total, r) => total + pick(r), 0);
    const res = await t.app.inject({ method: 'GET', url: '/v1/admin/usage/stats', headers: admin });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().totals).toMatchObject({
      requests: 14,
      inputTokens: sum((r) => r.input),
      outputTokens: sum((r) => r.output),
      cachedInputTokens: sum((r) => r.cached),
      cacheWriteTokens: sum((r) => r.cache_write),
      reasoningTokens: sum((r) => r.reasoning),
      totalTokens: sum((r) => r.total),
    });
    // 5,590 + 12,050 + 15,452 + 6,580 + 4,342 + 5,590 + 1,542 + 12,050 + 15,452 + 1,278 + 4,342 + 126 + 120 + 10
    expect(sum((r) => r.total)).toBe(84_524);
  });

  it('stores Gemini usage as the Python SDK dumps it (snake_case), usage object and whole response', async () => {
    await ingest(
      t,
      admin,
      [
        {
          requestId: 'py-usage',
          provider: 'google',
          model: 'gemini-2.5-flash',
          usage: geminiResponsePythonDump.usage_metadata,
        },
        { response: { ...geminiResponsePythonDump, response_id: 'py-response' } },
      ],
      { expectAccepted: true },
    );
    expect(await stored(['py-usage', 'py-response'])).toEqual([
      row('py-usage', 'google', 'gemini-2.5-flash', [5_350, 1_230, 4_096, 0, 1_050]),
      row('py-response', 'google', 'gemini-2.5-flash', [5_350, 1_230, 4_096, 0, 1_050]),
    ]);
  });

  it('prices a record given as a provider object exactly as the same tokens given in our fields', async () => {
    await ingest(
      t,
      admin,
      [
        { requestId: 'price-usage', provider: 'openai', model: 'gpt-4o-2024-08-06', usage: openaiChatStream[3]!.usage },
        {
          requestId: 'price-ours',
          provider: 'openai',
          model: 'gpt-4o-2024-08-06',
          inputTokens: 1_530,
          outputTokens: 12,
          cachedInputTokens: 1_280,
        },
      ],
      { expectAccepted: true },
    );
    const costs = (await t.db.query(
      `SELECT request_id, cost::text, cost_status FROM usage_records WHERE request_id IN ('price-usage', 'price-ours') ORDER BY 1`,
    )) as Array<{ request_id: string; cost: string; cost_status: string }>;
    expect(costs).toHaveLength(2);
    expect(costs[0]!.cost_status).toBe('computed');
    expect(costs[0]!.cost).toBe(costs[1]!.cost);
  });

  it('lets fields of the record win over what the response says, and counts a re-sent response once', async () => {
    const record = { requestId: 'my-key', provider: 'azure', response: openaiResponse };
    expect(await ingest(t, admin, [record])).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    expect(await stored(['my-key'])).toEqual([
      row('my-key', 'azure', 'gpt-5-2025-08-07', [9_800, 2_250, 6_144, 2_560, 1_920]),
    ]);
    // the response's own id was stored by the first test: the same body again is a duplicate
    expect(await ingest(t, admin, [{ response: openaiResponse }, { response: openaiResponse }])).toEqual({
      accepted: 0,
      duplicates: 2,
      rejected: [],
    });
  });

  it('stores an embeddings response as input only; it has no id, so the record names its own', async () => {
    expect(await ingest(t, admin, [{ requestId: 'emb-1', response: openaiEmbedding }])).toEqual({
      accepted: 1,
      duplicates: 0,
      rejected: [],
    });
    expect(await ingest(t, admin, [{ ...call, requestId: 'emb-2', usage: openaiEmbedding.usage }])).toEqual({
      accepted: 1,
      duplicates: 0,
      rejected: [],
    });
    expect(await stored(['emb-1', 'emb-2'])).toEqual([
      row('emb-1', 'openai', 'text-embedding-3-small', [8, 0, 0, 0, 0]),
      row('emb-2', 'openai', 'gpt-4o', [8, 0, 0, 0, 0]),
    ]);
    expect(await paths({ response: openaiEmbedding })).toEqual(['/requestId']);
  });

  it('records usage sent with an API key as the same numbers', async () => {
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/api-keys',
      headers: admin,
      payload: { name: 'sdk' },
    });
    const key = { 'x-api-key': created.json().key as string };
    await ingest(t, key, [{ userId: 'alice', response: geminiResponse }], { expectAccepted: true });
    const [alice] = (await t.db.query(
      `SELECT user_id, input_tokens::int AS input FROM usage_records WHERE request_id = $1`,
      [geminiResponse.responseId],
    )) as Array<{ user_id: string; input: number }>;
    expect(alice).toEqual({ user_id: 'alice', input: 5_350 });
  });
});

interface Rejected {
  index: number;
  requestId?: string;
  errors: Array<{ path: string; message: string }>;
}

/** Sends one bad record between two good ones; returns its rejection after checking that the good ones were stored. */
async function rejectionOf(bad: object): Promise<Rejected> {
  const good = () => usageRecord({ requestId: `good-${Math.random().toString(36).slice(2)}` });
  const reply: IngestReply = await ingest(t, admin, [good(), bad, good()], { fold: false });
  expect(reply.accepted).toBe(2);
  expect(reply.rejected).toHaveLength(1);
  expect(reply.rejected[0]!.index).toBe(1);
  for (const error of reply.rejected[0]!.errors) expect(error.message.length).toBeGreaterThan(5);
  return reply.rejected[0]!;
}

const paths = async (bad: object) => (await rejectionOf(bad)).errors.map((e) => e.path);

describe('one bad record is rejected alone, at its field', () => {
  const chatUsage = openaiChatCompletion.usage;

  it('a provider total that disagrees, in a usage object and in a response', async () => {
    expect(
      await rejectionOf({ requestId: 'bad-total', ...call, usage: { ...chatUsage, total_tokens: 5_591 } }),
    ).toEqual({
      index: 1,
      requestId: 'bad-total',
      errors: [
        { path: '/usage/total_tokens', message: 'total_tokens is 5591, but prompt_tokens + completion_tokens is 5590' },
      ],
    });
    expect(await paths({ response: { ...openaiChatCompletion, usage: { ...chatUsage, total_tokens: 1 } } })).toEqual([
      '/response/usage/total_tokens',
    ]);
    // a Gemini total that would match only without the tool-use prompt and the thoughts
    expect(
      await paths({ ...call, requestId: 'g', usage: { ...geminiResponse.usageMetadata, totalTokenCount: 5_300 } }),
    ).toEqual(['/usage/totalTokenCount']);
  });

  it('a wrong field inside a stream, at the event it came from', async () => {
    const badDelta = { ...anthropicStream[4], usage: { ...anthropicStream[4]!.usage, output_tokens: -1 } };
    expect(await paths({ response: [...anthropicStream.slice(0, 4), badDelta] })).toEqual([
      '/response/4/usage/output_tokens',
    ]);
    expect(await paths({ response: openaiChatStream[0] })).toEqual(['/response/usage']);
    expect(await paths({ response: openaiChatStream.slice(0, 3) })).toEqual(['/response']);
  });

  it('a usage object whose format cannot be told, or is named wrong', async () => {
    const ambiguous = await rejectionOf({ requestId: 'amb', ...call, usage: { input_tokens: 10, output_tokens: 2 } });
    expect(ambiguous.errors).toEqual([{ path: '/usage', message: expect.stringContaining('usageFormat') }]);
    expect(await paths({ requestId: 'x', ...call, usage: chatUsage, usageFormat: 'openai' })).toEqual(['/usageFormat']);
    // named, but not this object's format: the required count is missing
    expect(await paths({ requestId: 'x', ...call, usage: chatUsage, usageFormat: 'gemini' })).toEqual([
      '/usage/promptTokenCount',
    ]);
    expect(await paths({ requestId: 'x', ...call, usage: 'lots' })).toEqual(['/usage']);
    expect(await paths({ requestId: 'x', ...call, usage: null })).toEqual(['/usage']);
    // a message_delta's usage alone has no input count
    expect(
      await paths({ requestId: 'x', ...call, usage: anthropicStream[4]!.usage, usageFormat: 'anthropic.messages' }),
    ).toEqual(['/usage/input_tokens']);
  });

  it('tokens given two ways, or a usageFormat with nothing to describe', async () => {
    expect(await paths({ requestId: 'x', ...call, usage: chatUsage, inputTokens: 1, outputTokens: 1 })).toEqual([
      '/inputTokens',
      '/outputTokens',
    ]);
    expect(await paths({ requestId: 'x', ...call, usage: chatUsage, response: openaiChatCompletion })).toEqual([
      '/response',
    ]);
    expect(await paths({ response: openaiChatCompletion, prompt_tokens: 1 })).toEqual(['/prompt_tokens']);
    expect(await paths(usageRecord({ usageFormat: 'openai.chat' }))).toEqual(['/usageFormat']);
    expect(await paths(usageRecord({ promptTokens: 10 }))).toEqual(['/promptTokens']);
    const { inputTokens: _i, outputTokens: _o, ...bare } = usageRecord();
    expect(await paths({ ...bare, promptTokens: 10 })).toEqual(['/completionTokens']);
    expect(await paths({ ...bare, promptTokens: 10, completion_tokens: 1 })).toEqual([
      '/completion_tokens',
      '/completionTokens',
    ]);
    expect(await paths({ ...bare, promptTokens: -1, completionTokens: 1 })).toEqual(['/promptTokens']);
  });

  it('what the record needs and the response lacks', async () => {
    expect(await paths({ ...call, usage: chatUsage })).toEqual(['/requestId']);
    expect(await paths({ requestId: 'x', model: 'm', usage: chatUsage })).toEqual(['/provider']);
    // Bedrock's body names no model
    expect(await paths({ response: bedrockConverse })).toEqual(['/model']);
    expect(await paths({ model: 'amazon.nova-lite-v1:0', response: bedrockConverseStream })).toEqual(['/requestId']);
    expect(await paths({ response: { ...openaiChatCompletion, id: 'x'.repeat(201) } })).toEqual(['/requestId']);
    expect(await paths({ response: { ...openaiChatCompletion, id: 'a\u0000b' } })).toEqual(['/requestId']);
    expect(await paths({ response: { ...openaiChatCompletion, model: ' ' } })).toEqual(['/model']);
    expect(await paths({ response: 'a response' })).toEqual(['/response']);
    expect(await paths({ response: [] })).toEqual(['/response']);
  });

  it('keeps the NUL check on what is stored, not on the text of a response', async () => {
    const withNul = {
      ...openaiChatCompletion,
      id: 'nul-in-content',
      choices: [
        {
          ...openaiChatCompletion.choices[0]!,
          message: { ...openaiChatCompletion.choices[0]!.message, content: 'a\u0000b' },
        },
      ],
    };
    expect(await ingest(t, admin, [{ response: withNul }], { fold: false })).toEqual({
      accepted: 1,
      duplicates: 0,
      rejected: [],
    });
  });
});

describe('the OpenAPI document', () => {
  it('names each form of a record and each provider format', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { requestBody: { content: Record<string, { schema: unknown }> } }>>;
      components: { schemas: Record<string, Record<string, unknown>> };
    };
    const body = doc.paths['/v1/usage/records']!.post!.requestBody.content['application/json']!.schema as {
      properties: { records: { items: { anyOf: Array<{ $ref: string }> } } };
    };
    expect(body.properties.records.items.anyOf.map((s) => s.$ref)).toEqual([
      '#/components/schemas/UsageRecordInput',
      '#/components/schemas/UsageRecordWithProviderUsage',
      '#/components/schemas/UsageRecordWithProviderResponse',
      '#/components/schemas/UsageRecordWithPromptTokens',
    ]);
    const { schemas } = doc.components;
    expect(schemas.ProviderUsageFormat).toMatchObject({ type: 'string', enum: [...PROVIDER_USAGE_FORMATS] });
    expect((schemas.ProviderUsage!.anyOf as Array<{ $ref: string }>).map((s) => s.$ref.split('/').pop())).toEqual([
      'OpenAIChatUsage',
      'OpenAIResponsesUsage',
      'AnthropicMessagesUsage',
      'GeminiUsageMetadata',
      'GeminiUsageMetadataSnakeCase',
      'BedrockConverseUsage',
    ]);
    expect(schemas.UsageRecordWithProviderResponse!.required).toEqual(['response']);
    expect(schemas.UsageRecordWithPromptTokens!.deprecated).toBe(true);
  });
});

describe('hostile provider objects', () => {
  const count = fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string(), fc.constant(null), fc.constant(1e300));
  const usageLike = fc.dictionary(
    fc.constantFrom(
      'prompt_tokens',
      'completion_tokens',
      'total_tokens',
      'input_tokens',
      'output_tokens',
      'promptTokenCount',
      'totalTokenCount',
      'inputTokens',
      'outputTokens',
      'cache_read_input_tokens',
      'prompt_tokens_details',
      'id',
      'model',
      'usage',
      'usageMetadata',
      'type',
      'object',
      'message',
      'response',
      'metadata',
      '$metadata',
    ),
    fc.oneof(count, fc.jsonValue({ maxDepth: 3 })),
  );
  const providerObject = fc.oneof(fc.jsonValue({ maxDepth: 4 }), usageLike, fc.array(usageLike, { maxLength: 4 }));
  const record = fc.record(
    {
      requestId: fc.string({ maxLength: 30 }),
      provider: fc.constantFrom('openai', 'anthropic'),
      model: fc.string({ maxLength: 20 }),
      usage: providerObject,
      response: providerObject,
      usageFormat: fc.oneof(fc.constantFrom(...PROVIDER_USAGE_FORMATS), fc.string({ maxLength: 12 })),
      inputTokens: fc.nat(),
    },
    { requiredKeys: [] },
  );

  it('answers 200 with each record accepted or rejected at a path, never 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 8 }), async (records) => {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/usage/records',
          headers: admin,
          payload: { records },
        });
        if (holdsPrototypeKey(records)) {
          // refused whole, at the key's place: nothing of the batch is stored
          expect(res.statusCode, res.body).toBe(400);
          expect(res.json()).toMatchObject({
            code: 'validation_failed',
            details: [{ path: expect.stringMatching(/^\/records\/\d+\//) }],
          });
          return;
        }
        expect(res.statusCode, res.body).toBe(200);
        const reply = res.json() as IngestReply;
        expect(reply.accepted + reply.duplicates + reply.rejected.length).toBe(records.length);
        for (const rejected of reply.rejected) {
          expect(rejected.errors.length).toBeGreaterThan(0);
          for (const error of rejected.errors) expect(error.path).toMatch(/^\//);
        }
      }),
      { numRuns: 150 },
    );
  });
});
