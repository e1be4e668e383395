import { Type, type TSchema } from '@sinclair/typebox';
import {
  GEMINI_NAMES,
  MAX_TOKEN_COUNT,
  PROVIDER_USAGE_FORMATS,
  type GeminiNames,
} from '../../../domain/provider-usage';
import { Nullable, StringEnum } from '../schemas/common';

/**
 * Provider usage objects as documented: the fields Tokentally reads. Providers add fields
 * often, so others are allowed; the values are checked by the mapping in
 * src/domain/provider-usage, which names the wrong field.
 */
const Count = (description?: string) =>
  Type.Integer({ minimum: 0, maximum: MAX_TOKEN_COUNT, ...(description ? { description } : {}) });
/** Providers leave a count out or send null for "none". */
const Maybe = <T extends TSchema>(schema: T) => Type.Optional(Nullable(schema));
const Open = <T extends Record<string, TSchema>>(properties: T, options: { $id?: string; description?: string } = {}) =>
  Type.Object(properties, { ...options, ...(options.$id ? { title: options.$id } : {}), additionalProperties: true });

export const ProviderUsageFormat = StringEnum(PROVIDER_USAGE_FORMATS, {
  $id: 'ProviderUsageFormat',
  title: 'ProviderUsageFormat',
  description: 'whose usage object `usage` (or `response`) is; without it the shape is recognised where unambiguous',
});

export const OpenAIChatUsage = Open(
  {
    prompt_tokens: Count('→ inputTokens'),
    completion_tokens: Count('→ outputTokens'),
    total_tokens: Maybe(Count('must equal prompt_tokens + completion_tokens')),
    prompt_tokens_details: Maybe(
      Open({
        cached_tokens: Maybe(Count('→ cachedInputTokens')),
        cache_write_tokens: Maybe(Count('→ cacheWriteTokens')),
      }),
    ),
    completion_tokens_details: Maybe(Open({ reasoning_tokens: Maybe(Count('→ reasoningTokens')) })),
  },
  {
    $id: 'OpenAIChatUsage',
    description: 'openai.chat: `usage` of a Chat Completions response or its last stream chunk',
  },
);

export const OpenAIResponsesUsage = Open(
  {
    input_tokens: Count('→ inputTokens'),
    output_tokens: Count('→ outputTokens'),
    total_tokens: Maybe(Count('must equal input_tokens + output_tokens')),
    input_tokens_details: Maybe(
      Open({
        cached_tokens: Maybe(Count('→ cachedInputTokens')),
        cache_write_tokens: Maybe(Count('→ cacheWriteTokens')),
      }),
    ),
    output_tokens_details: Maybe(Open({ reasoning_tokens: Maybe(Count('→ reasoningTokens')) })),
  },
  { $id: 'OpenAIResponsesUsage', description: 'openai.responses: `usage` of a Responses API response' },
);

export const AnthropicMessagesUsage = Open(
  {
    input_tokens: Count('uncached input only; inputTokens = input_tokens + cache reads + cache writes'),
    cache_read_input_tokens: Maybe(Count('→ cachedInputTokens')),
    cache_creation_input_tokens: Maybe(Count('→ cacheWriteTokens')),
    cache_creation: Maybe(
      Open(
        { ephemeral_5m_input_tokens: Maybe(Count()), ephemeral_1h_input_tokens: Maybe(Count('→ cacheWrite1hTokens')) },
        { description: 'per-TTL split of cache_creation_input_tokens; must add up to it' },
      ),
    ),
    output_tokens: Count('→ outputTokens'),
    output_tokens_details: Maybe(Open({ thinking_tokens: Maybe(Count('→ reasoningTokens')) })),
  },
  {
    $id: 'AnthropicMessagesUsage',
    description:
      'anthropic.messages: `usage` of a Messages response; streamed, the last message_delta usage over message_start’s (cumulative, never added)',
  },
);

/** Gemini's usage under either naming, from the one list of names the mapping reads. */
const geminiUsage = (n: GeminiNames, options: { $id: string; description: string }) =>
  Open(
    {
      [n.prompt]: Count(`includes ${n.cached}`),
      [n.cached]: Maybe(Count('→ cachedInputTokens')),
      [n.toolUsePrompt]: Maybe(Count(`input too: inputTokens = ${n.prompt} + ${n.toolUsePrompt}`)),
      [n.candidates]: Maybe(Count('output without thoughts')),
      [n.thoughts]: Maybe(Count(`→ reasoningTokens; outputTokens = ${n.candidates} + ${n.thoughts}`)),
      [n.total]: Maybe(Count('must equal the four counts above summed')),
    },
    options,
  );

export const GeminiUsageMetadata = geminiUsage(GEMINI_NAMES.camel, {
  $id: 'GeminiUsageMetadata',
  description: 'gemini: `usageMetadata` of a generateContent response or stream chunk',
});

export const GeminiUsageMetadataSnakeCase = geminiUsage(GEMINI_NAMES.snake, {
  $id: 'GeminiUsageMetadataSnakeCase',
  description: 'gemini: `usage_metadata` as the Python SDK’s model_dump() writes it; read as GeminiUsageMetadata',
});

export const BedrockConverseUsage = Open(
  {
    inputTokens: Count('uncached input only; inputTokens = inputTokens + cache reads + cache writes'),
    cacheReadInputTokens: Maybe(Count('→ cachedInputTokens')),
    cacheWriteInputTokens: Maybe(Count('→ cacheWriteTokens')),
    cacheDetails: Maybe(
      Type.Array(Open({ ttl: Maybe(Type.String({ examples: ['1h'] })), inputTokens: Maybe(Count()) }), {
        description:
          'per-TTL split of cacheWriteInputTokens; must add up to it; the "1h" entries → cacheWrite1hTokens, any other TTL priced as a 5-minute write',
      }),
    ),
    outputTokens: Count('→ outputTokens'),
    totalTokens: Maybe(Count('input (with or without the cache buckets) + output')),
  },
  {
    $id: 'BedrockConverseUsage',
    description: 'bedrock.converse: `usage` of a Converse response or ConverseStream metadata event',
  },
);

const FORMAT_SCHEMAS = [
  OpenAIChatUsage,
  OpenAIResponsesUsage,
  AnthropicMessagesUsage,
  GeminiUsageMetadata,
  GeminiUsageMetadataSnakeCase,
  BedrockConverseUsage,
];

export const ProviderUsage = Type.Union(
  FORMAT_SCHEMAS.map((schema) => Type.Ref(schema)),
  {
    $id: 'ProviderUsage',
    title: 'ProviderUsage',
    description: 'a provider’s usage object exactly as the provider returned it',
  },
);

const Body = Type.Object({}, { additionalProperties: true });

export const ProviderResponse = Type.Union([Body, Type.Array(Body, { minItems: 1 })], {
  $id: 'ProviderResponse',
  title: 'ProviderResponse',
  description:
    'a whole provider response body (Chat Completions, Responses, Messages, generateContent, Converse), its last stream chunk or event that carries usage, or the list of all its stream events',
});

export const PROVIDER_USAGE_SCHEMAS = [ProviderUsageFormat, ...FORMAT_SCHEMAS, ProviderUsage, ProviderResponse];
