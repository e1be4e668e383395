import { type Decimal } from './decimal';

export type ModelKind = 'language' | 'embedding';

/** One price version of a model, in USD per million tokens, in force from `effectiveFrom` on. */
export interface PriceVersion {
  effectiveFrom: Date;
  inputPerMillion: Decimal;
  outputPerMillion: Decimal;
  /** null: the provider does not discount cache reads; they cost the input price */
  cachedInputPerMillion: Decimal | null;
  /** null: cache writes cost the input price */
  cacheWritePerMillion: Decimal | null;
  /** null: reasoning tokens cost the output price */
  reasoningPerMillion: Decimal | null;
}

/**
 * The price versions that may apply to one model, most specific first (a workspace's own
 * entry before the built-in catalog). The version in force at an instant is the latest one
 * that started at or before it, looked up in the first schedule that has one.
 */
export function priceInForce(schedules: ReadonlyArray<ReadonlyArray<PriceVersion>>, at: Date): PriceVersion | null {
  for (const versions of schedules) {
    let best: PriceVersion | null = null;
    for (const version of versions) {
      if (version.effectiveFrom.getTime() <= at.getTime()) {
        if (!best || version.effectiveFrom.getTime() > best.effectiveFrom.getTime()) best = version;
      }
    }
    if (best) return best;
  }
  return null;
}
