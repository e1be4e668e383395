import { calcPrice, waitForUpdate, type Provider } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import { computeCost } from '../../src/domain/cost';
import { Decimal } from '../../src/domain/decimal';
import { priceInForce, type PriceRates, type PriceVersion } from '../../src/domain/model-price';
import {
  loadGenaiPricesCatalog,
  type SeedModel,
  type SeedRates,
} from '../../src/infrastructure/catalog/genai-prices-catalog';

/**
 * The built-in catalog, priced by our computeCost, against the package's own calcPrice for
 * every bundled model it resolves to itself, several usages (cache reads, five-minute and
 * one-hour writes, reasoning, inputs on both sides of long-context thresholds) and instants
 * (across price versions and daily windows). Left out: models with a per-request fee
 * (`requests_kcount`, Perplexity's Sonar models), which our prices cannot express yet.
 */
const providers = (await waitForUpdate()) as Provider[];
const catalog = loadGenaiPricesCatalog(providers);
const PER_REQUEST = new Set(
  providers.flatMap((p) =>
    p.models
      .filter((m) => JSON.stringify(m.prices).includes('"requests_kcount"'))
      .map((m) => `${p.id.toLowerCase()}/${m.id.toLowerCase()}`),
  ),
);

const decimal = (s: string | null) => (s === null ? null : Decimal.parse(s));
const rates = (r: SeedRates): PriceRates => ({
  inputPerMillion: Decimal.parse(r.inputPerMillion),
  outputPerMillion: Decimal.parse(r.outputPerMillion),
  cachedInputPerMillion: decimal(r.cachedInputPerMillion),
  cacheWritePerMillion: decimal(r.cacheWritePerMillion),
  cacheWrite1hPerMillion: decimal(r.cacheWrite1hPerMillion),
  reasoningPerMillion: decimal(r.reasoningPerMillion),
});
const versionsOf = (m: SeedModel): PriceVersion[] =>
  m.prices.map((p) => ({
    effectiveFrom: new Date(p.effectiveFrom),
    ...rates(p),
    longContext: p.longContext ? { aboveInputTokens: p.longContext.aboveInputTokens, ...rates(p.longContext) } : null,
    timeOfDay: p.timeOfDay.map((w) => ({ startSecond: w.startSecond, endSecond: w.endSecond, ...rates(w) })),
  }));

const USAGES = [
  {
    inputTokens: 1000,
    outputTokens: 500,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    cacheWrite1hTokens: 0,
    reasoningTokens: 0,
  },
  {
    inputTokens: 100_000,
    outputTokens: 20_000,
    cachedInputTokens: 30_000,
    cacheWriteTokens: 20_000,
    cacheWrite1hTokens: 5_000,
    reasoningTokens: 5_000,
  },
  {
    inputTokens: 300_000,
    outputTokens: 20_000,
    cachedInputTokens: 100_000,
    cacheWriteTokens: 50_000,
    cacheWrite1hTokens: 20_000,
    reasoningTokens: 5_000,
  },
];
const TIMES = [
  '2024-06-01T12:00:00Z',
  '2026-01-01T00:45:00Z',
  '2026-10-01T02:00:00Z',
  '2026-10-01T20:00:00Z',
  '2027-02-01T08:00:00Z',
].map((t) => new Date(t));

function theirs(m: SeedModel, u: (typeof USAGES)[number], at: Date): number | null {
  const usage = {
    input_tokens: u.inputTokens,
    output_tokens: u.outputTokens,
    cache_read_tokens: u.cachedInputTokens,
    cache_write_tokens: u.cacheWriteTokens,
    cache_write_1h_tokens: u.cacheWrite1hTokens,
    output_reasoning_tokens: u.reasoningTokens,
  };
  const r = calcPrice(usage, m.model, { providerId: m.provider, timestamp: at });
  if (!r || r.model.id.toLowerCase() !== m.model || r.provider.id.toLowerCase() !== m.provider) return null;
  return r.total_price;
}

describe('the built-in catalog priced as @pydantic/genai-prices prices it', () => {
  it('agrees with calcPrice for every bundled model, usage and time', () => {
    const disagreements: string[] = [];
    let compared = 0;
    for (const m of catalog) {
      if (PER_REQUEST.has(`${m.provider}/${m.model}`)) continue;
      const versions = versionsOf(m);
      for (const at of TIMES)
        for (const u of USAGES) {
          const expected = theirs(m, u, at);
          if (expected === null) continue;
          compared += 1;
          const ours = Number(computeCost(u, priceInForce([versions], at)!, at).toString());
          if (Math.abs(ours - expected) > 1e-9 * Math.max(1, expected))
            disagreements.push(
              `${m.provider}/${m.model} at ${at.toISOString()} input ${u.inputTokens}: ours ${ours}, package ${expected}`,
            );
        }
    }
    expect(disagreements).toEqual([]);
    expect(compared).toBeGreaterThan(10_000);
    expect(PER_REQUEST.size).toBeLessThan(10);
  });
});
