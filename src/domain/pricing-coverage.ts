/** How much of a range's usage has a known cost. */
export interface PricingCoverage {
  requests: number;
  pricedRequests: number;
  tokens: number;
  pricedTokens: number;
  /** percent of requests priced, truncated to hundredths (99.999 shows 99.99, never 100); null without requests */
  requestsPricedPercent: number | null;
  /** percent of tokens priced, likewise; null without tokens */
  tokensPricedPercent: number | null;
}

/** Truncated, so that a range with one unpriced record never reads as fully priced. */
function percent(part: number, whole: number): number | null {
  return whole === 0 ? null : Math.floor((part * 10_000) / whole) / 100;
}

/** The one definition of coverage, from a range's totals: stats and the unpriced models list both answer it. */
export function coverageOf(totals: {
  requests: number;
  unpricedRequests: number;
  totalTokens: number;
  unpricedTokens: number;
}): PricingCoverage {
  const pricedRequests = totals.requests - totals.unpricedRequests;
  const pricedTokens = totals.totalTokens - totals.unpricedTokens;
  return {
    requests: totals.requests,
    pricedRequests,
    tokens: totals.totalTokens,
    pricedTokens,
    requestsPricedPercent: percent(pricedRequests, totals.requests),
    tokensPricedPercent: percent(pricedTokens, totals.totalTokens),
  };
}
