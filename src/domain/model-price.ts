import { type Decimal } from './decimal';

export type ModelKind = 'language' | 'embedding';

/** The six per-million rates of a price, in USD; a null rate falls back (see effectiveRates). */
export interface PriceRates {
  inputPerMillion: Decimal;
  outputPerMillion: Decimal;
  /** null: the provider does not discount cache reads; they cost the input price */
  cachedInputPerMillion: Decimal | null;
  /** null: cache writes cost the input price */
  cacheWritePerMillion: Decimal | null;
  /** writes to a one-hour cache; null: they cost what other cache writes cost */
  cacheWrite1hPerMillion: Decimal | null;
  /** null: reasoning tokens cost the output price */
  reasoningPerMillion: Decimal | null;
}

/**
 * Long-context pricing: a call whose input (cache reads and writes included) is above
 * `aboveInputTokens` has all its tokens priced at these rates instead of the version's own
 * (Gemini 2.5 Pro above 200k, GPT-5.4 above 272k). Null rates fall back within the tier.
 */
export interface LongContextPrice extends PriceRates {
  aboveInputTokens: number;
}

/** One price version of a model, in USD per million tokens, in force from `effectiveFrom` on. */
export interface PriceVersion extends PriceRates {
  effectiveFrom: Date;
  /** null: every call is priced at the version's own rates, however long its input */
  longContext: LongContextPrice | null;
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

/** A stretch of time [from, to) in which one price version (or none) is in force; null ends are open. */
export interface PriceSegment {
  from: Date | null;
  to: Date | null;
  price: PriceVersion | null;
}

/**
 * `priceInForce` over all time, as consecutive segments: the version in force can only change
 * where some version starts, so it is looked up once at each such instant.
 */
export function priceSegments(schedules: ReadonlyArray<ReadonlyArray<PriceVersion>>): PriceSegment[] {
  const starts = [...new Set(schedules.flat().map((v) => v.effectiveFrom.getTime()))].sort((a, b) => a - b);
  const segments: PriceSegment[] = [{ from: null, to: starts.length > 0 ? new Date(starts[0]!) : null, price: null }];
  starts.forEach((start, i) => {
    const next = starts[i + 1];
    segments.push({
      from: new Date(start),
      to: next === undefined ? null : new Date(next),
      price: priceInForce(schedules, new Date(start)),
    });
  });
  return segments;
}
