import { Decimal } from './decimal';
import type { PriceVersion } from './model-price';
import type { TokenUsage } from './token-usage';

/**
 * Exact cost in USD of one call at one price version. Each token is priced once: cache
 * reads and writes are carved out of the input, reasoning out of the output.
 */
export function computeCost(tokens: TokenUsage, price: PriceVersion): Decimal {
  const uncachedInput = tokens.inputTokens - tokens.cachedInputTokens - tokens.cacheWriteTokens;
  const visibleOutput = tokens.outputTokens - tokens.reasoningTokens;
  const parts: Array<[number, Decimal]> = [
    [uncachedInput, price.inputPerMillion],
    [tokens.cachedInputTokens, price.cachedInputPerMillion ?? price.inputPerMillion],
    [tokens.cacheWriteTokens, price.cacheWritePerMillion ?? price.inputPerMillion],
    [visibleOutput, price.outputPerMillion],
    [tokens.reasoningTokens, price.reasoningPerMillion ?? price.outputPerMillion],
  ];
  let perMillion = Decimal.ZERO;
  for (const [count, rate] of parts) {
    if (count > 0) perMillion = perMillion.plus(Decimal.fromInteger(count).times(rate));
  }
  return perMillion.shiftLeft(6);
}
