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

/**
 * A daily window (UTC) with rates of its own, e.g. DeepSeek's peak hours: a call made inside
 * it is priced whole at these rates (no long-context tier). Seconds after UTC midnight; a
 * window whose end is before its start runs past midnight.
 */
export interface TimeOfDayPrice extends PriceRates {
  startSecond: number;
  endSecond: number;
}

/** One price version of a model, in USD per million tokens, in force from `effectiveFrom` on. */
export interface PriceVersion extends PriceRates {
  effectiveFrom: Date;
  /** null: every call is priced at the version's own rates, however long its input */
  longContext: LongContextPrice | null;
  /** daily windows with rates of their own; where two overlap the later one applies */
  timeOfDay: TimeOfDayPrice[];
}

export const SECONDS_PER_DAY = 86_400;

/** Whether a second of the UTC day is inside a window (the end excluded; a window may wrap midnight). */
export function inWindow(window: { startSecond: number; endSecond: number }, second: number): boolean {
  const { startSecond: start, endSecond: end } = window;
  return end > start ? second >= start && second < end : second >= start || second < end;
}

/** The second of the UTC day an instant falls in (milliseconds dropped). */
export function secondOfDay(at: Date): number {
  return Math.floor((((at.getTime() % 86_400_000) + 86_400_000) % 86_400_000) / 1000);
}

/** The window (the last of those that hold it) a second of the UTC day falls in, if any. */
function windowAtSecond<W extends { startSecond: number; endSecond: number }>(
  windows: readonly W[],
  second: number,
): W | null {
  for (let i = windows.length - 1; i >= 0; i -= 1) if (inWindow(windows[i]!, second)) return windows[i]!;
  return null;
}

/** The window (the last of those that hold it) a call at `at` falls in, if any. */
export function windowAt<W extends { startSecond: number; endSecond: number }>(
  windows: readonly W[],
  at: Date,
): W | null {
  return windows.length === 0 ? null : windowAtSecond(windows, secondOfDay(at));
}

/** A part of the UTC day [startSecond, endSecond) in which one set of a version's rates applies. */
export interface DayPart {
  startSecond: number;
  endSecond: number;
  /** the window whose rates apply, or null for the version's own (long-context tier included) */
  window: TimeOfDayPrice | null;
}

/**
 * The UTC day cut into consecutive parts by a version's windows, each with the rates that
 * apply in it (as windowAt picks them): one part for a version without windows.
 */
export function dayParts(price: PriceVersion): DayPart[] {
  const cuts = [...new Set([0, SECONDS_PER_DAY, ...price.timeOfDay.flatMap((w) => [w.startSecond, w.endSecond])])].sort(
    (a, b) => a - b,
  );
  const parts: DayPart[] = [];
  for (let i = 0; i + 1 < cuts.length; i += 1) {
    const [start, end] = [cuts[i]!, cuts[i + 1]!];
    const window = windowAtSecond(price.timeOfDay, start);
    const last = parts.at(-1);
    if (last && last.window === window) last.endSecond = end;
    else parts.push({ startSecond: start, endSecond: end, window });
  }
  return parts;
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
