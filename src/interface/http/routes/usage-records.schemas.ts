import { Type, type TSchema } from '@sinclair/typebox';
import { TOKEN_SOURCES } from '../../../domain/usage-record';
import { CostField } from '../schemas/cost';
import { PROVIDER_USAGE_SCHEMAS, ProviderResponse, ProviderUsage, ProviderUsageFormat } from './provider-usage.schemas';

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
    cacheWrite1hTokens: Type.Optional(
      Tokens('part of cacheWriteTokens written to a one-hour cache (Anthropic), priced at its own rate'),
    ),
    reasoningTokens: Type.Optional(Tokens('part of outputTokens spent on reasoning')),
    totalTokens: Type.Optional(Tokens('if sent, must equal inputTokens + outputTokens')),
    durationMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000 })),
    success: Type.Optional(Type.Boolean({ description: 'default: true unless `error` is set' })),
    error: Type.Optional(Type.String({ maxLength: 2000 })),
    cost: CostField(
      Type.Union(
        [Type.String({ pattern: '^\\d{1,9}(\\.\\d{1,18})?$' }), Type.Number({ minimum: 0, maximum: 999_999_999 })],
        {
          description:
            'USD the provider charged, if known; kept as is (costStatus "provided"). A decimal string, or a JSON number, which is read from the digits written (never through a binary double); at most 18 decimals, else a 400 at the field',
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

/*
 * The other ways a record may give its tokens, built from UsageRecordInput's fields: a
 * provider's usage object, a whole provider response, or the seed-era names of inputTokens
 * and outputTokens.
 */
const {
  requestId,
  provider,
  model,
  inputTokens,
  outputTokens,
  cachedInputTokens,
  cacheWriteTokens,
  cacheWrite1hTokens,
  reasoningTokens,
  totalTokens,
  ...callFields
} = UsageRecordInput.properties;
const tokenParts = { cachedInputTokens, cacheWriteTokens, cacheWrite1hTokens, reasoningTokens, totalTokens };
const usageFormat = Type.Optional(Type.Ref(ProviderUsageFormat));

export const UsageRecordWithProviderUsage = Type.Object(
  { requestId, provider, model, ...callFields, usage: Type.Ref(ProviderUsage), usageFormat },
  {
    $id: 'UsageRecordWithProviderUsage',
    title: 'UsageRecordWithProviderUsage',
    description:
      'a record whose tokens are the provider’s usage object as it came, instead of inputTokens, outputTokens, …',
    additionalProperties: false,
  },
);

export const UsageRecordWithProviderResponse = Type.Object(
  {
    requestId: Type.Optional(Type.String({ ...requestId, description: 'default: the response’s id' })),
    provider: Type.Optional(
      Type.String({ ...provider, description: 'default: the provider whose format the response is' }),
    ),
    model: Type.Optional(Type.String({ ...model, description: 'default: the response’s model' })),
    ...callFields,
    response: Type.Ref(ProviderResponse),
    usageFormat,
  },
  {
    $id: 'UsageRecordWithProviderResponse',
    title: 'UsageRecordWithProviderResponse',
    description:
      'a record whose tokens, request id, model and provider are read from a provider response body (fields given here win)',
    additionalProperties: false,
  },
);

/** The names of inputTokens and outputTokens that clients of the seed era send; nothing else differs. */
export const TOKEN_ALIASES = [
  { input: 'promptTokens', output: 'completionTokens' },
  { input: 'prompt_tokens', output: 'completion_tokens' },
] as const;

/** OpenAPI 3.0 has no `examples` in a schema; the document generator turns them into `example` only outside unions. */
const withoutExamples = (properties: Record<string, TSchema>): Record<string, TSchema> =>
  Object.fromEntries(Object.entries(properties).map(([name, { examples: _examples, ...schema }]) => [name, schema]));

export const UsageRecordWithPromptTokens = Type.Union(
  TOKEN_ALIASES.map((alias) =>
    Type.Object(
      withoutExamples({
        requestId,
        provider,
        model,
        ...callFields,
        [alias.input]: Type.Integer({ ...inputTokens, description: `another name of inputTokens` }),
        [alias.output]: Type.Integer({ ...outputTokens, description: `another name of outputTokens` }),
        ...tokenParts,
      }),
      { additionalProperties: false },
    ),
  ),
  {
    $id: 'UsageRecordWithPromptTokens',
    title: 'UsageRecordWithPromptTokens',
    description: 'older names of inputTokens and outputTokens, still accepted',
    deprecated: true,
  },
);

/** One record: tokens in our fields, as a provider's usage object, or as a whole provider response. */
export const UsageRecordItem = Type.Union([
  Type.Ref(UsageRecordInput),
  Type.Ref(UsageRecordWithProviderUsage),
  Type.Ref(UsageRecordWithProviderResponse),
  Type.Ref(UsageRecordWithPromptTokens),
]);

/** Every named schema a record refers to, for the document's components. */
export const USAGE_RECORD_SCHEMAS = [
  UsageRecordInput,
  ...PROVIDER_USAGE_SCHEMAS,
  UsageRecordWithProviderUsage,
  UsageRecordWithProviderResponse,
  UsageRecordWithPromptTokens,
];

/** The envelope as documented; records are checked one by one so that one bad record rejects only itself. */
export const IngestBody = (maxRecords: number) =>
  Type.Object(
    { records: Type.Array(UsageRecordItem, { minItems: 1, maxItems: maxRecords }) },
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
