import { describe, expect, it } from 'vitest';
import { computeCost } from '../../src/domain/cost';
import { Decimal } from '../../src/domain/decimal';
import { dayParts, priceInForce, type PriceVersion } from '../../src/domain/model-price';
import type { TokenUsage } from '../../src/domain/token-usage';

const d = (text: string) => Decimal.parse(text);
const NOON = new Date('2026-01-01T12:00:00Z');
/** A call's cost at `price`, made at noon UTC unless said otherwise. */
const priced = (usage: TokenUsage, price: PriceVersion, at = NOON) => computeCost(usage, price, at);

function price(p: {
  from?: string;
  input: string;
  output: string;
  cached?: string;
  cacheWrite?: string;
  cacheWrite1h?: string;
  reasoning?: string;
}): PriceVersion {
  return {
    effectiveFrom: new Date(p.from ?? '2020-01-01T00:00:00Z'),
    inputPerMillion: d(p.input),
    outputPerMillion: d(p.output),
    cachedInputPerMillion: p.cached === undefined ? null : d(p.cached),
    cacheWritePerMillion: p.cacheWrite === undefined ? null : d(p.cacheWrite),
    cacheWrite1hPerMillion: p.cacheWrite1h === undefined ? null : d(p.cacheWrite1h),
    reasoningPerMillion: p.reasoning === undefined ? null : d(p.reasoning),
    longContext: null,
    timeOfDay: [],
  };
}

function tokens(t: Partial<TokenUsage> & Pick<TokenUsage, 'inputTokens' | 'outputTokens'>): TokenUsage {
  return { cachedInputTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0, reasoningTokens: 0, ...t };
}

// the example model: acmeai/tally-1
const TALLY = price({ input: '2.00', output: '8.00', cached: '0.50', cacheWrite: '2.50' });

