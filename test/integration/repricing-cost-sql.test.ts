import { createTestApp, type TestApp } from '../support/test-app';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeCost } from '../../src/domain/cost';
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
          output: fc.integer({ min: 0, max: 2_000_000_000 }),
          reasoning: fc.integer({ min: 0, max: 2_000_000_000 }),
        }),
        fc.tuple(rate, rate, fc.option(rate), fc.option(rate), fc.option(rate)),
        async (tokens, [input, output, cachedInput, cacheWrite, reasoning]) => {
          const usage = {
            inputTokens: tokens.input + tokens.cached + tokens.write,
            cachedInputTokens: tokens.cached,
            cacheWriteTokens: tokens.write,
            outputTokens: tokens.output + tokens.reasoning,
            reasoningTokens: tokens.reasoning,
          };
          const price = {
            effectiveFrom: new Date(0),
            inputPerMillion: input,
            outputPerMillion: output,
            cachedInputPerMillion: cachedInput,
            cacheWritePerMillion: cacheWrite,
            reasoningPerMillion: reasoning,
          };
          const [row] = (await t.db.query(
            `SELECT (${COST_OF_RECORD})::text AS cost
             FROM (SELECT $1::bigint AS input_tokens, $2::bigint AS cached_input_tokens, $3::bigint AS cache_write_tokens,
                          $4::bigint AS output_tokens, $5::bigint AS reasoning_tokens) r,
                  (SELECT $6::numeric AS input, $7::numeric AS cached_input, $8::numeric AS cache_write,
                          $9::numeric AS output, $10::numeric AS reasoning) s`,
            [
              usage.inputTokens,
              usage.cachedInputTokens,
              usage.cacheWriteTokens,
              usage.outputTokens,
              usage.reasoningTokens,
              input.toString(),
              (cachedInput ?? input).toString(),
              (cacheWrite ?? input).toString(),
              output.toString(),
              (reasoning ?? output).toString(),
            ],
          )) as Array<{ cost: string }>;
          expect(row!.cost).toBe(computeCost(usage, price).toString());
        },
      ),
      { numRuns: 300 },
    );
  });
});
