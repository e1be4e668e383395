import type { TokenUsage } from '../token-usage';

/** The usage objects Tokentally reads as the providers return them. */
export const PROVIDER_USAGE_FORMATS = [
  'openai.chat',
  'openai.responses',
  'anthropic.messages',
  'gemini',
  'bedrock.converse',
] as const;

export type ProviderUsageFormat = (typeof PROVIDER_USAGE_FORMATS)[number];

/** The provider a response body of each format comes from, as the price catalog names it. */
export const PROVIDER_OF_FORMAT: Readonly<Record<ProviderUsageFormat, string>> = {
  'openai.chat': 'openai',
  'openai.responses': 'openai',
  'anthropic.messages': 'anthropic',
  gemini: 'google',
  'bedrock.converse': 'aws',
};

export function isProviderUsageFormat(value: unknown): value is ProviderUsageFormat {
  return typeof value === 'string' && (PROVIDER_USAGE_FORMATS as readonly string[]).includes(value);
}

/**
 * Why a provider object could not be read. `path` is a JSON pointer into the object that was
 * passed in ("" for the object itself, "/total_tokens" for its field); the caller puts it
 * under its own field, e.g. "/usage" + path.
 */
export interface ProviderUsageError {
  ok: false;
  path: string;
  message: string;
}

/** Token counts in Tokentally's convention: cached and cache-write are parts of input, reasoning part of output. */
export type ProviderTokens = TokenUsage;

export type ProviderUsageResult = { ok: true; tokens: ProviderTokens } | ProviderUsageError;

export function usageError(path: string, message: string): ProviderUsageError {
  return { ok: false, path, message };
}
