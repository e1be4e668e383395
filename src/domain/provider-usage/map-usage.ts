import { CountReader, isObject, MAX_TOKEN_COUNT, type JsonObject } from './counts';
import { usageError, type ProviderTokens, type ProviderUsageFormat, type ProviderUsageResult } from './formats';

/**
 * Maps a provider's usage object, exactly as the provider returned it, to Tokentally's
 * convention. Error paths point into `usage` itself (e.g. "/total_tokens").
 */
export function mapProviderUsage(format: ProviderUsageFormat, usage: unknown): ProviderUsageResult {
  if (!isObject(usage)) return usageError('', `a ${format} usage object must be a JSON object`);
  const reader = new CountReader(usage);
  const tokens = MAPPERS[format](reader, usage);
  if (reader.error) return reader.error;
  if (tokens.inputTokens > MAX_TOKEN_COUNT || tokens.outputTokens > MAX_TOKEN_COUNT) {
    return usageError('', `input and output must each be at most ${MAX_TOKEN_COUNT} tokens`);
  }
  return { ok: true, tokens };
}

type Mapper = (reader: CountReader, usage: JsonObject) => ProviderTokens;

const MAPPERS: Record<ProviderUsageFormat, Mapper> = {
  'openai.chat': openaiChat,
  'openai.responses': openaiResponses,
  'anthropic.messages': anthropicMessages,
  gemini,
  'bedrock.converse': bedrockConverse,
};

/**
 * Chat Completions: every detail is a part of its parent, as in our convention. Embeddings
 * report the same object without `completion_tokens`: no output, and a total equal to the
 * prompt says so.
 */
function openaiChat(reader: CountReader, usage: JsonObject): ProviderTokens {
  const embeddings =
    !reader.has('/completion_tokens') && reader.has('/total_tokens') && usage.total_tokens === usage.prompt_tokens;
  const tokens = {
    inputTokens: reader.count('/prompt_tokens', true),
    outputTokens: reader.count('/completion_tokens', !embeddings),
    cachedInputTokens: reader.count('/prompt_tokens_details/cached_tokens'),
    cacheWriteTokens: reader.count('/prompt_tokens_details/cache_write_tokens'),
    cacheWrite1hTokens: 0,
    reasoningTokens: reader.count('/completion_tokens_details/reasoning_tokens'),
  };
  checkParts(reader, tokens, {
    cached: '/prompt_tokens_details/cached_tokens',
    input: 'prompt_tokens',
    reasoning: '/completion_tokens_details/reasoning_tokens',
    output: 'completion_tokens',
  });
  checkTotal(reader, '/total_tokens', [tokens.inputTokens + tokens.outputTokens], 'prompt_tokens + completion_tokens');
  return tokens;
}

/** Responses API: the same subset rule under other names. */
function openaiResponses(reader: CountReader): ProviderTokens {
  const tokens = {
    inputTokens: reader.count('/input_tokens', true),
    outputTokens: reader.count('/output_tokens', true),
    cachedInputTokens: reader.count('/input_tokens_details/cached_tokens'),
    cacheWriteTokens: reader.count('/input_tokens_details/cache_write_tokens'),
    cacheWrite1hTokens: 0,
    reasoningTokens: reader.count('/output_tokens_details/reasoning_tokens'),
  };
  checkParts(reader, tokens, {
    cached: '/input_tokens_details/cached_tokens',
    input: 'input_tokens',
    reasoning: '/output_tokens_details/reasoning_tokens',
    output: 'output_tokens',
  });
  checkTotal(reader, '/total_tokens', [tokens.inputTokens + tokens.outputTokens], 'input_tokens + output_tokens');
  return tokens;
}

/**
 * Messages API: `input_tokens` excludes cache reads and writes (three disjoint buckets, summed
 * here); thinking is part of `output_tokens`. A streamed message's `message_delta` usage is
 * cumulative, so the last one is the whole call. No total is reported.
 */
