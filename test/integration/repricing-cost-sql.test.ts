import { createTestApp, type TestApp } from '../support/test-app';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeCost, effectiveRates } from '../../src/domain/cost';
import { Decimal } from '../../src/domain/decimal';
import { COST_OF_RECORD } from '../../src/infrastructure/persistence/pg-repricing';

/** Re-pricing prices in SQL what ingest prices in TypeScript: the two must agree to the last digit. */
let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => t.close());

const rate = fc
  .tuple(fc.integer({ min: 0, max: 9_999_999 }), fc.integer({ min: 0, max: 12 }))
  .map(([units, scale]) => Decimal.fromUnits(BigInt(units), scale));

describe('COST_OF_RECORD', () => {
  it('equals costAt for any tokens and any price version', async () => {
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
        fc.tuple(rate, rate, fc.option(rate), fc.option(rate), fc.option(rate), fc.option(rate)),
        async (tokens, [input, output, cachedInput, cacheWrite, cacheWrite1h, reasoning]) => {
          const usage = {
            inputTokens: tokens.input + tokens.cached + tokens.write + tokens.write1h,
            cachedInputTokens: tokens.cached,
            cacheWriteTokens: tokens.write + tokens.write1h,
            cacheWrite1hTokens: tokens.write1h,
            outputTokens: tokens.output + tokens.reasoning,
            reasoningTokens: tokens.reasoning,
          };
          const price = {
            effectiveFrom: new Date(0),
            inputPerMillion: input,
            outputPerMillion: output,
            cachedInputPerMillion: cachedInput,
            cacheWritePerMillion: cacheWrite,
            cacheWrite1hPerMillion: cacheWrite1h,
            reasoningPerMillion: reasoning,
          };
          // the rates as re-pricing sends them: null ones already replaced by what they stand for
          const rates = effectiveRates(price);
          const [row] = (await t.db.query(
            `SELECT (${COST_OF_RECORD})::text AS cost
             FROM (SELECT $1::bigint AS input_tokens, $2::bigint AS cached_input_tokens, $3::bigint AS cache_write_tokens,
                          $4::bigint AS cache_write_1h_tokens, $5::bigint AS output_tokens,
                          $6::bigint AS reasoning_tokens) r,
                  (SELECT $7::numeric AS input, $8::numeric AS cached_input, $9::numeric AS cache_write,
                          $10::numeric AS cache_write_1h, $11::numeric AS output, $12::numeric AS reasoning) s`,
            [
              usage.inputTokens,
              usage.cachedInputTokens,
              usage.cacheWriteTokens,
              usage.cacheWrite1hTokens,
              usage.outputTokens,
              usage.reasoningTokens,
              ...[
                rates.input,
                rates.cachedInput,
                rates.cacheWrite,
                rates.cacheWrite1h,
                rates.output,
                rates.reasoning,
              ].map((r) => r.toString()),
            ],
          )) as Array<{ cost: string }>;
          expect(row!.cost).toBe(computeCost(usage, price).toString());
        },
      ),
      { numRuns: 300 },
    );
  });
});
