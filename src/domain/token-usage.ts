/**
 * Token counts of one call, in Tokentally's convention (OpenAI's and OpenTelemetry's):
 * `cachedInputTokens` and `cacheWriteTokens` are parts of `inputTokens`,
 * `reasoningTokens` is part of `outputTokens`, and `totalTokens = inputTokens + outputTokens`.
 */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  /** of `cacheWriteTokens`, those written to a one-hour cache (Anthropic's longer TTL), which cost more */
  cacheWrite1hTokens: number;
  reasoningTokens: number;
}

export interface FieldError {
  /** JSON pointer into the record, e.g. "/inputTokens" */
  path: string;
  message: string;
}

export function checkTokenUsage(tokens: TokenUsage, totalTokens?: number): FieldError[] {
  const errors: FieldError[] = [];
  if (tokens.cachedInputTokens + tokens.cacheWriteTokens > tokens.inputTokens) {
    errors.push({
      path: '/cachedInputTokens',
      message: 'cachedInputTokens + cacheWriteTokens must not exceed inputTokens (they are parts of it)',
    });
  }
  if (tokens.cacheWrite1hTokens > tokens.cacheWriteTokens) {
    errors.push({
      path: '/cacheWrite1hTokens',
      message: 'cacheWrite1hTokens must not exceed cacheWriteTokens (it is part of it)',
    });
  }
  if (tokens.reasoningTokens > tokens.outputTokens) {
    errors.push({
      path: '/reasoningTokens',
      message: 'reasoningTokens must not exceed outputTokens (it is part of it)',
    });
  }
  if (totalTokens !== undefined && totalTokens !== tokens.inputTokens + tokens.outputTokens) {
    errors.push({ path: '/totalTokens', message: 'totalTokens must equal inputTokens + outputTokens' });
  }
  return errors;
}