function anthropicMessages(reader: CountReader): ProviderTokens {
  const uncached = reader.count('/input_tokens', true);
  const cacheRead = reader.count('/cache_read_input_tokens');
  // writes to the one-hour cache are priced apart; a write without a TTL breakdown is a 5-minute one
  const oneHour = reader.count('/cache_creation/ephemeral_1h_input_tokens');
  const ttlParts = reader.count('/cache_creation/ephemeral_5m_input_tokens') + oneHour;
  let cacheWrite = ttlParts;
  if (reader.has('/cache_creation_input_tokens')) {
    cacheWrite = reader.count('/cache_creation_input_tokens');
    // the per-TTL breakdown, when there is one, splits cache_creation_input_tokens
    if (ttlParts > 0 && ttlParts !== cacheWrite) {
      reader.fail('/cache_creation', 'cache_creation must add up to cache_creation_input_tokens');
    }
  }
  const tokens = {
    inputTokens: uncached + cacheRead + cacheWrite,
    outputTokens: reader.count('/output_tokens', true),
    cachedInputTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    cacheWrite1hTokens: ttlParts === cacheWrite ? oneHour : 0,
    reasoningTokens: reader.count('/output_tokens_details/thinking_tokens'),
  };
  checkParts(reader, tokens, { reasoning: '/output_tokens_details/thinking_tokens', output: 'output_tokens' });
  return tokens;
}

/** Gemini's count names as its REST API writes them, and as the Python SDK's `model_dump()` does. */
export const GEMINI_NAMES = {
  camel: {
    prompt: 'promptTokenCount',
    toolUsePrompt: 'toolUsePromptTokenCount',
    candidates: 'candidatesTokenCount',
    thoughts: 'thoughtsTokenCount',
    cached: 'cachedContentTokenCount',
    total: 'totalTokenCount',
  },
  snake: {
    prompt: 'prompt_token_count',
    toolUsePrompt: 'tool_use_prompt_token_count',
    candidates: 'candidates_token_count',
    thoughts: 'thoughts_token_count',
    cached: 'cached_content_token_count',
    total: 'total_token_count',
  },
} as const;

export type GeminiNames = (typeof GEMINI_NAMES)[keyof typeof GEMINI_NAMES];

/** Whether a Gemini usage object uses snake_case names (none of the camelCase ones). */
function geminiNaming(usage: JsonObject): 'camel' | 'snake' | 'mixed' {
  const has = (names: Record<string, string>) => Object.values(names).some((name) => name in usage);
  const camel = has(GEMINI_NAMES.camel);
  const snake = has(GEMINI_NAMES.snake);
  return camel && snake ? 'mixed' : snake ? 'snake' : 'camel';
}

/**
 * Gemini `usageMetadata` (or `usage_metadata`, snake_case): the prompt includes cached content;
 * the tool-use prompt is input outside it; thoughts are output outside the candidates. Total =
 * all four.
 */
function gemini(reader: CountReader, usage: JsonObject): ProviderTokens {
  const naming = geminiNaming(usage);
  if (naming === 'mixed') {
    reader.fail('', 'the usage object mixes camelCase and snake_case Gemini names; use one');
  }
  const n = GEMINI_NAMES[naming === 'snake' ? 'snake' : 'camel'];
  const prompt = reader.count(`/${n.prompt}`, true);
  const toolUsePrompt = reader.count(`/${n.toolUsePrompt}`);
  const candidates = reader.count(`/${n.candidates}`);
  const thoughts = reader.count(`/${n.thoughts}`);
  const tokens = {
    inputTokens: prompt + toolUsePrompt,
    outputTokens: candidates + thoughts,
    cachedInputTokens: reader.count(`/${n.cached}`),
    cacheWriteTokens: 0,
    cacheWrite1hTokens: 0,
    reasoningTokens: thoughts,
  };
  if (tokens.cachedInputTokens > prompt) {
    reader.fail(`/${n.cached}`, `${n.cached} must not exceed ${n.prompt} (it is part of it)`);
  }
  checkTotal(
    reader,
    `/${n.total}`,
    [tokens.inputTokens + tokens.outputTokens],
    `${n.prompt} + ${n.toolUsePrompt} + ${n.candidates} + ${n.thoughts}`,
  );
  return tokens;
}

