import { createTestApp, type TestApp } from '../support/test-app';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeCost, effectiveRates } from '../../src/domain/cost';
import { Decimal } from '../../src/domain/decimal';
import type { PriceVersion } from '../../src/domain/model-price';
import { COST_OF_RECORD, STRETCH_COLUMNS, stretchRecord } from '../../src/infrastructure/persistence/pg-repricing';

/** Re-pricing prices in SQL what ingest prices in TypeScript: the two must agree to the last digit. */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

const rate = fc
  .tuple(fc.integer({ min: 0, max: 9_999_999 }), fc.integer({ min: 0, max: 12 }))
  .map(([units, scale]) => Decimal.fromUnits(BigInt(units), scale));

const rates = fc.record({
  inputPerMillion: rate,
  outputPerMillion: rate,
  cachedInputPerMillion: fc.option(rate),
  cacheWritePerMillion: fc.option(rate),
  cacheWrite1hPerMillion: fc.option(rate),
  reasoningPerMillion: fc.option(rate),
});

describe('COST_OF_RECORD', () => {
  it('equals costAt for any tokens and any price version, with or without a long-context tier', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          input: fc.integer({ min: 0, max: 2_000_000_000 }),
          cached: fc.integer({ min: 0, max: 1_000_000_000 }),
          write: fc.integer({ min: 0, max: 1_000_000_000 }),
          write1h: fc.integer({ min: 0, max: 1_000_000_000 }),
          output: fc.integer({ min: 0, max: 2_000_000_000 }),
          reasoning: fc.integer({ min: 0, max: 2_000_000_000 }),
        }),
        rates,
        // thresholds around the call's input, so that both sides (and the edge) are met
        fc.option(fc.tuple(rates, fc.integer({ min: -2, max: 2 }), fc.boolean())),
        async (tokens, base, tier) => {
          const usage = {
            inputTokens: tokens.input + tokens.cached + tokens.write + tokens.write1h,
            cachedInputTokens: tokens.cached,
            cacheWriteTokens: tokens.write + tokens.write1h,
            cacheWrite1hTokens: tokens.write1h,
            outputTokens: tokens.output + tokens.reasoning,
            reasoningTokens: tokens.reasoning,
          };
          const [tierRates, offset, nearInput] = tier ?? [];
          const above = Math.max(1, (nearInput ? usage.inputTokens : 200_000) + (offset ?? 0));
          const price: PriceVersion = {
            effectiveFrom: new Date(0),
            ...base,
            longContext: tierRates ? { aboveInputTokens: above, ...tierRates } : null,
          };
          // the stretch as re-pricing sends it: null rates already replaced by what they stand for
          const stretch = stretchRecord({
            provider: 'p',
            model: 'm',
            from: null,
            to: null,
            rates: effectiveRates(price),
            longContext: price.longContext
              ? { above: price.longContext.aboveInputTokens, rates: effectiveRates(price.longContext) }
              : null,
          });
          const [row] = (await t.db.query(
            `SELECT (${COST_OF_RECORD})::text AS cost
             FROM (SELECT $1::bigint AS input_tokens, $2::bigint AS cached_input_tokens, $3::bigint AS cache_write_tokens,
                          $4::bigint AS cache_write_1h_tokens, $5::bigint AS output_tokens,
                          $6::bigint AS reasoning_tokens) r,
                  json_to_record($7::json) AS s(${STRETCH_COLUMNS})`,
            [
              usage.inputTokens,
              usage.cachedInputTokens,
              usage.cacheWriteTokens,
              usage.cacheWrite1hTokens,
              usage.outputTokens,
              usage.reasoningTokens,
              JSON.stringify(stretch),
            ],
          )) as Array<{ cost: string }>;
          expect(row!.cost).toBe(computeCost(usage, price).toString());
        },
      ),
      { numRuns: 300 },
    );
  });
});
