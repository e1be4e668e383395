import { Type } from '@sinclair/typebox';
import { TOKEN_SOURCES } from '../../../domain/usage-record';

const Tokens = (description: string) => Type.Integer({ minimum: 0, maximum: 1_000_000_000_000, description });

export const METADATA_MAX_BYTES = 8192;

export const UsageRecordInput = Type.Object(
  {
    requestId: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'idempotency key: unique per workspace, first write wins',
      examples: ['chatcmpl-9x2Lk'],
    }),
    occurredAt: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'when the call happened; default: time of receipt',
        examples: ['2026-11-20T14:03:07.120Z'],
      }),
    ),
    userId: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description: 'required with an API key; members may only send their own',
        examples: ['alice'],
      }),
    ),
    provider: Type.String({ minLength: 1, maxLength: 100, pattern: '\\S', examples: ['openai'] }),
    model: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', examples: ['gpt-4o-2024-08-06'] }),
    operation: Type.Optional(
      Type.String({ minLength: 1, maxLength: 50, examples: ['chat'], description: 'chat, completion, embedding, …' }),
    ),
    inputTokens: Tokens('all input tokens, cached and cache-write included'),
    outputTokens: Tokens('all output tokens, reasoning included'),
    cachedInputTokens: Type.Optional(Tokens('part of inputTokens read from the prompt cache')),
    cacheWriteTokens: Type.Optional(Tokens('part of inputTokens written to the prompt cache')),
    reasoningTokens: Type.Optional(Tokens('part of outputTokens spent on reasoning')),
    totalTokens: Type.Optional(Tokens('if sent, must equal inputTokens + outputTokens')),
    durationMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000 })),
    success: Type.Optional(Type.Boolean({ description: 'default: true unless `error` is set' })),
    error: Type.Optional(Type.String({ maxLength: 2000 })),
    cost: Type.Optional(
      Type.Union(
        [Type.String({ pattern: '^\\d{1,9}(\\.\\d{1,18})?$' }), Type.Number({ minimum: 0, maximum: 999_999_999 })],
        {
          description: 'USD the provider charged, if known; kept as is (costStatus "provided")',
          examples: ['0.004215'],
        },
      ),
    ),
    tokenSource: Type.Optional(
      // a plain string enum in the document; TypeBox's compiler ignores `enum`, so
      // usage-record-check.ts checks the value itself
      Type.String({
        enum: [...TOKEN_SOURCES],
        description: 'reported (default): the provider counted the tokens; estimated: a tokenizer did',
      }),
    ),
    metadata: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: `any JSON object up to ${METADATA_MAX_BYTES} bytes` }),
    ),
  },
  { $id: 'UsageRecordInput', title: 'UsageRecordInput', additionalProperties: false },
);

/** The envelope as documented; records are checked one by one so that one bad record rejects only itself. */
export const IngestBody = (maxRecords: number) =>
  Type.Object(
    { records: Type.Array(Type.Ref(UsageRecordInput), { minItems: 1, maxItems: maxRecords }) },
    { additionalProperties: false },
  );

export const IngestEnvelope = (maxRecords: number) =>
  Type.Object(
    { records: Type.Array(Type.Unknown(), { minItems: 1, maxItems: maxRecords }) },
    { additionalProperties: false },
  );

export const IngestResponse = Type.Object({
  accepted: Type.Integer({ description: 'records stored by this request' }),
  duplicates: Type.Integer({ description: 'records whose requestId was already stored (or repeated in the batch)' }),
  rejected: Type.Array(
    Type.Object({
      index: Type.Integer({ description: 'position in `records`' }),
      requestId: Type.Optional(Type.String()),
      errors: Type.Array(Type.Object({ path: Type.String({ examples: ['/inputTokens'] }), message: Type.String() })),
    }),
  ),
});