/**
 * Converse / ConverseStream: like Anthropic, `inputTokens` excludes cache reads and writes.
 * Its total is documented as "input plus output"; with caching it is reported including the
 * cache buckets, so either reading is accepted.
 */
function bedrockConverse(reader: CountReader, usage: JsonObject): ProviderTokens {
  const uncached = reader.count('/inputTokens', true);
  const cacheRead = reader.count('/cacheReadInputTokens');
  const byTtl = bedrockCacheDetails(reader, usage.cacheDetails);
  let cacheWrite = byTtl.total;
  if (reader.has('/cacheWriteInputTokens')) {
    cacheWrite = reader.count('/cacheWriteInputTokens');
    if (byTtl.total > 0 && byTtl.total !== cacheWrite) {
      reader.fail('/cacheDetails', 'cacheDetails must add up to cacheWriteInputTokens');
    }
  }
  const tokens = {
    inputTokens: uncached + cacheRead + cacheWrite,
    outputTokens: reader.count('/outputTokens', true),
    cachedInputTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    cacheWrite1hTokens: byTtl.total === cacheWrite ? byTtl.oneHour : 0,
    reasoningTokens: 0,
  };
  checkTotal(
    reader,
    '/totalTokens',
    [tokens.inputTokens + tokens.outputTokens, uncached + tokens.outputTokens],
    'inputTokens + cacheReadInputTokens + cacheWriteInputTokens + outputTokens',
  );
  return tokens;
}

/**
 * Bedrock's cache writes by TTL (`cacheDetails: [{ ttl: "1h" | "5m", inputTokens }]`): their
 * sum, and the part written for one hour, which is priced apart. Any other TTL is priced as a
 * five-minute write, as is a write without the breakdown.
 */
function bedrockCacheDetails(reader: CountReader, details: unknown): { total: number; oneHour: number } {
  const byTtl = { total: 0, oneHour: 0 };
  if (details === undefined || details === null) return byTtl;
  if (!Array.isArray(details)) {
    reader.fail('/cacheDetails', 'cacheDetails must be a list');
    return byTtl;
  }
  details.forEach((detail: unknown, i) => {
    const written = reader.count(`/cacheDetails/${i}/inputTokens`);
    byTtl.total += written;
    if (isObject(detail) && detail.ttl === '1h') byTtl.oneHour += written;
  });
  return byTtl;
}

/** Parts may not exceed their whole; a provider object where they do is not one we can trust. */
function checkParts(
  reader: CountReader,
  tokens: ProviderTokens,
  paths: { cached?: string; input?: string; reasoning: string; output: string },
): void {
  if (paths.cached && tokens.cachedInputTokens + tokens.cacheWriteTokens > tokens.inputTokens) {
    reader.fail(
      paths.cached,
      `cached and cache-write tokens together must not exceed ${paths.input} (they are parts of it)`,
    );
  }
  if (tokens.reasoningTokens > tokens.outputTokens) {
    reader.fail(
      paths.reasoning,
      `${paths.reasoning.slice(paths.reasoning.lastIndexOf('/') + 1)} must not exceed ${paths.output} (it is part of it)`,
    );
  }
}

/** A total the provider sent must agree with its parts. */
function checkTotal(reader: CountReader, path: string, accepted: number[], sum: string): void {
  if (!reader.has(path)) return;
  const total = reader.count(path);
  if (!reader.error && !accepted.includes(total)) {
    reader.fail(path, `${path.slice(1)} is ${total}, but ${sum} is ${accepted[0]}`);
  }
}