describe('computeCost', () => {
  it('prices plain input and output per million tokens', () => {
    // 1000 × 2.00 + 500 × 8.00 = 6000 per million = 0.006
    expect(priced(tokens({ inputTokens: 1000, outputTokens: 500 }), TALLY).toString()).toBe('0.006');
  });

  it('prices cached input at the cached price and cache writes at the cache-write price, each token once', () => {
    const cost = priced(
      tokens({ inputTokens: 1_000_000, cachedInputTokens: 200_000, cacheWriteTokens: 100_000, outputTokens: 500_000 }),
      TALLY,
    );
    // uncached 700,000 × 2.00 = 1.40; cached 200,000 × 0.50 = 0.10;
    // cache write 100,000 × 2.50 = 0.25; output 500,000 × 8.00 = 4.00  → 5.75
    expect(cost.toString()).toBe('5.75');
  });

  it('prices one-hour cache writes at their own rate and the rest of the writes at the five-minute rate', () => {
    // claude-sonnet-4's rates: input 3, cache read 0.30, 5-minute write 3.75, 1-hour write 6, output 15
    const sonnet = price({ input: '3', output: '15', cached: '0.30', cacheWrite: '3.75', cacheWrite1h: '6' });
    const cost = priced(
      tokens({
        inputTokens: 1_000_000,
        cachedInputTokens: 100_000,
        cacheWriteTokens: 300_000,
        cacheWrite1hTokens: 200_000,
        outputTokens: 10_000,
      }),
      sonnet,
    );
    // uncached 600,000 × 3 = 1.80; reads 100,000 × 0.30 = 0.03; 5-minute writes 100,000 × 3.75 = 0.375;
    // 1-hour writes 200,000 × 6 = 1.20; output 10,000 × 15 = 0.15 → 3.555
    expect(cost.toString()).toBe('3.555');
  });

  it('prices one-hour writes at the cache-write rate when the model has no one-hour rate', () => {
    const usage = tokens({ inputTokens: 10_000, cacheWriteTokens: 4_000, cacheWrite1hTokens: 4_000, outputTokens: 0 });
    // all 4,000 writes at 2.50 and 6,000 uncached at 2.00 → 22,000 per million
    expect(priced(usage, TALLY).toString()).toBe('0.022');
  });

  it('prices a call whose input is above the long-context threshold whole at the tier, one at it at the base', () => {
    // gemini-2.5-pro: 1.25 / 10 (cache read 0.125) up to 200k input tokens, 2.5 / 15 (0.25) above
    const pro: PriceVersion = {
      ...price({ input: '1.25', output: '10', cached: '0.125' }),
      longContext: {
        aboveInputTokens: 200_000,
        inputPerMillion: d('2.5'),
        outputPerMillion: d('15'),
        cachedInputPerMillion: d('0.25'),
        cacheWritePerMillion: null,
        cacheWrite1hPerMillion: null,
        reasoningPerMillion: null,
      },
    };
    // 200,000 input (50,000 read from cache), 1,000 output: 150,000 × 1.25 + 50,000 × 0.125 + 1,000 × 10
    const atThreshold = tokens({ inputTokens: 200_000, cachedInputTokens: 50_000, outputTokens: 1_000 });
    expect(priced(atThreshold, pro).toString()).toBe('0.20375');
    // one more input token: every token at the tier, 150,001 × 2.5 + 50,000 × 0.25 + 1,000 × 15
    const above = { ...atThreshold, inputTokens: 200_001 };
    expect(priced(above, pro).toString()).toBe('0.4025025');
    // a rate the tier leaves out falls back within it: reasoning at the tier's output rate
    const reasoning = tokens({ inputTokens: 300_000, outputTokens: 1_000, reasoningTokens: 400 });
    expect(priced(reasoning, pro).toString()).toBe('0.765'); // 300,000 × 2.5 + 1,000 × 15
  });

  it('prices a call inside a daily window at the window’s rates, to the second, also past midnight', () => {
    // deepseek-chat: 0.135 / 0.55 off-peak, 0.27 / 1.1 from 00:30 to 16:30 UTC
    const deepseek: PriceVersion = {
      ...price({ input: '0.135', output: '0.55' }),
      timeOfDay: [{ ...price({ input: '0.27', output: '1.1' }), startSecond: 1_800, endSecond: 59_400 }],
    };
    const call = tokens({ inputTokens: 1_000_000, outputTokens: 1_000_000 });
    const at = (time: string) => new Date(`2026-11-03T${time}Z`);
    expect(priced(call, deepseek, at('00:29:59.999')).toString()).toBe('0.685');
    expect(priced(call, deepseek, at('00:30:00')).toString()).toBe('1.37');
    expect(priced(call, deepseek, at('16:29:59.999')).toString()).toBe('1.37');
    expect(priced(call, deepseek, at('16:30:00')).toString()).toBe('0.685');
    // a window from 22:00 to 02:00 runs past midnight; where it overlaps the first, the later one applies
    const night: PriceVersion = {
      ...deepseek,
      timeOfDay: [
        ...deepseek.timeOfDay,
        { ...price({ input: '1', output: '1' }), startSecond: 79_200, endSecond: 7_200 },
      ],
    };
    expect(priced(call, night, at('23:00:00')).toString()).toBe('2');
    expect(priced(call, night, at('01:00:00')).toString()).toBe('2');
    expect(priced(call, night, at('02:00:00')).toString()).toBe('1.37');
  });

  it('uses no long-context tier inside a window', () => {
    const both: PriceVersion = {
      ...price({ input: '1', output: '1' }),
      longContext: { ...price({ input: '5', output: '5' }), aboveInputTokens: 10 },
      timeOfDay: [{ ...price({ input: '2', output: '2' }), startSecond: 0, endSecond: 3_600 }],
    };
    const long = tokens({ inputTokens: 1_000_000, outputTokens: 0 });
    expect(priced(long, both, new Date('2026-11-03T00:10:00Z')).toString()).toBe('2');
    expect(priced(long, both, new Date('2026-11-03T01:10:00Z')).toString()).toBe('5');
  });

  it('prices cache reads and writes at the input price when the model has no cache prices', () => {
    const plain = price({ input: '3', output: '15' });
    const cost = priced(
      tokens({ inputTokens: 10_000, cachedInputTokens: 4_000, cacheWriteTokens: 1_000, outputTokens: 0 }),
      plain,
    );
    expect(cost.toString()).toBe('0.03'); // 10,000 × 3
  });

  it('prices reasoning tokens at the reasoning price when one is set', () => {
    const withReasoning = price({ input: '1.10', output: '4.40', reasoning: '12' });
    const cost = priced(tokens({ inputTokens: 2_000, outputTokens: 1_000, reasoningTokens: 400 }), withReasoning);
    // input 2000 × 1.10 = 2200; visible output 600 × 4.40 = 2640; reasoning 400 × 12 = 4800 → 9640
    expect(cost.toString()).toBe('0.00964');
  });

  it('prices reasoning tokens at the output price when no reasoning price is set (never twice)', () => {
    const cost = priced(tokens({ inputTokens: 2_000, outputTokens: 1_000, reasoningTokens: 400 }), TALLY);
    // 2000 × 2 + 1000 × 8 = 12000: the 400 reasoning tokens are inside the 1000 output tokens
    expect(cost.toString()).toBe('0.012');
    expect(cost.compare(priced(tokens({ inputTokens: 2_000, outputTokens: 1_000 }), TALLY))).toBe(0);
  });

  it('prices an embedding call by its input alone', () => {
    const embedding = price({ input: '0.02', output: '0' });
    expect(priced(tokens({ inputTokens: 12_345, outputTokens: 0 }), embedding).toString()).toBe('0.0002469');
  });

  it('is zero for zero tokens, and exact for one token at one dollar per million', () => {
    expect(priced(tokens({ inputTokens: 0, outputTokens: 0 }), TALLY).toString()).toBe('0');
    const micro = price({ input: '1', output: '0' });
    expect(priced(tokens({ inputTokens: 1, outputTokens: 0 }), micro).toString()).toBe('0.000001');
  });

  it('keeps every digit of fractional prices (no float rounding)', () => {
    const odd = price({ input: '0.075', output: '0.3', cached: '0.0375' });
    const cost = priced(tokens({ inputTokens: 333_333, cachedInputTokens: 111_111, outputTokens: 77_777 }), odd);
    // 222,222 × 0.075 = 16666.65; 111,111 × 0.0375 = 4166.6625; 77,777 × 0.3 = 23333.1 → 44166.4125
    expect(cost.toString()).toBe('0.0441664125');
  });
});

