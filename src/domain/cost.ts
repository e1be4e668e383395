import { Decimal } from './decimal';
import { windowAt, type PriceRates, type PriceVersion } from './model-price';
import type { TokenUsage } from './token-usage';

/**
 * A price version's six per-million rates as integers on one common scale. Pricing a call
 * at them takes a few BigInt multiplications and no rescaling; a batch prepares each price
 * version it uses once.
 */
export interface CostRates {
  /** fraction digits of every rate below */
  scale: number;
  input: bigint;
  cachedInput: bigint;
  cacheWrite: bigint;
  cacheWrite1h: bigint;
  output: bigint;
  reasoning: bigint;
  /** the version's long-context tier: its rates for a call with more input tokens than `above` */
  longContext: { above: number; rates: CostRates } | null;
  /** the version's daily windows (UTC) with rates of their own; the last that holds a call applies */
  timeOfDay: Array<{ startSecond: number; endSecond: number; rates: CostRates }>;
}

/** The six rates' names, as CostRates and EffectiveRates have them. */
export type RateName = 'input' | 'cachedInput' | 'cacheWrite' | 'cacheWrite1h' | 'output' | 'reasoning';

/** A price's six per-million rates as decimals, each null rate replaced by its fallback. */
export type EffectiveRates = Record<RateName, Decimal>;

/** A price's six per-million rates, with the fallbacks its null rates stand for. */
export function effectiveRates(price: PriceRates): EffectiveRates {
  const input = price.inputPerMillion;
  const output = price.outputPerMillion;
  const cacheWrite = price.cacheWritePerMillion ?? input;
  return {
    input,
    cachedInput: price.cachedInputPerMillion ?? input,
    cacheWrite,
    cacheWrite1h: price.cacheWrite1hPerMillion ?? cacheWrite,
    output,
    reasoning: price.reasoningPerMillion ?? output,
  };
}

/** The rates of a price version, prepared for `costAt`. */
export function costRates(price: PriceVersion): CostRates {
  const long = price.longContext;
  const plain = (rates: PriceRates): CostRates => ({ ...prepared(rates), longContext: null, timeOfDay: [] });
  return {
    ...prepared(price),
    longContext: long ? { above: long.aboveInputTokens, rates: plain(long) } : null,
    timeOfDay: price.timeOfDay.map((w) => ({ startSecond: w.startSecond, endSecond: w.endSecond, rates: plain(w) })),
  };
}

function prepared(price: PriceRates): Omit<CostRates, 'longContext' | 'timeOfDay'> {
  const { input, cachedInput, cacheWrite, cacheWrite1h, output, reasoning } = effectiveRates(price);
  const scale = Math.max(
    input.scale,
    cachedInput.scale,
    cacheWrite.scale,
    cacheWrite1h.scale,
    output.scale,
    reasoning.scale,
  );
  return {
    scale,
    input: input.unitsAt(scale),
    cachedInput: cachedInput.unitsAt(scale),
    cacheWrite: cacheWrite.unitsAt(scale),
    cacheWrite1h: cacheWrite1h.unitsAt(scale),
    output: output.unitsAt(scale),
    reasoning: reasoning.unitsAt(scale),
  };
}

/**
 * Exact cost in USD of one call made at `at`, at prepared rates. A call inside one of the
 * version's daily windows is priced whole at the window's rates, else one above the
 * long-context threshold whole at the tier's. Each token is priced once: cache reads and
 * writes are carved out of the input (one-hour writes out of the writes), reasoning out of
 * the output.
 */
export function costAt(tokens: TokenUsage, prices: CostRates, at: Date): Decimal {
  const long = prices.longContext;
  const rates =
    windowAt(prices.timeOfDay, at)?.rates ?? (long !== null && tokens.inputTokens > long.above ? long.rates : prices);
  const uncachedInput = tokens.inputTokens - tokens.cachedInputTokens - tokens.cacheWriteTokens;
  const visibleOutput = tokens.outputTokens - tokens.reasoningTokens;
  const perMillion =
    part(uncachedInput, rates.input) +
    part(tokens.cachedInputTokens, rates.cachedInput) +
    part(tokens.cacheWriteTokens - tokens.cacheWrite1hTokens, rates.cacheWrite) +
    part(tokens.cacheWrite1hTokens, rates.cacheWrite1h) +
    part(visibleOutput, rates.output) +
    part(tokens.reasoningTokens, rates.reasoning);
  // per million tokens to per token: six more fraction digits
  return Decimal.fromUnits(perMillion, rates.scale + 6);
}

/** Exact cost in USD of one call made at `at`, at one price version. */
export function computeCost(tokens: TokenUsage, price: PriceVersion, at: Date): Decimal {
  return costAt(tokens, costRates(price), at);
}

function part(count: number, rate: bigint): bigint {
  return count > 0 ? BigInt(count) * rate : 0n;
}
