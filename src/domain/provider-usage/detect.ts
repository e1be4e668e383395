import { isObject, type JsonObject } from './counts';
import { usageError, type ProviderUsageError, type ProviderUsageFormat } from './formats';

export type DetectedFormat = { ok: true; format: ProviderUsageFormat } | ProviderUsageError;

/** Fields only one format has; a usage object is recognised when all its telltale fields point at one format. */
const TELLTALES: ReadonlyArray<readonly [ProviderUsageFormat, (usage: JsonObject) => boolean]> = [
  [
    'openai.chat',
    // Gemini's snake_case dump has a prompt_tokens_details too (a list of modalities)
    (u) =>
      'prompt_tokens' in u ||
      'completion_tokens' in u ||
      ('prompt_tokens_details' in u && !('prompt_token_count' in u)),
  ],
  ['openai.responses', (u) => 'total_tokens' in u && 'input_tokens' in u],
  ['openai.responses', (u) => 'input_tokens_details' in u || hasKey(u.output_tokens_details, 'reasoning_tokens')],
  [
    'anthropic.messages',
    (u) =>
      'cache_creation_input_tokens' in u ||
      'cache_read_input_tokens' in u ||
      'cache_creation' in u ||
      'server_tool_use' in u ||
      'service_tier' in u ||
      hasKey(u.output_tokens_details, 'thinking_tokens'),
  ],
  ['gemini', (u) => 'promptTokenCount' in u || 'candidatesTokenCount' in u || 'totalTokenCount' in u],
  // the same, as the Python SDK's model_dump() writes it
  ['gemini', (u) => 'prompt_token_count' in u || 'candidates_token_count' in u || 'total_token_count' in u],
  ['bedrock.converse', (u) => 'inputTokens' in u || 'outputTokens' in u],
];

/**
 * Which provider's usage object this is, from the fields only one format has. Responses and
 * Messages share `input_tokens`/`output_tokens`: an object with nothing more is ambiguous,
 * as is one that mixes formats.
 */
export function detectUsageFormat(usage: unknown): DetectedFormat {
  if (!isObject(usage)) return usageError('', 'a usage object must be a JSON object');
  const found = new Set<ProviderUsageFormat>();
  for (const [format, matches] of TELLTALES) if (matches(usage)) found.add(format);
  if (found.size === 1) return { ok: true, format: [...found][0]! };
  const hint = 'name the format in usageFormat';
  if (found.size > 1) return usageError('', `the usage object mixes fields of ${[...found].join(' and ')}; ${hint}`);
  if ('input_tokens' in usage || 'output_tokens' in usage) {
    return usageError(
      '',
      `input_tokens and output_tokens alone may be openai.responses or anthropic.messages; ${hint}`,
    );
  }
  return usageError('', `not a usage object of a known format; ${hint}`);
}

function hasKey(value: unknown, key: string): boolean {
  return isObject(value) && key in value;
}