describe('priceInForce', () => {
  const v1 = price({ from: '2024-01-01T00:00:00Z', input: '2', output: '8' });
  const v2 = price({ from: '2025-06-01T00:00:00Z', input: '1', output: '4' });

  it('picks the latest version that started at or before the instant', () => {
    expect(priceInForce([[v1, v2]], new Date('2024-07-01T00:00:00Z'))).toBe(v1);
    expect(priceInForce([[v1, v2]], new Date('2026-01-01T00:00:00Z'))).toBe(v2);
    // order of the versions does not matter
    expect(priceInForce([[v2, v1]], new Date('2026-01-01T00:00:00Z'))).toBe(v2);
  });

  it('uses the new version from exactly its effectiveFrom on, and the old one a millisecond before', () => {
    expect(priceInForce([[v1, v2]], new Date('2025-06-01T00:00:00.000Z'))).toBe(v2);
    expect(priceInForce([[v1, v2]], new Date('2025-05-31T23:59:59.999Z'))).toBe(v1);
    expect(priceInForce([[v1, v2]], new Date('2024-01-01T00:00:00.000Z'))).toBe(v1);
  });

  it('has no price before the first version', () => {
    expect(priceInForce([[v1, v2]], new Date('2023-12-31T23:59:59.999Z'))).toBeNull();
    expect(priceInForce([], new Date('2025-01-01T00:00:00Z'))).toBeNull();
  });

  it('takes the first schedule that has a version in force (workspace override before built-in)', () => {
    const builtIn = [price({ from: '1970-01-01T00:00:00Z', input: '2.5', output: '10' })];
    const override = [price({ from: '2025-01-01T00:00:00Z', input: '3', output: '12' })];
    expect(priceInForce([override, builtIn], new Date('2025-02-01T00:00:00Z'))).toBe(override[0]);
    // before the override started, the built-in catalog still prices the call
    expect(priceInForce([override, builtIn], new Date('2024-12-31T00:00:00Z'))).toBe(builtIn[0]);
  });
});

describe('dayParts', () => {
  const w = (startSecond: number, endSecond: number) => ({
    ...price({ input: '1', output: '1' }),
    startSecond,
    endSecond,
  });

  it('cuts the UTC day where windows open and close, each part with the window that applies in it', () => {
    const version: PriceVersion = {
      ...price({ input: '1', output: '1' }),
      timeOfDay: [w(1_800, 59_400), w(79_200, 7_200)],
    };
    const [peak, night] = version.timeOfDay;
    expect(dayParts(version)).toEqual([
      { startSecond: 0, endSecond: 7_200, window: night },
      { startSecond: 7_200, endSecond: 59_400, window: peak },
      { startSecond: 59_400, endSecond: 79_200, window: null },
      { startSecond: 79_200, endSecond: 86_400, window: night },
    ]);
  });

  it('is the whole day for a version without windows', () => {
    expect(dayParts(price({ input: '1', output: '1' }))).toEqual([{ startSecond: 0, endSecond: 86_400, window: null }]);
  });
});
